"""The operator's window (SPEC §10): a dashboard, Prometheus metrics and a small JSON API.

`WebApp` (the WSGI application, `app`), `WebServer` (waitress, `server`),
`BackendSource` (the state it reads, through the backend seam, `source`),
`StateCollector` (`/metrics`, `collector`), the page (`dashboard`) and the token
and CSRF rules (`auth`).
"""

from repairlab.web.app import WebApp
from repairlab.web.auth import Guard
from repairlab.web.server import WebServer
from repairlab.web.source import BackendSource, StateSource

__all__ = ["BackendSource", "Guard", "StateSource", "WebApp", "WebServer"]
