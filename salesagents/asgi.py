"""The one server process: HTTP to Django, the ConversationRelay WebSocket, the dashboard's test phone.

Served by uvicorn (``make run``, the Dockerfile, docker-compose). Django's ASGI handler is
built first so the app registry is ready before the consumer's models are imported. No
channel layer: a call's socket talks only to its own consumer, and everything durable is in
the database after each turn, so any process can serve a reconnect.
"""

import gc
import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "salesagents.settings")
django_http = get_asgi_application()

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402

from calls.relay.routing import websocket_urlpatterns as relay_sockets  # noqa: E402
from dashboard.routing import websocket_urlpatterns as dashboard_sockets  # noqa: E402

application = ProtocolTypeRouter({"http": django_http, "websocket": URLRouter(relay_sockets + dashboard_sockets)})

# A live call hears every collector pause. The objects loaded at start-up (Django, the URLconf,
# the SDKs) are moved out of the collector's sight, and young collections run less often, so
# the full ones that walk every object are rare: measured at 100 relay calls, the p99 overhead
# went from 71-120 ms to 43-55 ms (bench/relay_latency.py). The heap grows a little for it.
gc.freeze()
gc.set_threshold(50_000, 20, 100)
