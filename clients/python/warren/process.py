"""Processes of a session: commands that outlive the request that started
them (``POST /v1/sessions/{id}/processes``), followed, written to,
signalled and resized while they run."""

from __future__ import annotations

import base64
import json
from typing import TYPE_CHECKING, Any, Dict, Iterator, List, Mapping, Optional, Tuple, Union

from .errors import ProtocolError
from .results import ExecEvent, ExecResult, output_event
from .sse import iter_sse
from .transport import Response

if TYPE_CHECKING:  # pragma: no cover
    from .session import Session

OUTPUT_KINDS = ("stdout", "stderr", "pty")


class ProcessOutput:
    """Iterates over a process's :class:`~warren.results.ExecEvent`\\ s:
    ``stdout``, ``stderr`` (or ``pty``, the output of its terminal)
    pieces, ``dropped`` (``raw["events"]`` events the daemon's buffer no
    longer held were skipped), then one ``exit``, after which iteration
    ends and :attr:`result` holds it. Every event has an :attr:`id`:
    :attr:`last_id` is what :meth:`Process.output` resumes after.

    A connection lost before the exit is opened again ``reconnect`` times,
    asking for the events after the last one seen (``Last-Event-ID``), so
    nothing is read twice or missed while the daemon still keeps it.
    Leaving early (:meth:`close`, or the end of a ``with`` block) does not
    end the process."""

    def __init__(self, process: "Process", after: Optional[int], reconnect: int, request_timeout: Any):
        self._process = process
        self._request_timeout = request_timeout
        self._reconnect = reconnect
        self.last_id: Optional[int] = after
        self.result: Optional[ExecResult] = None
        self._done = False
        self._response: Optional[Response] = None
        self._events: Optional[Iterator[Any]] = None

    def __iter__(self) -> Iterator[ExecEvent]:
        return self

    def _open(self) -> None:
        headers = {"Accept": "text/event-stream"}
        if self.last_id is not None:
            headers["Last-Event-ID"] = str(self.last_id)
        self._response = self._process.session.client._send(
            "GET", self._process._path("/output"), headers=headers, timeout=self._request_timeout)
        self._events = iter_sse(self._response.readline)

    def __next__(self) -> ExecEvent:
        while not self._done:
            if self._events is None:
                self._open()
            assert self._events is not None
            try:
                msg = next(self._events, None)
            except ProtocolError:
                msg = None
                if self._reconnect <= 0:
                    self.close()
                    raise
            if msg is None:
                self._drop_connection()
                if self._reconnect <= 0:
                    self._done = True
                    raise ProtocolError("warrend's event stream ended before the process's exit event")
                self._reconnect -= 1
                continue
            return self._event(msg)
        raise StopIteration

    def _event(self, msg: Any) -> ExecEvent:
        try:
            doc = json.loads(msg.data)
            event_id = int(msg.id) if msg.id is not None else None
        except ValueError as exc:
            self.close()
            raise ProtocolError(f"a {msg.event} event that is not what warrend sends: {msg.data[:200]}") from exc
        if event_id is not None:
            self.last_id = event_id
        ident = None if event_id is None else str(event_id)
        if msg.event in OUTPUT_KINDS:
            return output_event(msg.event, doc, ident)
        if msg.event == "exit":
            self.result = ExecResult.from_json(doc, stdout=b"", stderr=b"")
            self._done = True
            self._drain()
            return ExecEvent("exit", result=self.result, id=ident, raw=doc)
        return ExecEvent(msg.event, id=ident, raw=doc if isinstance(doc, dict) else {"data": doc})

    def wait(self) -> ExecResult:
        """Reads to the exit; the result with the output this iterator saw
        (a terminal's in stdout)."""
        out: List[bytes] = []
        err: List[bytes] = []
        for event in self:
            if event.kind in ("stdout", "pty"):
                out.append(event.data)
            elif event.kind == "stderr":
                err.append(event.data)
        assert self.result is not None
        return ExecResult.from_json(self.result.raw, stdout=b"".join(out), stderr=b"".join(err))

    def _drain(self) -> None:
        if self._response is not None:
            while self._response.readline():
                pass
            self._response = None

    def _drop_connection(self) -> None:
        if self._response is not None:
            self._response.close()
        self._response = None
        self._events = None

    def close(self) -> None:
        """Stops following (the process goes on)."""
        self._done = True
        self._drop_connection()

    def __enter__(self) -> "ProcessOutput":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class Process:
    """A process of a session (:meth:`Session.start_process`,
    :meth:`Session.process`, :meth:`Session.processes`).

    Attributes:
        session: its session.
        pid: its number in the session.
        info: the daemon's last description of it (``cmd``, ``state``,
            ``pty``, ``stdin``, ``result``, ``output`` ids, ...), as of the
            last call that returned it or :meth:`refresh`.
    """

    def __init__(self, session: "Session", info: Mapping[str, Any]):
        self.session = session
        self.info: Dict[str, Any] = dict(info)
        self.pid: int = int(self.info["pid"])

    def __repr__(self) -> str:
        return f"<warren.Process {self.pid} of {self.session.id} {self.info.get('state')}>"

    def _path(self, suffix: str = "") -> str:
        return self.session._path(f"/processes/{self.pid}{suffix}")

    def _post(self, action: str, body: Optional[Mapping[str, Any]] = None) -> Dict[str, Any]:
        return self.session.client._json("POST", self._path(action), dict(body) if body is not None else {})

    def refresh(self) -> "Process":
        """Reads it again (``GET …/processes/{pid}``)."""
        self.info = self.session.client._json("GET", self._path())
        return self

    @property
    def running(self) -> bool:
        return self.info.get("state") == "running"

    @property
    def tag(self) -> Optional[str]:
        return self.info.get("tag")

    @property
    def result(self) -> Optional[ExecResult]:
        """How it ended (without output: see :meth:`output`), or None while it runs."""
        doc = self.info.get("result")
        return ExecResult.from_json(doc, stdout=b"", stderr=b"") if doc else None

    def output(self, after: Optional[int] = None, *, reconnect: int = 3,
               request_timeout: Any = None) -> ProcessOutput:
        """Its events from the oldest the daemon still keeps, or those after
        event id ``after`` (a :attr:`ProcessOutput.last_id` of an earlier
        follower): see :class:`ProcessOutput`. ``request_timeout`` bounds
        each wait for the next event (default: none)."""
        return ProcessOutput(self, after, reconnect, request_timeout)

    def wait(self, request_timeout: Any = None) -> ExecResult:
        """Follows it to its end: the result, with the output the daemon
        still keeps of it."""
        result = self.output(request_timeout=request_timeout).wait()
        self.refresh()
        return result

    def write(self, data: Union[str, bytes]) -> int:
        """Sends bytes (text as UTF-8) to its stdin, or types them into its
        terminal; returns how many. Conflict when its stdin is not open;
        TooManyRequests (retried) while it does not read what waits."""
        raw = data.encode("utf-8") if isinstance(data, str) else bytes(data)
        doc = self.session.client._json("POST", self._path("/stdin"),
                                        {"data_base64": base64.b64encode(raw).decode("ascii")})
        return int(doc.get("bytes", len(raw)))

    def close_stdin(self) -> None:
        """Its stdin reads end of file once what was written is read."""
        self.info = self._post("/close-stdin")

    def signal(self, sig: Union[str, int]) -> None:
        """Sends a signal (``"SIGINT"``, ``"TERM"``, ``2``) to its process
        group; SIGKILL ends everything it started."""
        self.info = self._post("/signal", {"signal": sig})

    def kill(self) -> None:
        self.signal("SIGKILL")

    def resize(self, cols: int, rows: int) -> None:
        """Sets its terminal's size (its foreground program gets SIGWINCH)."""
        self.info = self._post("/resize", {"cols": int(cols), "rows": int(rows)})


PtySize = Union[bool, Tuple[int, int], Mapping[str, int], None]


def pty_field(pty: PtySize) -> Any:
    """The request's ``pty``: None/False for none, True for 80x24, or
    (cols, rows) / {"cols", "rows"}."""
    if pty is None or pty is False:
        return None
    if pty is True:
        return {}
    if isinstance(pty, Mapping):
        return {"cols": int(pty["cols"]), "rows": int(pty["rows"])}
    cols, rows = pty
    return {"cols": int(cols), "rows": int(rows)}


__all__ = ["Process", "ProcessOutput", "pty_field"]
