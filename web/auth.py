"""Who may act: the bearer token of `[web] token_file`, and the CSRF and Host rules.

An operator action (a release) needs `Authorization: Bearer TOKEN`, compared in
constant time with the token file's content. The page's own buttons send it from
`fetch()` after the operator has pasted it once (kept in the tab's
sessionStorage): a cross-site form cannot set that header, and a cross-site
`fetch` that tries is stopped by the browser's CORS preflight, which this
server never grants. On top of that, a request whose `Origin` (or
`Sec-Fetch-Site`) says it comes from another site is refused even with the
token, and on a loopback listener a `Host` that is not a loopback name is
refused outright (DNS rebinding: a foreign page whose name resolves to
127.0.0.1 must not read the dashboard either).

The token file is read at each action, so replacing it takes effect at once;
an unreadable or empty file refuses every action (logged), it never opens them.
"""

from __future__ import annotations

import hmac
from collections.abc import Mapping
from ipaddress import ip_address
from pathlib import Path
from urllib.parse import urlsplit

from loguru import logger

MAX_TOKEN_BYTES = 4096
LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1"})


def is_loopback(host: str) -> bool:
    """True for `localhost` and loopback addresses (127/8, ::1)."""
    if host.lower() in LOOPBACK_NAMES or host.lower().endswith(".localhost"):
        return True
    try:
        return ip_address(host).is_loopback
    except ValueError:
        return False


def host_of(header: str) -> str:
    """The name in a `Host` header (`name:port`, `[v6]:port`), lower-case."""
    parts = urlsplit("//" + header)
    try:
        return (parts.hostname or "").lower()
    except ValueError:
        return ""


class Guard:
    """Decides, per request, whether it may be served and whether it may act.

    `token_file` None means read-only: every action is refused.
    """

    def __init__(self, token_file: Path | None, *, loopback_only_hosts: bool) -> None:
        self.token_file = token_file
        self.loopback_only_hosts = loopback_only_hosts

    @property
    def read_only(self) -> bool:
        return self.token_file is None

    def host_ok(self, environ: Mapping[str, str]) -> bool:
        """False when a loopback listener is asked under a foreign host name."""
        if not self.loopback_only_hosts:
            return True
        host = environ.get("HTTP_HOST") or environ.get("SERVER_NAME", "")
        return is_loopback(host_of(host))

    def same_origin(self, environ: Mapping[str, str]) -> bool:
        """False when the browser says the request comes from another origin."""
        if environ.get("HTTP_SEC_FETCH_SITE", "same-origin") not in ("same-origin", "none"):
            return False
        origin = environ.get("HTTP_ORIGIN")
        if origin is None:
            return True  # not from a browser page (curl, a script): the token decides
        parts = urlsplit(origin)
        return parts.scheme in ("http", "https") and parts.netloc == environ.get("HTTP_HOST")

    def token_ok(self, environ: Mapping[str, str]) -> bool:
        """True when the request carries the token of the token file."""
        if self.token_file is None:
            return False
        scheme, _, given = environ.get("HTTP_AUTHORIZATION", "").partition(" ")
        if scheme.lower() != "bearer" or not given.strip():
            return False
        expected = self._token()
        if not expected:
            return False
        return hmac.compare_digest(given.strip().encode(), expected)

    def may_act(self, environ: Mapping[str, str]) -> bool:
        """Token and same origin, both."""
        return self.same_origin(environ) and self.token_ok(environ)

    def _token(self) -> bytes | None:
        assert self.token_file is not None
        try:
            with open(self.token_file, "rb") as fh:
                token = fh.read(MAX_TOKEN_BYTES + 1).strip()
        except OSError as exc:
            logger.warning("token file {} cannot be read, refusing actions: {}",
                           self.token_file, exc)
            return None
        if len(token) > MAX_TOKEN_BYTES or not token:
            logger.warning("token file {} is empty or too long, refusing actions",
                           self.token_file)
            return None
        return token
