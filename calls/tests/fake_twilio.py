"""A local stand-in for api.twilio.com that the real ``twilio`` client talks to over a socket."""

from __future__ import annotations

import base64
import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs

from twilio.http.http_client import TwilioHttpClient


@dataclass
class FakeTwilioServer:
    received: list[dict] = field(default_factory=list)
    replies: list[tuple[int, dict]] = field(default_factory=list)
    # What a GET of a call resource answers, by call SID (a call not listed is Twilio's 404).
    calls: dict[str, dict] = field(default_factory=dict)
    port: int = 0

    def start(self) -> FakeTwilioServer:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self, status: int, payload: dict) -> None:
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self):
                fake.received.append({"method": "GET", "path": self.path})
                sid = self.path.rsplit("/", 1)[-1].removesuffix(".json")
                if sid in fake.calls:
                    self._answer(200, {**_call_resource(sid), **fake.calls[sid]})
                else:
                    self._answer(404, {"code": 20404, "message": f"The requested resource {self.path} was not found"})

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode()
                user = base64.b64decode((self.headers.get("Authorization") or " ").split(" ", 1)[1]).decode()
                fake.received.append(
                    {"path": self.path, "account": user.split(":")[0], "form": parse_qs(body, keep_blank_values=True)}
                )
                status, payload = fake.replies.pop(0) if fake.replies else (201, _call_resource("CA" + "f" * 32))
                self._answer(status, payload)

            def log_message(self, *args):
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self._server.server_address[1]
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

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
