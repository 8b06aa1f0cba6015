"""A local stand-in for api.twilio.com that the real ``twilio`` client talks to over a socket."""

from __future__ import annotations

import base64
import json
import threading
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs

from twilio.http.http_client import TwilioHttpClient


@dataclass
class FakeTwilioServer:
    received: list[dict] = field(default_factory=list)
    replies: list[tuple[int, dict]] = field(default_factory=list)
    port: int = 0
    # A real account answers every placed call with a new SID; off, every call is CAfff... (fixed for asserts).
    unique_sids: bool = False

    def start(self) -> FakeTwilioServer:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode()
                user = base64.b64decode((self.headers.get("Authorization") or " ").split(" ", 1)[1]).decode()
                fake.received.append(
                    {"path": self.path, "account": user.split(":")[0], "form": parse_qs(body, keep_blank_values=True)}
                )
                sid = "CA" + (uuid.uuid4().hex if fake.unique_sids else "f" * 32)
                status, payload = fake.replies.pop(0) if fake.replies else (201, _call_resource(sid))
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self._server.server_address[1]
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def calls_updated(self, call_sid: str) -> list[dict]:
        """The requests that changed a live call (``POST .../Calls/<sid>.json``: new TwiML, hang-up)."""
        return [r for r in self.received if r["path"].endswith(f"/Calls/{call_sid}.json")]

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def http_client(self) -> TwilioHttpClient:
        port = self.port

        class Redirecting(TwilioHttpClient):
            def request(self, method, url, *args, **kwargs):
                return super().request(
                    method, url.replace("https://api.twilio.com", f"http://127.0.0.1:{port}"), *args, **kwargs
                )

        return Redirecting(timeout=5)


def _call_resource(sid: str) -> dict:
    return {
        "sid": sid,
        "status": "queued",
        "to": "+12125550123",
        "from": "+14155550100",
        "account_sid": "AC" + "0" * 32,
    }
