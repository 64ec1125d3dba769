"""Serving the web window: `waitress`, started and stopped from our own thread.

Why waitress (and plain WSGI): it is a production HTTP server in pure Python,
maintained by the Pylons project for over a decade, with no dependency of its
own and nothing to compile; it handles the HTTP parsing, keep-alive, a bounded
pool of worker threads and request limits (it answers 413 to a body over
`max_request_body_size` from its Content-Length, without reading the body).
The window serves a handful of small read-mostly routes to a few browsers and
one Prometheus: an async stack (Starlette + uvicorn: anyio, h11, click and
more) would add dependencies and buy nothing here, and WSGI is also what
`prometheus_client` speaks natively.
"""

from __future__ import annotations

import threading
from typing import Any

from loguru import logger
from waitress.server import create_server

from repairlab.web.app import MAX_BODY

THREADS = 4


class WebServer:
    """A waitress server for `app` on `host:port` (port 0: a free one), run in a
    thread of its own. Raises OSError at construction when the address cannot
    be bound (in use, not ours)."""

    def __init__(self, app: Any, host: str, port: int) -> None:
        self._server = create_server(
            app, host=host, port=port, threads=THREADS, ident="repairlab",
            max_request_body_size=MAX_BODY, max_request_header_size=64 * 1024,
            channel_timeout=30, connection_limit=100, expose_tracebacks=False,
            clear_untrusted_proxy_headers=True)
        self.host = str(self._server.effective_host)
        self.port = int(self._server.effective_port)
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def start(self) -> WebServer:
        """Serve in a daemon thread; returns self."""
        self._thread = threading.Thread(target=self._server.run, name="web", daemon=True)
        self._thread.start()
        logger.info("web: serving on {}", self.url)
        return self

    def stop(self, timeout: float = 10.0) -> None:
        """Close the listener and every connection from inside the server's own
        loop (no thread touches its sockets but that one), wait for the loop
        and the worker threads to end. A request still running past `timeout`
        is abandoned with its daemon thread."""
        server = self._server

        def close_all() -> None:
            for channel in list(server._map.values()):
                channel.close()

        if self._thread is not None and self._thread.is_alive():
            try:
                server.trigger.pull_trigger(close_all)
            except OSError:
                # A worker's pull woke the loop between our thunk going in and our
                # own pull: close_all has run already, trigger included.
                pass
            self._thread.join(timeout)
        else:
            close_all()
        server.task_dispatcher.shutdown(timeout=timeout)
        logger.info("web: stopped")
