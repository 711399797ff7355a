"""The client: one object per daemon, shared freely (it is thread-safe)."""

from __future__ import annotations

import json
from typing import Any, Dict, List, Mapping, Optional, Union, cast

from . import __version__
from .errors import NotFound
from .fields import Command, Duration, command_fields, drop_none, duration_seconds, duration_text
from .results import ExecResult
from .session import Session
from .transport import (DEFAULT_TIMEOUT, UNSET, Endpoint, Response, RetryPolicy, Transport, parse_url,
                        quote_segment, resolve_token, resolve_url)

class Client:
    """A connection to warrend.

    Args:
        url_or_socket: ``unix:/PATH``, a path to the daemon's unix socket, or
            ``http://HOST:PORT``. Default: ``$WARREN_URL`` when set and not
            empty, else ``unix:/run/warren/warrend.sock`` (the rules of the
            ``warren`` CLI).
        token: the API token, sent as ``Authorization: Bearer``. Default:
            ``$WARREN_TOKEN`` when set and not empty; ``""`` sends none.
        timeout: seconds to wait for the daemon (connecting, and each answer
            of the quick calls); None waits without bound. Commands wait
            longer, see :meth:`Session.exec`.
        retries: how 429 and 503 answers are retried: a
            :class:`~warren.transport.RetryPolicy`, or a number of retries
            (0: none). Default: ``RetryPolicy()``, 3 retries.

    The client keeps connections alive between calls and may be shared
    between threads; :meth:`close` (or a ``with`` block) closes them.
    """

    def __init__(self, url_or_socket: Optional[str] = None, token: Optional[str] = None, *,
                 timeout: Optional[float] = DEFAULT_TIMEOUT, retries: Union[RetryPolicy, int, None] = None):
        self.endpoint: Endpoint = parse_url(resolve_url(url_or_socket))
        if retries is None:
            policy = RetryPolicy()
        elif isinstance(retries, RetryPolicy):
            policy = retries
        else:
            policy = RetryPolicy(max_retries=int(retries))
        self.transport = Transport(self.endpoint, resolve_token(token), timeout, policy,
                                   f"warren-python/{__version__}")

    @property
    def url(self) -> str:
        """Where the daemon is, as given."""
        return self.endpoint.url

    @property
    def timeout(self) -> Optional[float]:
        return self.transport.timeout

    def __repr__(self) -> str:
        return f"Client({self.url!r})"

    def close(self) -> None:
        """Closes the idle connections (calls after this open new ones)."""
        self.transport.close()

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- raw requests --------------------------------------------------------------

    def request(self, method: str, path: str, *, json_body: Any = None, body: Optional[bytes] = None,
                content_type: Optional[str] = None, headers: Optional[Mapping[str, str]] = None,
                timeout: Any = UNSET, retry: bool = True) -> Any:
        """Any API request: ``json_body`` is sent as JSON, or ``body`` as is.
        Returns the parsed JSON of a JSON reply, else the bytes. Raises the
        :mod:`warren.errors` exception of an error reply.

        For routes this client does not wrap (yet); the methods below are
        the typed way in."""
        resp = self._send(method, path, json_body, body, content_type, headers, timeout, retry)
        if resp.content_type == "application/json":
            return resp.json()
        return resp.read()

    def _send(self, method: str, path: str, json_body: Any = None, body: Optional[bytes] = None,
              content_type: Optional[str] = None, headers: Optional[Mapping[str, str]] = None,
              timeout: Any = UNSET, retry: bool = True) -> Response:
        if json_body is not None:
            body = json.dumps(json_body).encode()
            content_type = "application/json"
        return self.transport.request(method, path, body=body, content_type=content_type, headers=headers,
                                      timeout=timeout, retry=retry)

    def _json(self, method: str, path: str, json_body: Any = None, timeout: Any = UNSET) -> Dict[str, Any]:
        return self._send(method, path, json_body, timeout=timeout).json_object()

    # --- the daemon ----------------------------------------------------------------

    def health(self) -> Dict[str, Any]:
        """``GET /v1/health``: status (``"ok"`` or ``"draining"``), version,
        uptime, sessions, one-shot runs, pools, cgroup version, backends."""
        return self._json("GET", "/v1/health")

    def images(self) -> List[Dict[str, Any]]:
        """``GET /v1/images``: the images sessions may name, ``host`` first,
        each with its name and, for built images, size, build time, package
        count and digest."""
        return list(self._json("GET", "/v1/images").get("images") or [])

    def openapi(self) -> Dict[str, Any]:
        """``GET /v1/openapi.json``: the daemon's own description of its API."""
        return self._json("GET", "/v1/openapi.json")

    def metrics(self) -> str:
        """``GET /metrics``: Prometheus text format."""
        return self._send("GET", "/metrics").read().decode("utf-8", "replace")

    # --- sessions --------------------------------------------------------------------

    def create_session(self, *, image: Optional[str] = None, policy: Optional[str] = None,
                       backend: Optional[str] = None, limits: Optional[Mapping[str, Any]] = None,
                       env: Optional[Mapping[str, str]] = None, idle_timeout: Optional[Duration] = None,
                       max_lifetime: Optional[Duration] = None) -> Session:
        """``POST /v1/sessions``: a new session, leased from the warm pool.

        Args:
            image: ``"host"`` (default) or an image of :meth:`images`.
            policy: a policy name of the daemon (default ``"default"``).
            backend: ``"native"``, ``"oci"`` or ``"docker"`` (default: the daemon's).
            limits: may only tighten the policy's: ``{"memory": "256M",
                "pids": 64, "cpus": 0.5, "timeout": "30s", "output": "1M"}``.
            env: environment of every command of the session.
            idle_timeout, max_lifetime: when the daemon destroys the session.

        Use the session in a ``with`` block to delete it at the end::

            with client.create_session(policy="python") as s:
                print(s.exec("python3 -V").stdout_text)
        """
        body = drop_none(image=image, policy=policy, backend=backend,
                         limits=dict(limits) if limits is not None else None,
                         env=dict(env) if env is not None else None,
                         idle_timeout=duration_text(idle_timeout), max_lifetime=duration_text(max_lifetime))
        return Session(self, self._json("POST", "/v1/sessions", body))

    def get_session(self, session_id: str) -> Session:
        """``GET /v1/sessions/{id}``; NotFound when it does not exist (for this token)."""
        return Session(self, self._json("GET", self.session_path(session_id)))

    def session(self, session_id: str) -> Session:
        """A handle on a session by id, without asking the daemon anything."""
        return Session(self, {"id": session_id})

    def list_sessions(self) -> List[Session]:
        """``GET /v1/sessions``: this token's sessions."""
        return [Session(self, s) for s in self._json("GET", "/v1/sessions").get("sessions") or []]

    def delete_session(self, session_id: str, *, missing_ok: bool = False) -> bool:
        """``DELETE /v1/sessions/{id}``: destroys the session and its sandbox.
        Returns False (with ``missing_ok``) when it was already gone."""
        try:
            self._json("DELETE", self.session_path(session_id))
        except NotFound:
            if not missing_ok:
                raise
            return False
        return True

    @staticmethod
    def session_path(session_id: str, suffix: str = "") -> str:
        if not session_id:
            raise ValueError("empty session id")
        return f"/v1/sessions/{quote_segment(session_id)}{suffix}"

    # --- one-shot ----------------------------------------------------------------------

    def run(self, command: Optional[Command] = None, *, language: Optional[str] = None,
            code: Optional[str] = None, files: Optional[Mapping[str, Union[str, bytes]]] = None,
            image: Optional[str] = None, policy: Optional[str] = None, backend: Optional[str] = None,
            limits: Optional[Mapping[str, Any]] = None, env: Optional[Mapping[str, str]] = None,
            stdin: Optional[str] = None, timeout: Optional[Duration] = None,
            request_timeout: Any = UNSET) -> ExecResult:
        """``POST /v1/run``: one command in a fresh sandbox, destroyed after.

        Give either ``command`` (a string for ``sh -c``, or argv) or
        ``language`` (``"python"``, ``"bash"`` or ``"node"``) and ``code``.
        ``files`` (name -> text) are written to /workspace first; the
        endpoint takes text only (bytes must be UTF-8): binary inputs want
        a session and :meth:`Session.write_file`.

        ``request_timeout``: how long to wait for the result; by default
        ``timeout`` plus the client's timeout, or without bound when no
        ``timeout`` is given (the policy's own timeout ends the command).
        """
        if (command is None) == (code is None):
            raise TypeError("give either a command or language and code")
        body: Dict[str, Any] = command_fields(command) if command is not None else {}
        if code is not None:
            if language is None:
                raise TypeError("code needs a language: python, bash or node")
            body.update(language=language, code=code)
        if files is not None:
            body["files"] = {name: _text_file(name, content) for name, content in files.items()}
        body.update(drop_none(image=image, policy=policy, backend=backend,
                              limits=dict(limits) if limits is not None else None,
                              env=dict(env) if env is not None else None, stdin=stdin,
                              timeout=duration_text(timeout)))
        doc = self._json("POST", "/v1/run", body, timeout=self._command_wait(timeout, request_timeout))
        return ExecResult.from_json(doc)

    def _command_wait(self, timeout: Optional[Duration], request_timeout: Any) -> Optional[float]:
        """How long to wait for a command's answer: ``request_timeout`` if
        given, else its ``timeout`` plus the client's timeout, else no bound."""
        if request_timeout is not UNSET:
            return cast(Optional[float], request_timeout)
        seconds = duration_seconds(timeout)
        if seconds is None or self.timeout is None:
            return None
        return seconds + self.timeout


def _text_file(name: str, content: Union[str, bytes]) -> str:
    if isinstance(content, str):
        return content
    try:
        return bytes(content).decode("utf-8")
    except UnicodeDecodeError:
        raise ValueError(f"files[{name!r}]: /v1/run takes text files only; write binary files into a "
                         "session with Session.write_file") from None

