"""What the API answers, as typed objects: command results and events,
directory listings. Each keeps the daemon's JSON in ``raw`` for fields a
newer daemon may add."""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass, field
from typing import Any, Dict, Iterator, List, Mapping, Optional

from .errors import CommandFailed, ProtocolError


def decode_output(doc: Mapping[str, Any], name: str) -> bytes:
    """The bytes of output member ``name`` (``"stdout"``, ``"stderr"``):
    base64 when ``<name>_encoding`` is ``"base64"``, else a UTF-8 string
    (warrend switches to base64 for output that is not UTF-8 or is
    control-heavy; see warrend(8), Output)."""
    value = doc.get(name)
    if value is None:
        return b""
    if not isinstance(value, str):
        raise ProtocolError(f"{name} is not a string in warrend's reply")
    encoding = doc.get(f"{name}_encoding")
    if encoding is None:
        return value.encode("utf-8", "surrogateescape")
    if encoding != "base64":
        raise ProtocolError(f"unknown {name}_encoding {encoding!r} in warrend's reply")
    return _b64(value, name)


def _b64(value: str, what: str) -> bytes:
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ProtocolError(f"{what} is not valid base64 in warrend's reply") from exc


@dataclass(frozen=True)
class ExecResult:
    """How a command ended, and its output.

    Attributes:
        exit_code: the exit status; None when a signal killed the command
            (127: not found, 126: not executable).
        signal: the signal that killed it, or None.
        stdout, stderr: the output, bytes (base64 from the API already decoded).
        duration_ms: wall-clock run time in milliseconds.
        timed_out: the command's timeout killed it.
        oom_killed: the memory limit killed it.
        truncated: output past the output cap (``limits.output``) was dropped.
        raw: the daemon's JSON, as received.
    """

    exit_code: Optional[int]
    signal: Optional[int]
    stdout: bytes
    stderr: bytes
    duration_ms: int
    timed_out: bool
    oom_killed: bool
    truncated: bool
    raw: Dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_json(cls, doc: Mapping[str, Any], stdout: Optional[bytes] = None,
                  stderr: Optional[bytes] = None) -> "ExecResult":
        """From an exec or run reply (or a stream's exit event, with the
        output collected from the stream given as ``stdout``/``stderr``)."""
        if not isinstance(doc, Mapping) or "exit_code" not in doc:
            raise ProtocolError(f"warrend's reply is not a command result: {str(doc)[:200]}")
        return cls(
            exit_code=doc.get("exit_code"),
            signal=doc.get("signal"),
            stdout=decode_output(doc, "stdout") if stdout is None else stdout,
            stderr=decode_output(doc, "stderr") if stderr is None else stderr,
            duration_ms=int(doc.get("duration_ms") or 0),
            timed_out=bool(doc.get("timed_out")),
            oom_killed=bool(doc.get("oom_killed")),
            truncated=bool(doc.get("truncated")),
            raw=dict(doc),
        )

    @property
    def ok(self) -> bool:
        """The command exited 0 (not killed, not timed out)."""
        return self.exit_code == 0 and not self.timed_out

    @property
    def duration(self) -> float:
        """Run time in seconds."""
        return self.duration_ms / 1000.0

    @property
    def stdout_text(self) -> str:
        """stdout decoded as UTF-8 (undecodable bytes replaced)."""
        return self.stdout.decode("utf-8", "replace")

    @property
    def stderr_text(self) -> str:
        """stderr decoded as UTF-8 (undecodable bytes replaced)."""
        return self.stderr.decode("utf-8", "replace")

    def check(self, what: str = "the command") -> "ExecResult":
        """Returns self when :attr:`ok`, else raises :class:`~warren.errors.CommandFailed`."""
        if not self.ok:
            raise CommandFailed(self, what)
        return self


@dataclass(frozen=True)
class ExecEvent:
    """One event of a streamed command.

    Attributes:
        kind: ``"stdout"``, ``"stderr"`` or ``"exit"`` (an event type a newer
            daemon adds comes with its name and ``raw``).
        data: the output piece of a stdout or stderr event (decoded from
            ``data`` or ``data_base64``).
        result: for ``"exit"``, the result (without output: it came in the
            events before).
        id: the stream's last event id, if it sends ids (what resuming a
            stream with ``Last-Event-ID`` needs).
        raw: the event's JSON data.
    """

    kind: str
    data: bytes = b""
    result: Optional[ExecResult] = None
    id: Optional[str] = None
    raw: Dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @property
    def text(self) -> str:
        """data decoded as UTF-8 (undecodable bytes replaced; a multi-byte
        character split between two events shows as replacement characters)."""
        return self.data.decode("utf-8", "replace")


def output_event(kind: str, doc: Mapping[str, Any], event_id: Optional[str]) -> ExecEvent:
    """A stdout/stderr event from its JSON: ``{"data": str}`` or ``{"data_base64": str}``."""
    if isinstance(doc.get("data_base64"), str):
        data = _b64(doc["data_base64"], "data_base64")
    elif isinstance(doc.get("data"), str):
        data = doc["data"].encode("utf-8", "surrogateescape")
    else:
        raise ProtocolError(f"a {kind} event without data: {str(doc)[:200]}")
    return ExecEvent(kind, data=data, id=event_id, raw=dict(doc))


@dataclass(frozen=True)
class DirEntry:
    """One entry of a workspace directory: ``type`` is ``"file"``,
    ``"directory"``, ``"symlink"`` or another kind the daemon names."""

    name: str
    type: str
    size: int
    mtime: Optional[str]
    raw: Dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @property
    def is_dir(self) -> bool:
        return self.type == "directory"

    @property
    def is_file(self) -> bool:
        return self.type == "file"


@dataclass(frozen=True)
class DirListing:
    """A workspace directory: its path (relative to /workspace), its entries,
    and whether the daemon cut the list short. Iterating gives the entries."""

    path: str
    entries: List[DirEntry]
    truncated: bool

    @classmethod
    def from_json(cls, doc: Mapping[str, Any]) -> "DirListing":
        entries = [DirEntry(name=e.get("name", ""), type=e.get("type", ""), size=int(e.get("size") or 0),
                            mtime=e.get("mtime"), raw=dict(e)) for e in doc.get("entries") or []]
        return cls(path=doc.get("path", ""), entries=entries, truncated=bool(doc.get("truncated")))

    def __iter__(self) -> Iterator[DirEntry]:
        return iter(self.entries)

    def __len__(self) -> int:
        return len(self.entries)

    def names(self) -> List[str]:
        return [e.name for e in self.entries]
