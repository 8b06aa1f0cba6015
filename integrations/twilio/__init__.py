"""Twilio, behind plain values: place calls and send SMS, build TwiML, check webhook signatures.

No Django and no models in here; callers pass the credentials of the account to act for.
"""

from integrations.twilio.errors import NumberNotOnAccount, TelephonyError, TelephonyUnavailable
from integrations.twilio.gateway import (
    CallRequest,
    FetchedCall,
    IncomingNumber,
    NumberWebhooks,
    OwnedNumber,
    PlacedCall,
    SentMessage,
    TelephonyGateway,
    TwilioAccount,
    TwilioCredentials,
    TwilioGateway,
    credentials_for,
)
from integrations.twilio.signature import sign, signature_is_valid

__all__ = [
    "CallRequest",
    "FetchedCall",
    "IncomingNumber",
    "NumberNotOnAccount",
    "NumberWebhooks",
    "OwnedNumber",
    "PlacedCall",
    "SentMessage",
    "TelephonyError",
    "TelephonyGateway",
    "TelephonyUnavailable",
    "TwilioAccount",
    "TwilioCredentials",
    "TwilioGateway",
    "credentials_for",
    "sign",
    "signature_is_valid",
]
