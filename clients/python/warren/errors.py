"""The exceptions the client raises.

Every error the daemon answers is ``{"error": {"code", "message"}}`` with an
HTTP status; it becomes an :class:`APIError` subclass chosen by that status
(``NotFound`` for 404, ``TooManyRequests`` for 429, ...), carrying the
status, the code, the message and, when the daemon sent one, the request id
(``X-Request-Id``) and ``Retry-After``. Problems below HTTP (the daemon is not
running, the socket is refused, a reply never came) are
:class:`DaemonUnreachable`, :class:`RequestTimeout` and :class:`ProtocolError`.
A command that runs and fails is not an exception: it is an
:class:`~warren.results.ExecResult` with a non-zero ``exit_code``, which
:meth:`~warren.results.ExecResult.check` turns into :class:`CommandFailed`.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Dict, Optional, Type

if TYPE_CHECKING:  # pragma: no cover
    from .results import ExecResult


class WarrenError(Exception):
    """Base class of every exception of this package."""


class DaemonUnreachable(WarrenError, ConnectionError):
    """No connection to warrend: nothing listens at the URL, or access is denied."""


class RequestTimeout(WarrenError, TimeoutError):
    """The daemon did not answer within the client's timeout.

    The request may have been carried out (a command may have run)."""


class ProtocolError(WarrenError):
    """The reply is not what the warrend API promises (a proxy in the way, a
    daemon that died mid-reply, an event stream cut short)."""


class UnsafeArchive(WarrenError):
    """A directory download holds a member that would land outside the
    destination (an absolute path or ``..``); nothing of it was written."""


class CommandFailed(WarrenError):
    """Raised by :meth:`ExecResult.check` for a command that did not exit 0."""

    def __init__(self, result: "ExecResult", what: str = "the command"):
        self.result = result
        if result.timed_out:
            why = "timed out"
        elif result.oom_killed:
            why = "was killed: out of memory"
        elif result.signal is not None:
            why = f"was killed by signal {result.signal}"
        else:
            why = f"exited with {result.exit_code}"
        tail = result.stderr_text.strip().splitlines()[-3:]
        super().__init__(f"{what} {why}" + (": " + " / ".join(tail) if tail else ""))


class APIError(WarrenError):
    """The daemon answered with an error status.

    Attributes:
        status: the HTTP status (404, 429, ...).
        code: the API's error code (``"not_found"``, ``"capacity"``, ...), or
            None when the reply was not a warrend error document.
        message: the daemon's one-line message.
        request_id: the ``X-Request-Id`` header of the reply, when present.
        retry_after: seconds the daemon asked to wait (``Retry-After``), when present.
        method, path: the request that failed.
    """

    status: int = 0

    def __init__(self, status: int, code: Optional[str], message: str, *, request_id: Optional[str] = None,
                 retry_after: Optional[float] = None, method: str = "", path: str = ""):
        self.status = status
        self.code = code
        self.message = message
        self.request_id = request_id
        self.retry_after = retry_after
        self.method = method
        self.path = path
        where = f" ({method} {path})" if method else ""
        rid = f" [request {request_id}]" if request_id else ""
        super().__init__(f"{status} {code or 'error'}: {message}{where}{rid}")


class BadRequest(APIError):
    """400: malformed JSON, a wrong type, an unknown field, a bad value."""


class Unauthorized(APIError):
    """401: a token is missing or unknown."""


class Forbidden(APIError):
    """403: refused for this caller (for instance a foreign ``Origin``)."""


class NotFound(APIError):
    """404: no such session (for this token), file or route."""


class MethodNotAllowed(APIError):
    """405: the path exists, the method does not."""


class Conflict(APIError):
    """409: the session is not in a state for this."""


class PayloadTooLarge(APIError):
    """413: the request body or a file is over the daemon's limit."""


class UnsupportedMediaType(APIError):
    """415: the request's Content-Type is not the one the route takes."""


class MisdirectedRequest(APIError):
    """421: the Host header names no address of this daemon."""


class TooManyRequests(APIError):
    """429: a cap is reached (sessions, or commands running at once); nothing ran."""


class InternalError(APIError):
    """500: the daemon failed; its log says why."""


class ServiceUnavailable(APIError):
    """503: the daemon is draining, or no sandbox could be created; nothing ran."""


_BY_STATUS: Dict[int, Type[APIError]] = {
    400: BadRequest, 401: Unauthorized, 403: Forbidden, 404: NotFound, 405: MethodNotAllowed,
    409: Conflict, 413: PayloadTooLarge, 415: UnsupportedMediaType, 421: MisdirectedRequest,
    429: TooManyRequests, 500: InternalError, 503: ServiceUnavailable,
}


def error_from_reply(status: int, body: bytes, *, request_id: Optional[str] = None,
                     retry_after: Optional[float] = None, method: str = "", path: str = "") -> APIError:
    """The exception for an error reply: warrend's ``{"error":{"code","message"}}``,
    or, for a body that is not one (a proxy's page), its first line."""
    code: Optional[str] = None
    message = ""
    try:
        doc = json.loads(body)
        err = doc.get("error") if isinstance(doc, dict) else None
        if isinstance(err, dict) and isinstance(err.get("message"), str):
            message = err["message"]
            code = err.get("code") if isinstance(err.get("code"), str) else None
    except ValueError:
        pass
    if not message:
        first = body.decode("utf-8", "replace").strip().splitlines()[:1]
        message = f"warrend answered HTTP {status}" + (f": {first[0][:200]}" if first else "")
    cls = _BY_STATUS.get(status, APIError)
    return cls(status, code, message, request_id=request_id, retry_after=retry_after, method=method, path=path)
