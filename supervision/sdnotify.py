"""A small, dependency-free sd_notify client and a health-gated watchdog pinger.

systemd hands a ``Type=notify`` service an ``AF_UNIX`` datagram socket in
``$NOTIFY_SOCKET`` (a path, or ``@name`` for an abstract socket) and, with
``WatchdogSec=``, the watchdog period in ``$WATCHDOG_USEC``. The daemon reports its
state there as newline-separated ``KEY=value`` lines (``READY=1``, ``STATUS=...``,
``WATCHDOG=1``, ``STOPPING=1``, ``RELOADING=1``); see sd_notify(3).

Two promises hold everywhere in this module:

* Outside systemd (no ``$NOTIFY_SOCKET``) every call is a silent no-op.
* Sending never raises: a notification is advice to the service manager, and the
  daemon must not fall over because the manager went away or its queue is full. The
  first failure of a `Notifier` is logged at debug; the send returns False and the
  daemon carries on.

`WatchdogPinger` turns ``WATCHDOG=1`` into a liveness proof: it pings only while the
health check it is given says yes, so a wedged daemon stops pinging and systemd kills
and restarts it (``Restart=on-failure`` treats a watchdog timeout as a failure).
"""

from __future__ import annotations

import os
import re
import socket
import threading
import time
from collections.abc import Callable, MutableMapping

from loguru import logger

__all__ = ["Notifier", "WatchdogPinger"]

_ENV_SOCKET = "NOTIFY_SOCKET"
_ENV_WATCHDOG_USEC = "WATCHDOG_USEC"
_ENV_WATCHDOG_PID = "WATCHDOG_PID"

# sd_notify field names are upper-case identifiers (READY, STATUS, MAINPID, ...).
_FIELD_NAME = re.compile(r"[A-Z][A-Z0-9_]*\Z")
# A send blocks only while systemd's receive queue is full; never wait longer than
# this, so a stuck manager cannot stall the supervisor thread that reports to it.
_SEND_TIMEOUT_S = 1.0

FieldValue = str | int | bool


def _format_value(value: FieldValue) -> str:
    if isinstance(value, bool):
        return "1" if value else "0"
    # A newline would start a new field: an untrusted STATUS text could otherwise
    # smuggle in READY=1 or STOPPING=1.
    return str(value).replace("\r", " ").replace("\n", " ")


def _parse_address(raw: str | None) -> str | None:
    """The socket address for `socket.sendto`, or None when there is none we can use."""
    if not raw:
        return None
    if raw.startswith("@"):
        # Linux abstract namespace: the name is the bytes after a leading NUL.
        return "\0" + raw[1:]
    if raw.startswith("/"):
        return raw
    # Newer managers may hand out e.g. "vsock:..."; we only speak AF_UNIX.
    logger.debug("sd_notify: unsupported NOTIFY_SOCKET {!r}; notifications off", raw)
    return None


def _parse_watchdog_usec(raw: str | None, pid_raw: str | None) -> int | None:
    if not raw:
        return None
    try:
        usec = int(raw)
    except ValueError:
        logger.debug("sd_notify: bad WATCHDOG_USEC {!r}; watchdog off", raw)
        return None
    if usec <= 0:
        return None
    if pid_raw:
        # The watchdog belongs to one process: a child that inherited the
        # environment must not ping on the main process's behalf.
        try:
            pid = int(pid_raw)
        except ValueError:
            logger.debug("sd_notify: bad WATCHDOG_PID {!r}; watchdog off", pid_raw)
            return None
        if pid != os.getpid():
            return None
    return usec


class Notifier:
    """A client for the systemd notification socket.

    Build it with `Notifier.from_env()`; construct it directly only in tests.
    Thread-safe: the socket is opened on first use under a lock, and a datagram
    send is atomic. Every send returns True when the datagram left, False when
    notifications are off or the send failed; none of them raises for a socket
    problem. Call `close()` (or use it as a context manager) when done.
    """

    def __init__(self, address: str | None, watchdog_usec: int | None = None) -> None:
        """`address` as `socket.sendto` takes it (abstract names start with NUL),
        None for a disabled notifier; `watchdog_usec` as systemd gave it, or None."""
        self._address = address
        self._watchdog_usec = watchdog_usec if address is not None else None
        self._sock: socket.socket | None = None
        self._lock = threading.Lock()
        self._failure_logged = False
        self._closed = False

    @classmethod
    def from_env(
        cls,
        environ: MutableMapping[str, str] | None = None,
        *,
        unset: bool = False,
    ) -> Notifier:
        """Read ``$NOTIFY_SOCKET``, ``$WATCHDOG_USEC`` and ``$WATCHDOG_PID``.

        A missing, empty or non-``AF_UNIX`` socket address gives a disabled notifier
        on which every call is a no-op. ``WATCHDOG_USEC`` that is missing, not a
        positive integer, or paired with a ``WATCHDOG_PID`` other than ours gives no
        watchdog. Nothing here raises.

        With `unset=True` the three variables are removed from `environ` (default
        `os.environ`), as sd_notify(3)'s ``unset_environment`` does, so child
        processes (test runs, the external agent) cannot talk to systemd.
        """
        env: MutableMapping[str, str] = os.environ if environ is None else environ
        address = _parse_address(env.get(_ENV_SOCKET))
        usec = _parse_watchdog_usec(env.get(_ENV_WATCHDOG_USEC), env.get(_ENV_WATCHDOG_PID))
        if unset:
            for name in (_ENV_SOCKET, _ENV_WATCHDOG_USEC, _ENV_WATCHDOG_PID):
                env.pop(name, None)
        return cls(address, usec)

    @property
    def enabled(self) -> bool:
        """True when there is a socket to notify (we run under systemd)."""
        return self._address is not None and not self._closed

    def watchdog_interval(self) -> float | None:
        """Seconds between ``WATCHDOG=1`` pings: half of ``$WATCHDOG_USEC``, as
        sd_watchdog_enabled(3) advises; None when there is no watchdog for us."""
        if self._watchdog_usec is None or not self.enabled:
            return None
        return self._watchdog_usec / 2_000_000

    def send(self, **fields: FieldValue) -> bool:
        """Send one datagram of ``KEY=value`` lines, in the order given.

        Values are stringified (True → ``1``); newlines in a value become spaces so
        that a value can never forge another field. A field name that is not an
        upper-case identifier is a bug in the caller and raises ValueError, even when
        notifications are off, so tests catch it. Anything that goes wrong with the
        socket returns False and is logged once, at debug.
        """
        for name in fields:
            if not _FIELD_NAME.match(name):
                raise ValueError(f"sd_notify field name must be upper-case: {name!r}")
        if not self.enabled or not fields:
            return False
        payload = "\n".join(f"{k}={_format_value(v)}" for k, v in fields.items())
        return self._send_bytes(payload.encode("utf-8"))

    def ready(self, status: str | None = None) -> bool:
        """``READY=1`` (and ``STATUS=`` if given): start-up, or a reload, is done."""
        if status is None:
            return self.send(READY=1)
        return self.send(READY=1, STATUS=status)

    def status(self, text: str) -> bool:
        """``STATUS=text``: the one line `systemctl status` shows."""
        return self.send(STATUS=text)

    def watchdog(self) -> bool:
        """``WATCHDOG=1``: one keep-alive. Prefer `WatchdogPinger`, which gates it
        on a health check; a bare ping proves only that this thread runs."""
        return self.send(WATCHDOG=1)

    def stopping(self) -> bool:
        """``STOPPING=1``: shutdown has begun."""
        return self.send(STOPPING=1)

    def reloading(self) -> bool:
        """``RELOADING=1`` with ``MONOTONIC_USEC=`` (CLOCK_MONOTONIC now).

        systemd ≥ 253 requires the timestamp for ``Type=notify-reload``; older
        managers and plain ``Type=notify`` accept and ignore it. Send `ready()` when
        the reload is finished, whether it succeeded or was refused.
        """
        return self.send(RELOADING=1, MONOTONIC_USEC=time.monotonic_ns() // 1000)

    def extend_timeout(self, seconds: float) -> bool:
        """``EXTEND_TIMEOUT_USEC=``: ask for `seconds` more before the start or stop
        timeout fires, e.g. while in-flight repairs finish during a long shutdown."""
        return self.send(EXTEND_TIMEOUT_USEC=max(0, int(seconds * 1_000_000)))

    def close(self) -> None:
        """Close the socket; later sends are no-ops. Safe to call twice."""
        with self._lock:
            self._closed = True
            if self._sock is not None:
                self._sock.close()
                self._sock = None

    def __enter__(self) -> Notifier:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Notifier(address={self._address!r}, watchdog_usec={self._watchdog_usec!r})"

    def _send_bytes(self, payload: bytes) -> bool:
        address = self._address
        assert address is not None  # checked by send() through `enabled`
        try:
            with self._lock:
                if self._closed:
                    return False
                if self._sock is None:
                    # CLOEXEC: a forked test run must not inherit the socket and
                    # speak for us (NotifyAccess=main would drop it anyway).
                    sock = socket.socket(
                        socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC
                    )
                    sock.settimeout(_SEND_TIMEOUT_S)
                    self._sock = sock
                sock = self._sock
            # MSG_NOSIGNAL: a vanished peer must never SIGPIPE the daemon.
            sock.sendto(payload, socket.MSG_NOSIGNAL, address)
        except OSError as exc:
            if not self._failure_logged:
                self._failure_logged = True
                logger.debug("sd_notify to {!r} failed ({}); carrying on", address, exc)
            return False
        return True


class WatchdogPinger:
    """A daemon thread that sends ``WATCHDOG=1`` every `interval`, but only while
    `healthy()` returns True.

    `healthy` runs on the pinger's thread, once per tick. When it returns False or
    raises, that tick sends nothing (logged at warning once per unhealthy spell), so
    a process whose actors stopped answering stops proving liveness and systemd's
    ``WatchdogSec=`` kills it. If `healthy` itself hangs, no ping goes out either,
    which is the point. `interval` defaults to the notifier's `watchdog_interval()`;
    with no watchdog configured `start()` starts nothing and the pinger is inert.
    """

    def __init__(
        self,
        notifier: Notifier,
        healthy: Callable[[], bool],
        *,
        interval: float | None = None,
        name: str = "sd-watchdog",
    ) -> None:
        """See the class docstring. An `interval` that is not positive is a bug and
        raises ValueError."""
        self._notifier = notifier
        self._healthy = healthy
        self._interval = notifier.watchdog_interval() if interval is None else interval
        if self._interval is not None and self._interval <= 0:
            raise ValueError(f"watchdog interval must be positive, got {self._interval!r}")
        self._name = name
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.pings = 0
        """How many ``WATCHDOG=1`` datagrams went out; for status and tests."""

    @property
    def interval(self) -> float | None:
        """Seconds between ticks, or None when there is no watchdog to feed."""
        return self._interval

    @property
    def running(self) -> bool:
        """True while the pinger thread is alive."""
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> bool:
        """Start ticking (the first tick is immediate). Returns False, doing nothing,
        when there is no watchdog interval; starting twice is a bug (RuntimeError)."""
        if self._interval is None:
            return False
        if self._thread is not None:
            raise RuntimeError("WatchdogPinger already started")
        self._thread = threading.Thread(target=self._loop, name=self._name, daemon=True)
        self._thread.start()
        return True

    def stop(self, timeout: float = 5.0) -> bool:
        """Stop ticking and join the thread for at most `timeout` seconds.

        Returns True when the thread has ended (or never ran). False means it is
        stuck inside `healthy()`; being a daemon thread it will not keep the
        process alive, and it will send nothing more once `healthy()` returns.
        """
        self._stop.set()
        if self._thread is None:
            return True
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def _check(self) -> bool:
        try:
            return bool(self._healthy())
        except Exception:
            logger.opt(exception=True).warning("watchdog health check raised; counted unhealthy")
            return False

    def _loop(self) -> None:
        interval = self._interval
        assert interval is not None  # start() refuses to run without one
        was_healthy = True
        next_tick = time.monotonic()
        while not self._stop.is_set():
            ok = self._check()
            # Re-check: stop() may have come while healthy() ran.
            if self._stop.is_set():
                break
            if ok:
                if self._notifier.watchdog():
                    self.pings += 1
                if not was_healthy:
                    logger.info("health check passes again; watchdog pings resume")
            elif was_healthy:
                logger.warning("health check failed; withholding WATCHDOG=1")
            was_healthy = ok
            # Fixed-rate schedule, so a slow health check does not stretch the
            # period; after a stall longer than a period, tick at once (one tick,
            # not a burst of the missed ones).
            next_tick += interval
            now = time.monotonic()
            if next_tick < now:
                next_tick = now
            self._stop.wait(next_tick - now)
