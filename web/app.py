"""The web window as one WSGI application: routes, and what each refuses.

| method, path | answer |
|---|---|
| GET `/` | the dashboard (`web.dashboard`) |
| GET `/fragment` | its live part, which the page polls |
| GET `/metrics` | Prometheus text (`web.collector`) |
| GET `/api/status`, `/api/quarantine` | `status --json`, `quarantine list --json` |
| POST `/api/quarantine/NAME/release`, `.../release-all` | the releases, token required |
| GET `/static/dashboard.js`, `.css` | the page's script and style, shipped in this package |

Anything else is 404 (405 for a known path with the wrong method), and a body
larger than `MAX_BODY` is refused with 413 from its Content-Length, before a
byte of it is read (waitress refuses it too, see `web.server`; no route reads
a body at all). A request under a foreign `Host` on a loopback listener is 403.
An action without the token, from another origin, or on a read-only window is
403 and changes nothing. A state that cannot be read is 503 with the reason; a
bug is 500 with its traceback in the log, never in the answer.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from importlib import resources
from typing import Any

from loguru import logger

from repairlab.errors import UsageError
from repairlab.messages.documents import document
from repairlab.web.auth import Guard
from repairlab.web.collector import CONTENT_TYPE, exposition, registry_for
from repairlab.web.dashboard import fragment, page, read_view
from repairlab.web.source import StateSource

MAX_BODY = 64 * 1024
_RELEASE = re.compile(r"/api/quarantine/([^/]+)/release")
_STATIC = {"dashboard.js": "text/javascript; charset=utf-8",
           "dashboard.css": "text/css; charset=utf-8"}
_HEADERS = [
    ("Cache-Control", "no-store"),
    ("X-Content-Type-Options", "nosniff"),
    ("Referrer-Policy", "no-referrer"),
    # Scripts and styles only from here, no framing (clickjacking of the buttons).
    ("Content-Security-Policy",
     "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
     "frame-ancestors 'none'; base-uri 'none'; form-action 'none'"),
    ("X-Frame-Options", "DENY"),
]

StartResponse = Callable[..., Any]


class Response(Exception):
    """A finished answer, raised from anywhere in a route."""

    def __init__(self, status: str, body: bytes | str, content_type: str = "text/plain; "
                 "charset=utf-8") -> None:
        super().__init__(status)
        self.status = status
        self.body = body.encode() if isinstance(body, str) else body
        self.content_type = content_type


def _json(value: object, status: str = "200 OK") -> Response:
    return Response(status, document(value), "application/json")


class WebApp:
    """The WSGI callable. `source` answers every question about the state;
    `guard` decides who may act."""

    def __init__(self, source: StateSource, guard: Guard) -> None:
        self.source = source
        self.guard = guard
        self.registry = registry_for(source)
        package = resources.files(__name__.rpartition(".")[0])  # this module's package
        self._static = {name: package.joinpath("static", name).read_bytes() for name in _STATIC}

    def __call__(self, environ: dict[str, Any], start_response: StartResponse
                 ) -> Iterable[bytes]:
        try:
            answer = self._route(environ)
        except Response as response:
            answer = response
        except UsageError as exc:  # the state is not there (wrong --config, not yet made)
            answer = Response("503 Service Unavailable", f"{exc}\n")
        except Exception:
            logger.exception("web: {} {} failed", environ.get("REQUEST_METHOD"),
                             environ.get("PATH_INFO"))
            answer = Response("500 Internal Server Error", "internal error (see the log)\n")
        headers = [("Content-Type", answer.content_type),
                   ("Content-Length", str(len(answer.body))), *_HEADERS]
        start_response(answer.status, headers)
        return [b"" if environ.get("REQUEST_METHOD") == "HEAD" else answer.body]

    def _route(self, environ: dict[str, Any]) -> Response:
        method = environ.get("REQUEST_METHOD", "GET")
        # PEP 3333 hands the decoded path over as latin-1; names are UTF-8.
        path = environ.get("PATH_INFO", "").encode("latin-1").decode("utf-8", "replace")
        if not self.guard.host_ok(environ):
            raise Response("403 Forbidden", "this window answers only to a loopback host name\n")
        length = environ.get("CONTENT_LENGTH") or "0"
        if not length.isdigit() or int(length) > MAX_BODY:
            raise Response("413 Content Too Large", f"bodies are limited to {MAX_BODY} bytes\n")
        if environ.get("HTTP_TRANSFER_ENCODING"):
            raise Response("413 Content Too Large", "no route takes a body\n")
        reads = {"/": self._page, "/fragment": self._fragment, "/metrics": self._metrics,
                 "/api/status": self._status, "/api/quarantine": self._quarantine}
        if path in reads or path.startswith("/static/"):
            if method not in ("GET", "HEAD"):
                raise Response("405 Method Not Allowed", "GET only\n")
            if path.startswith("/static/"):
                return self._static_file(path.removeprefix("/static/"))
            return reads[path]()
        release = _RELEASE.fullmatch(path)
        if path == "/api/quarantine/release-all" or release:
            if method != "POST":
                raise Response("405 Method Not Allowed", "POST only\n")
            self._authorize(environ)
            if release is None:
                released, errors = self.source.release_all()
                return _json({"released": released, "errors": errors})
            try:
                return _json(self.source.release(release.group(1)))
            except UsageError as exc:
                raise Response("404 Not Found", f"{exc}\n") from None
        raise Response("404 Not Found", "no such page\n")

    def _authorize(self, environ: dict[str, Any]) -> None:
        if self.guard.read_only:
            raise Response("403 Forbidden", "read-only: no [web] token_file is configured\n")
        if not self.guard.same_origin(environ):
            raise Response("403 Forbidden", "refused: the request comes from another origin\n")
        if not self.guard.token_ok(environ):
            raise Response("403 Forbidden", "refused: Authorization: Bearer TOKEN required\n")

    def _page(self) -> Response:
        view = read_view(self.source, read_only=self.guard.read_only)
        return Response("200 OK", page(view), "text/html; charset=utf-8")

    def _fragment(self) -> Response:
        view = read_view(self.source, read_only=self.guard.read_only)
        return Response("200 OK", fragment(view), "text/html; charset=utf-8")

    def _metrics(self) -> Response:
        return Response("200 OK", exposition(self.registry), CONTENT_TYPE)

    def _status(self) -> Response:
        return _json(self.source.status())

    def _quarantine(self) -> Response:
        return _json(self.source.quarantine())

    def _static_file(self, name: str) -> Response:
        if name not in _STATIC:
            raise Response("404 Not Found", "no such page\n")
        return Response("200 OK", self._static[name], _STATIC[name])

