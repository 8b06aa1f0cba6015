"""A local stand-in for api.twilio.com that the real ``twilio`` client talks to over a socket."""

from __future__ import annotations

import base64
import json
import re
import threading
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

from twilio.http.http_client import TwilioHttpClient


@dataclass
class FakeTwilioServer:
    """Records every request (method, path, query, account, form) and answers like Twilio.

    Queued ``replies`` answer first, in order; otherwise a POST creates a call, and the
    account's incoming phone numbers (``numbers``, by E.164) can be listed and updated.
    """

    received: list[dict] = field(default_factory=list)
    replies: list[tuple[int, dict]] = field(default_factory=list)
    numbers: dict[str, dict] = field(default_factory=dict)
    # What a GET of a call resource answers, by call SID (a call not listed is Twilio's 404).
    calls: dict[str, dict] = field(default_factory=dict)
    # Accounts whose credentials are checked (SID -> auth token): a request naming one of them
    # with another token gets Twilio's 401 (error 20003), and GET /Accounts/<sid>.json reads it.
    accounts: dict[str, str] = field(default_factory=dict)
    port: int = 0
    # A real account answers every placed call with a new SID; off, every call is CAfff... (fixed for asserts).
    unique_sids: bool = False

    def add_account(self, sid: str, token: str) -> None:
        self.accounts[sid] = token

    def add_number(self, phone_number: str, sid: str = "PN" + "a" * 32) -> dict:
        self.numbers[phone_number] = {
            "sid": sid, "phone_number": phone_number, "account_sid": "AC" + "0" * 32, "friendly_name": phone_number,
            "voice_url": "https://demo.twilio.com/welcome/voice/", "voice_method": "POST",
            "voice_fallback_url": None, "voice_fallback_method": "POST",
            "status_callback": "", "status_callback_method": "POST",
        }  # fmt: skip
        return self.numbers[phone_number]

    def _answer(self, method: str, path: str, form: dict, user: str = "") -> tuple[int, dict]:
        sid, _, token = user.partition(":")
        if sid in self.accounts and self.accounts[sid] != token:
            return 401, {
                "code": 20003, "message": "Authenticate", "status": 401,
                "detail": "Your AccountSid or AuthToken was incorrect.",
                "more_info": "https://www.twilio.com/docs/errors/20003",
            }  # fmt: skip
        account = re.fullmatch(r"/2010-04-01/Accounts/(AC\w+)\.json", urlsplit(path).path)
        if account and method == "GET":
            if account[1] not in self.accounts:
                return 401, {"code": 20003, "message": "Authenticate", "status": 401}
            return 200, {"sid": account[1], "friendly_name": "Acme's account", "status": "active"}
        if "/IncomingPhoneNumbers" not in path:
            if method == "GET":
                sid = urlsplit(path).path.rsplit("/", 1)[-1].removesuffix(".json")
                if sid in self.calls:
                    return 200, {**_call_resource(sid), **self.calls[sid]}
                return 404, {"code": 20404, "message": f"The requested resource {path} was not found", "status": 404}
            return 201, _call_resource("CA" + (uuid.uuid4().hex if self.unique_sids else "f" * 32))
        if method == "GET":
            wanted = (parse_qs(urlsplit(path).query).get("PhoneNumber") or [""])[0]
            found = [n for number, n in self.numbers.items() if wanted in number]
            return 200, {"incoming_phone_numbers": found, "next_page_uri": None, "page": 0, "page_size": 50}
        sid = path.rsplit("/", 1)[1].removesuffix(".json")
        number = next((n for n in self.numbers.values() if n["sid"] == sid), None)
        if number is None:
            return 404, {"code": 20404, "message": "The requested resource was not found", "status": 404}
        number.update({_snake(key): values[-1] for key, values in form.items()})
        return 200, number

    def start(self) -> FakeTwilioServer:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                self.do_POST(method="GET")

            def do_POST(self, method="POST"):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode()
                user = base64.b64decode((self.headers.get("Authorization") or " ").split(" ", 1)[1]).decode()
                form = parse_qs(body, keep_blank_values=True)
                fake.received.append(
                    {
                        "method": method,
                        "path": self.path,
                        "account": user.split(":")[0],
                        "form": form,
                        "query": parse_qs(urlsplit(self.path).query),
                    }
                )
                status, payload = fake.replies.pop(0) if fake.replies else fake._answer(method, self.path, form, user)
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
        return [r for r in self.received if r["method"] == "POST" and r["path"].endswith(f"/Calls/{call_sid}.json")]

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


def _snake(form_key: str) -> str:
    """VoiceFallbackUrl -> voice_fallback_url, as Twilio names the resource's fields."""
    return "".join("_" + c.lower() if c.isupper() else c for c in form_key).lstrip("_")


def _call_resource(sid: str) -> dict:
    return {
        "sid": sid,
        "status": "queued",
        "to": "+12125550123",
        "from": "+14155550100",
        "account_sid": "AC" + "0" * 32,
    }
