"""WebSocket routes (salesagents.asgi): the ConversationRelay socket names the agent, like the webhooks."""

from django.urls import path

from calls.relay.consumer import RelayConsumer

websocket_urlpatterns = [path("relay/<uuid:agent_id>/", RelayConsumer.as_asgi(), name="relay")]
