"""Twilio, behind plain values: place calls and send SMS, build TwiML, check webhook signatures.

No Django and no models in here; callers pass the credentials of the account to act for.
"""

from integrations.twilio.errors import NumberNotOnAccount, TelephonyError, TelephonyUnavailable
from integrations.twilio.gateway import (
    CallRequest,
    FetchedCall,
    IncomingNumber,
    NumberWebhooks,
    PlacedCall,
    SentMessage,
    TelephonyGateway,
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
    "PlacedCall",
    "SentMessage",
    "TelephonyError",
    "TelephonyGateway",
    "TelephonyUnavailable",
    "TwilioCredentials",
    "TwilioGateway",
    "credentials_for",
    "sign",
    "signature_is_valid",
]
