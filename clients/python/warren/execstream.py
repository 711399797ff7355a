"""A streamed command: the events of ``"stream": true`` exec replies."""

from __future__ import annotations

import json
from typing import Iterator, List, Optional

from .errors import ProtocolError
from .results import ExecEvent, ExecResult, output_event
from .sse import iter_sse
from .transport import Response


class ExecStream:
    """Iterates over a running command's :class:`~warren.results.ExecEvent`\\ s
    as the daemon sends them: ``stdout`` and ``stderr`` pieces, then one
    ``exit``. Iteration ends after ``exit``; :attr:`result` then holds it.

    Use it as a context manager, or call :meth:`close`: leaving before the
    exit event closes the connection, and warrend kills a command whose
    client is gone. :meth:`wait` reads to the end and returns the result
    with all the output collected::

        with session.exec_stream("make test") as stream:
            for event in stream:
                if event.kind in ("stdout", "stderr"):
                    print(event.text, end="")
        print(stream.result.exit_code)
    """

    def __init__(self, response: Response):
        self._response = response
        self._events = iter_sse(response.readline)
        self._stdout: List[bytes] = []
        self._stderr: List[bytes] = []
        self.result: Optional[ExecResult] = None
        self._done = False

    def __iter__(self) -> Iterator[ExecEvent]:
        return self

    def __next__(self) -> ExecEvent:
        if self._done:
            raise StopIteration
        for msg in self._events:
            try:
                doc = json.loads(msg.data)
            except ValueError as exc:
                self.close()
                raise ProtocolError(f"a {msg.event} event whose data is not JSON: {msg.data[:200]}") from exc
            if msg.event in ("stdout", "stderr"):
                event = output_event(msg.event, doc, msg.id)
                (self._stdout if msg.event == "stdout" else self._stderr).append(event.data)
                return event
            if msg.event == "exit":
                self.result = ExecResult.from_json(doc, stdout=b"", stderr=b"")
                self._done = True
                self._drain()
                return ExecEvent("exit", result=self.result, id=msg.id, raw=doc)
            return ExecEvent(msg.event, id=msg.id, raw=doc if isinstance(doc, dict) else {"data": doc})
        self._done = True
        self.close()
        raise ProtocolError("warrend's event stream ended before the command's exit event")

    def wait(self) -> ExecResult:
        """Reads the remaining events; returns the result with the whole
        output (what this stream has seen of it) in stdout and stderr."""
        for _ in self:
            pass
        assert self.result is not None
        return ExecResult.from_json(self.result.raw, stdout=b"".join(self._stdout), stderr=b"".join(self._stderr))

    def close(self) -> None:
        """Stops reading; before the exit event this ends the command."""
        self._done = True
        self._response.close()

    def _drain(self) -> None:
        """After exit the stream ends: read to its end so that the connection
        can be used again."""
        while self._response.readline():
            pass

    def __enter__(self) -> "ExecStream":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
