"""A parser for ``text/event-stream`` (server-sent events), as the HTML
standard defines it: ``event``, ``data`` (several lines joined with
newlines), ``id`` and ``retry`` fields, ``:`` comments, a blank line ending
each event.

The ``id`` is kept and carried on every later event, as the standard says:
it is what a client sends back as ``Last-Event-ID`` to resume a stream.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterator, List, Optional


@dataclass(frozen=True)
class SSEMessage:
    """One event: its type (``"message"`` when the stream named none), its
    data, the last event id seen so far, and a ``retry`` hint if one came."""

    event: str
    data: str
    id: Optional[str] = None
    retry: Optional[int] = None


class SSEParser:
    """Feed it lines; it returns an :class:`SSEMessage` at each blank line that
    ends an event with data."""

    def __init__(self) -> None:
        self._event = ""
        self._data: List[str] = []
        self._has_data = False
        self._retry: Optional[int] = None
        self.last_id: Optional[str] = None

    def feed(self, raw: bytes) -> Optional[SSEMessage]:
        line = raw.decode("utf-8", "replace")
        if line.endswith("\r\n"):
            line = line[:-2]
        elif line.endswith(("\n", "\r")):
            line = line[:-1]
        if line == "":
            return self._dispatch()
        if line.startswith(":"):
            return None  # a comment (keep-alive)
        name, sep, value = line.partition(":")
        if sep and value.startswith(" "):
            value = value[1:]
        if name == "event":
            self._event = value
        elif name == "data":
            self._data.append(value)
            self._has_data = True
        elif name == "id":
            if "\0" not in value:
                self.last_id = value
        elif name == "retry":
            if value.isdigit():
                self._retry = int(value)
        return None  # other fields are ignored, as the standard says

    def _dispatch(self) -> Optional[SSEMessage]:
        event, data, has_data, retry = self._event, self._data, self._has_data, self._retry
        self._event, self._data, self._has_data, self._retry = "", [], False, None
        if not has_data:
            return None
        return SSEMessage(event or "message", "\n".join(data), self.last_id, retry)


def iter_sse(readline: Callable[[], bytes]) -> Iterator[SSEMessage]:
    """The events of a stream read with ``readline`` (b"" at its end). An
    event not ended by a blank line before the end is dropped, as the
    standard says."""
    parser = SSEParser()
    while True:
        line = readline()
        if not line:
            return
        msg = parser.feed(line)
        if msg is not None:
            yield msg
