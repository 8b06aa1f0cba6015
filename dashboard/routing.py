"""WebSocket routes of the dashboard (salesagents.asgi): the browser's test phone.

Signed in by the session cookie (Channels' AuthMiddlewareStack) and only from our own pages
(the Origin must be one of ALLOWED_HOSTS), since a browser sends the cookie to any page's socket.
"""

from channels.auth import AuthMiddlewareStack
from channels.security.websocket import AllowedHostsOriginValidator
from django.urls import path

from agents.models import AIAgent
from dashboard.consumers import TestPhoneConsumer


def test_phone_path(agent: AIAgent) -> str:
    """Where the simulator page opens its socket (Channels routes have no ``reverse``)."""
    return f"/dashboard/phone/{agent.public_id}/ws/"


websocket_urlpatterns = [
    path(
        "dashboard/phone/<uuid:agent_id>/ws/",
        AllowedHostsOriginValidator(AuthMiddlewareStack(TestPhoneConsumer.as_asgi())),
        name="test-phone",
    )
]
