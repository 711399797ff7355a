"""warren: a Python client for warrend, the warren sandbox daemon.

Standard library only. The daemon's API is described in warrend(8) and
served at ``/v1/openapi.json``; this package wraps all of it::

    import warren

    client = warren.Client()              # $WARREN_URL, else the local socket
    with client.create_session() as s:    # deleted at the end of the block
        s.write_file("hello.py", "print('hello from the sandbox')")
        print(s.exec("python3 hello.py").stdout_text)

Modules: :mod:`warren.client` (Client), :mod:`warren.session` (Session),
:mod:`warren.results` (ExecResult, ExecEvent, DirListing),
:mod:`warren.execstream` (ExecStream), :mod:`warren.process` (Process,
ProcessOutput), :mod:`warren.errors` (exceptions),
:mod:`warren.transport` (connections, retries), :mod:`warren.sse`,
:mod:`warren.archive` (directories as tar).
"""

__version__ = "0.1.0"

from .errors import (APIError, BadRequest, CommandFailed, Conflict, DaemonUnreachable, Forbidden,  # noqa: E402
                     InternalError, MethodNotAllowed, MisdirectedRequest, NotFound, PayloadTooLarge,
                     ProtocolError, RequestTimeout, ServiceUnavailable, TooManyRequests, Unauthorized,
                     UnsafeArchive, UnsupportedMediaType, WarrenError)
from .execstream import ExecStream  # noqa: E402
from .process import Process, ProcessOutput  # noqa: E402
from .results import DirEntry, DirListing, ExecEvent, ExecResult  # noqa: E402
from .transport import DEFAULT_URL, RetryPolicy  # noqa: E402
from .session import Session  # noqa: E402
from .client import Client  # noqa: E402

__all__ = [
    "Client", "Session", "ExecStream", "Process", "ProcessOutput", "ExecResult", "ExecEvent", "DirEntry", "DirListing", "RetryPolicy",
    "DEFAULT_URL", "WarrenError", "APIError", "BadRequest", "Unauthorized", "Forbidden", "NotFound",
    "MethodNotAllowed", "Conflict", "PayloadTooLarge", "UnsupportedMediaType", "MisdirectedRequest",
    "TooManyRequests", "InternalError", "ServiceUnavailable", "DaemonUnreachable", "RequestTimeout",
    "ProtocolError", "CommandFailed", "UnsafeArchive",
]
