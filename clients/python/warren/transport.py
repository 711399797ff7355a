"""HTTP/1.1 to warrend over a unix socket or TCP, with keep-alive and retries.

Only :mod:`http.client` and :mod:`socket`: the package has no dependency
beyond the standard library. The pieces, from the bottom:

* :func:`parse_url` and :func:`resolve_url` / :func:`resolve_token`: where
  the daemon is, by the same rules as the ``warren`` CLI (warren(1)).
* :class:`ConnectionPool`: idle connections kept for reuse, one request at a
  time each, so a :class:`~warren.Client` may be shared between threads.
* :class:`RetryPolicy`: which answers are tried again and how long to wait.
* :class:`Transport`: one request, with its retries, answered by a
  :class:`Response` that is read whole or line by line (event streams).
"""

from __future__ import annotations

import email.utils
import errno
import http.client
import json
import logging
import os
import random
import select
import socket
import threading
import time
from dataclasses import dataclass
from typing import IO, Any, Callable, Dict, List, Mapping, Optional, Tuple, Union
from urllib.parse import quote

from .errors import DaemonUnreachable, ProtocolError, RequestTimeout, error_from_reply

log = logging.getLogger("warren")

DEFAULT_URL = "unix:/run/warren/warrend.sock"
DEFAULT_TIMEOUT = 30.0

Body = Union[bytes, IO[bytes], None]


class _Unset:
    """The default of timeout parameters: "use the client's timeout" (None means none)."""

    def __repr__(self) -> str:
        return "<client default>"


UNSET: Any = _Unset()


# --- where the daemon is ------------------------------------------------------------


@dataclass(frozen=True)
class Endpoint:
    """A parsed daemon address: a unix socket path, or a TCP host and port."""

    url: str  # as the user wrote it, for messages
    unix_path: Optional[str] = None
    host: Optional[str] = None
    port: int = 80


def parse_url(text: str) -> Endpoint:
    """Parses ``unix:/PATH``, ``http://HOST[:PORT][/]`` (``[V6]:PORT`` too) or
    a plain path to a socket.

    Raises ValueError for anything else, https included: warrend speaks
    cleartext HTTP; reach a TLS proxy in front of it on loopback."""
    if text.startswith("unix:"):
        path = text[len("unix:"):]
        if not path.startswith("/"):
            raise ValueError(f"bad URL {text!r}: expected unix:/ABSOLUTE/PATH")
        return Endpoint(text, unix_path=path)
    if text.startswith("https://"):
        raise ValueError(f"bad URL {text!r}: https is not supported; put warrend behind a TLS proxy "
                         "and reach it over http:// on loopback")
    if text.startswith("http://"):
        return _parse_http(text)
    if "://" in text or not text:
        raise ValueError(f"bad URL {text!r}: expected http://HOST:PORT, unix:/PATH or a socket's path")
    return Endpoint(text, unix_path=os.path.abspath(text))


def _parse_http(text: str) -> Endpoint:
    rest = text[len("http://"):]
    if rest.endswith("/"):
        rest = rest[:-1]
    bad = ValueError(f"bad URL {text!r}: expected http://HOST:PORT or unix:/PATH")
    if "/" in rest or "@" in rest:
        raise bad
    if rest.startswith("["):
        host, sep, after = rest[1:].partition("]")
        if not sep or (after and not after.startswith(":")):
            raise bad
        port = after[1:] if after else None
    else:
        host, sep, port_text = rest.partition(":")
        port = port_text if sep else None
    if not host or port == "":
        raise bad
    if port is not None and not port.isdigit():
        raise ValueError(f"bad URL {text!r}: the port must be a number")
    return Endpoint(text, host=host, port=int(port) if port else 80)


def resolve_url(url_or_socket: Optional[str]) -> str:
    """The argument; else ``$WARREN_URL`` when set and not empty; else the default socket."""
    if url_or_socket:
        return url_or_socket
    return os.environ.get("WARREN_URL") or DEFAULT_URL


def resolve_token(token: Optional[str]) -> Optional[str]:
    """The argument (an empty string meaning "no token", as ``warren --token ''``);
    else ``$WARREN_TOKEN`` when set and not empty; else None."""
    if token is None:
        token = os.environ.get("WARREN_TOKEN") or None
    if token and ("\r" in token or "\n" in token):
        raise ValueError("the token contains a line break")
    return token or None


def quote_segment(text: str) -> str:
    """A URL path segment: every byte but unreserved ones percent-encoded."""
    return quote(text, safe="")


# --- retries ------------------------------------------------------------------------


def parse_retry_after(value: Optional[str], now: Optional[float] = None) -> Optional[float]:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or an HTTP
    date); None when absent or unreadable."""
    if value is None:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None or when.tzinfo is None:
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


@dataclass(frozen=True)
class RetryPolicy:
    """When and how long to wait before sending a refused request again.

    warrend answers 429 (a cap is reached) and 503 (draining, or no sandbox
    could be made) before it acts: no session was created, no command ran.
    So every call is retried on them, session creation and commands
    included, at most ``max_retries`` times. The wait is the daemon's
    ``Retry-After`` when it sends one, else an exponential backoff from
    ``backoff`` seconds (doubling, at most ``max_backoff``, with jitter).
    A ``Retry-After`` longer than ``max_retry_after`` is not waited for: the
    error is raised at once, with its ``retry_after``.
    ``RetryPolicy(max_retries=0)`` (or ``Client(retries=0)``) turns retries off.
    """

    max_retries: int = 3
    backoff: float = 0.5
    max_backoff: float = 8.0
    max_retry_after: float = 60.0
    statuses: Tuple[int, ...] = (429, 503)

    def delay(self, attempt: int, retry_after: Optional[float],
              rand: Callable[[], float] = random.random) -> Optional[float]:
        """Seconds to wait before retry number ``attempt + 1`` (attempt counts
        from 0), or None when no retry is left or the daemon asks for too long."""
        if attempt >= self.max_retries:
            return None
        if retry_after is not None:
            return retry_after if retry_after <= self.max_retry_after else None
        base = min(self.max_backoff, self.backoff * (2.0 ** attempt))
        return base * (0.5 + rand() / 2)  # jitter: clients refused together do not return together


# --- connections -------------------------------------------------------------------


class UnixHTTPConnection(http.client.HTTPConnection):
    """:class:`http.client.HTTPConnection` over a unix stream socket."""

    def __init__(self, path: str, timeout: Optional[float] = None, blocksize: int = 65536):
        super().__init__("localhost", timeout=timeout, blocksize=blocksize)
        self.unix_path = path

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.settimeout(self.timeout)
            sock.connect(self.unix_path)
        except BaseException:
            sock.close()
            raise
        self.sock = sock


class TCPHTTPConnection(http.client.HTTPConnection):
    """:class:`http.client.HTTPConnection` with Nagle off: requests go out in
    several writes (head, then a file body) and must not wait for ACKs."""

    def connect(self) -> None:
        super().connect()
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


def _dropped(conn: http.client.HTTPConnection) -> bool:
    """True when an idle connection can no longer be used: the peer closed it
    (readable at EOF) or sent something unasked."""
    sock = conn.sock
    if sock is None:
        return True
    try:
        readable, _, _ = select.select([sock], [], [], 0)
    except (OSError, ValueError):
        return True
    return bool(readable)


class ConnectionPool:
    """Idle keep-alive connections to one endpoint; a connection serves one
    request at a time, so concurrent callers each get their own."""

    def __init__(self, endpoint: Endpoint, max_idle: int = 8):
        self.endpoint = endpoint
        self.max_idle = max_idle
        self._idle: List[http.client.HTTPConnection] = []
        self._lock = threading.Lock()
        self._closed = False
        self.connections_opened = 0  # how many connections were made, for tests and stats

    def get(self, connect_timeout: Optional[float]) -> Tuple[http.client.HTTPConnection, bool]:
        """A connection and whether it was used before (an idle one, if any
        still works; else a new one, connected)."""
        while True:
            with self._lock:
                conn = self._idle.pop() if self._idle else None
            if conn is None:
                break
            if not _dropped(conn):
                return conn, True
            conn.close()
        conn = self._new(connect_timeout)
        try:
            conn.connect()
        except OSError as exc:
            conn.close()
            raise self._unreachable(exc) from exc
        with self._lock:
            self.connections_opened += 1
        return conn, False

    def put(self, conn: http.client.HTTPConnection) -> None:
        """Hands back a connection whose last response was read completely."""
        with self._lock:
            if not self._closed and conn.sock is not None and len(self._idle) < self.max_idle:
                self._idle.append(conn)
                return
        conn.close()

    def close(self) -> None:
        with self._lock:
            self._closed = True
            idle, self._idle = self._idle, []
        for conn in idle:
            conn.close()

    def _new(self, timeout: Optional[float]) -> http.client.HTTPConnection:
        ep = self.endpoint
        if ep.unix_path is not None:
            return UnixHTTPConnection(ep.unix_path, timeout=timeout)
        return TCPHTTPConnection(ep.host or "", ep.port, timeout=timeout, blocksize=65536)

    def _unreachable(self, exc: OSError) -> DaemonUnreachable:
        url = self.endpoint.url
        if isinstance(exc, socket.gaierror):
            return DaemonUnreachable(f"cannot reach warrend at {url}: {exc.strerror or exc}")
        if isinstance(exc, socket.timeout):
            return DaemonUnreachable(f"cannot reach warrend at {url}: connection timed out")
        why = os.strerror(exc.errno) if exc.errno else str(exc)
        if exc.errno in (errno.EACCES, errno.EPERM):
            return DaemonUnreachable(f"cannot reach warrend at {url}: {why} "
                                     "(ask for access to the socket, or use sudo)")
        return DaemonUnreachable(f"cannot reach warrend at {url}: {why} (is warrend running?)")


# --- requests ----------------------------------------------------------------------


class Response:
    """A daemon reply with a success status, read whole (:meth:`read`,
    :meth:`json`) or line by line (:meth:`readline`, for event streams).
    Its connection goes back to the pool once the body is read to its end;
    :meth:`close` before that closes the connection (for a running command,
    that tells the daemon its client is gone)."""

    def __init__(self, pool: ConnectionPool, conn: http.client.HTTPConnection, resp: http.client.HTTPResponse):
        self._pool = pool
        self._conn: Optional[http.client.HTTPConnection] = conn
        self._resp = resp
        self.status: int = resp.status
        self.headers = resp.headers

    @property
    def content_type(self) -> str:
        """The media type, lower case, without parameters."""
        return (self.headers.get("Content-Type") or "").split(";")[0].strip().lower()

    @property
    def request_id(self) -> Optional[str]:
        return self.headers.get("X-Request-Id")

    def _guarded(self, read: Callable[[], bytes], doing: str) -> bytes:
        """One read of the body; a failure drops the connection."""
        try:
            return read()
        except (OSError, http.client.HTTPException) as exc:
            self.close()
            raise _transport_error(exc, doing) from exc

    def read(self) -> bytes:
        data = self._guarded(self._resp.read, "reading the reply")
        self._release()
        return data

    def readinto_file(self, out: IO[bytes], chunk: int = 1 << 16) -> int:
        """Copies the body into a file object; returns the number of bytes."""
        total = 0
        while True:
            data = self._guarded(lambda: self._resp.read(chunk), "reading the reply")
            if not data:
                break
            out.write(data)
            total += len(data)
        self._release()
        return total

    def json(self) -> Any:
        data = self.read()
        try:
            return json.loads(data)
        except ValueError as exc:
            raise ProtocolError(f"warrend answered HTTP {self.status} with a body that is not JSON") from exc

    def json_object(self) -> Dict[str, Any]:
        """The body as a JSON object (what every JSON reply of the API is)."""
        doc = self.json()
        if not isinstance(doc, dict):
            raise ProtocolError(f"warrend answered HTTP {self.status} with JSON that is not an object")
        return doc

    def readline(self) -> bytes:
        """The next line (with its end), b"" at the end of the body."""
        line = self._guarded(self._resp.readline, "reading the event stream")
        if not line:
            self._release()
        return line

    def close(self) -> None:
        """Drops the connection, unless the body was read to its end already."""
        conn, self._conn = self._conn, None
        if conn is not None:
            self._resp.close()
            conn.close()

    def _release(self) -> None:
        conn, self._conn = self._conn, None
        if conn is None:
            return
        if self._resp.isclosed() and not self._resp.will_close:
            self._pool.put(conn)
        else:
            conn.close()


def _transport_error(exc: BaseException, doing: str) -> Exception:
    if isinstance(exc, socket.timeout):
        return RequestTimeout(f"no answer from warrend while {doing}: timed out")
    return ProtocolError(f"the connection to warrend failed while {doing}: {exc or type(exc).__name__}")


# A kept-alive connection the daemon closed while it was idle fails like this
# on its next use; the request never reached the daemon.
_STALE = (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError, ConnectionAbortedError)


class Transport:
    """Sends requests to one daemon: authentication, JSON bodies, retries,
    errors mapped to exceptions."""

    def __init__(self, endpoint: Endpoint, token: Optional[str], timeout: Optional[float],
                 retry: RetryPolicy, user_agent: str):
        self.endpoint = endpoint
        self.token = token
        self.timeout = timeout
        self.retry = retry
        self.user_agent = user_agent
        self.pool = ConnectionPool(endpoint)

    def close(self) -> None:
        self.pool.close()

    def request(self, method: str, path: str, *, body: Body = None, content_type: Optional[str] = None,
                headers: Optional[Mapping[str, str]] = None, timeout: Any = UNSET,
                retry: bool = True) -> Response:
        """Sends one request and returns its successful :class:`Response`;
        raises an :class:`~warren.errors.APIError` subclass for an error status
        (after the retries of :attr:`retry` for 429 and 503, unless ``retry``
        is False). ``timeout`` bounds each wait for the daemon (seconds, None
        for no bound; default: the client's)."""
        read_timeout = self.timeout if timeout is UNSET else timeout
        hdrs = self._headers(headers, content_type)
        start = body.tell() if body is not None and not isinstance(body, bytes) else 0
        attempt = 0
        while True:
            if body is not None and not isinstance(body, bytes):
                body.seek(start)
            resp = self._send(method, path, body, hdrs, read_timeout)
            if 200 <= resp.status < 300:
                return resp
            data = resp.read()
            retry_after = parse_retry_after(resp.headers.get("Retry-After"))
            err = error_from_reply(resp.status, data, request_id=resp.request_id, retry_after=retry_after,
                                   method=method, path=path)
            delay = self.retry.delay(attempt, retry_after) if retry and resp.status in self.retry.statuses \
                else None
            if delay is None:
                raise err
            attempt += 1
            log.info("warren: %s; retry %d of %d in %.2fs", err, attempt, self.retry.max_retries, delay)
            time.sleep(delay)

    def _headers(self, extra: Optional[Mapping[str, str]], content_type: Optional[str]) -> Dict[str, str]:
        hdrs = {"User-Agent": self.user_agent, "Accept": "application/json"}
        if self.endpoint.unix_path is not None:
            hdrs["Host"] = "localhost"
        if self.token:
            hdrs["Authorization"] = f"Bearer {self.token}"
        if content_type:
            hdrs["Content-Type"] = content_type
        hdrs.update(extra or {})
        return hdrs

    def _send(self, method: str, path: str, body: Body, headers: Dict[str, str],
              read_timeout: Optional[float]) -> Response:
        """One exchange; a kept-alive connection found closed is replaced once."""
        headers = dict(headers)
        if body is not None and not isinstance(body, bytes):
            headers["Content-Length"] = str(_remaining(body))
        elif body is None and method in ("POST", "PUT"):
            headers["Content-Length"] = "0"
        connect_timeout = self.timeout if self.timeout is not None else DEFAULT_TIMEOUT
        is_file = body is not None and not isinstance(body, bytes)
        pos = body.tell() if is_file else 0  # type: ignore[union-attr]
        for fresh_retry in (False, True):
            conn, reused = self.pool.get(connect_timeout)
            try:
                conn.timeout = read_timeout
                if conn.sock is not None:
                    conn.sock.settimeout(read_timeout)
                conn.request(method, path, body=body, headers=headers)
                resp = conn.getresponse()
            except _STALE as exc:
                conn.close()
                if reused and not fresh_retry:
                    log.debug("warren: kept-alive connection closed by warrend (%s); reconnecting", exc)
                    if is_file:
                        body.seek(pos)  # type: ignore[union-attr]
                    continue
                raise ProtocolError(f"warrend closed the connection without answering {method} {path}") from exc
            except (OSError, http.client.HTTPException) as exc:
                conn.close()
                if isinstance(exc, socket.timeout):
                    raise RequestTimeout(f"no answer from warrend to {method} {path} within "
                                         f"{read_timeout}s") from exc
                raise ProtocolError(f"{method} {path}: {exc or type(exc).__name__}") from exc
            return Response(self.pool, conn, resp)
        raise AssertionError("unreachable")


def _remaining(f: IO[bytes]) -> int:
    """Bytes from a file object's position to its end."""
    pos = f.tell()
    end = f.seek(0, os.SEEK_END)
    f.seek(pos)
    return end - pos
