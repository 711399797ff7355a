"""Request fields as warrend spells them: durations, sizes, commands."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any, Dict, Optional, Sequence, Union

Duration = Union[int, float, str, timedelta]
"""A duration: seconds as a number or a timedelta, or warrend's own text ("30s", "500ms", "5m", "1h")."""

Size = Union[int, str]
"""A size: bytes as an int, or warrend's own text ("64M", "1G")."""

Command = Union[str, Sequence[str]]
"""A command: a string runs through ``sh -c`` (the API's ``shell``); a list is
argv, run without a shell (the API's ``cmd``)."""


def duration_text(value: Optional[Duration]) -> Optional[str]:
    """warrend's duration text for a number of seconds (or a timedelta)."""
    if value is None or isinstance(value, str):
        return value
    seconds = value.total_seconds() if isinstance(value, timedelta) else float(value)
    if seconds < 0:
        raise ValueError(f"a duration cannot be negative: {value!r}")
    if seconds == int(seconds):
        return f"{int(seconds)}s"
    return f"{max(1, round(seconds * 1000))}ms"


_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$")
_UNIT_SECONDS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, None: 1}


def duration_seconds(value: Optional[Duration]) -> Optional[float]:
    """Seconds of a duration (None when it cannot be read: the daemon will say)."""
    if value is None:
        return None
    if isinstance(value, timedelta):
        return value.total_seconds()
    if not isinstance(value, str):
        return float(value)
    m = _DURATION.match(value)
    return float(m.group(1)) * _UNIT_SECONDS[m.group(2)] if m else None


def command_fields(command: Command) -> Dict[str, Any]:
    """``{"shell": ...}`` for a string, ``{"cmd": [...]}`` for a sequence."""
    if isinstance(command, str):
        return {"shell": command}
    if isinstance(command, (bytes, bytearray)):
        raise TypeError("a command is a str (run by sh -c) or a sequence of str (argv), not bytes")
    argv = list(command)
    if not argv or not all(isinstance(a, str) for a in argv):
        raise TypeError("argv must be a non-empty sequence of str")
    return {"cmd": argv}


def drop_none(**fields: Any) -> Dict[str, Any]:
    return {k: v for k, v in fields.items() if v is not None}
