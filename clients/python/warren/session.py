"""A session: a sandbox leased for a while, with commands and files."""

from __future__ import annotations

import base64
import logging
import secrets
import tempfile
from typing import IO, TYPE_CHECKING, Any, Dict, List, Mapping, Optional, Union

from . import archive
from .errors import NotFound, WarrenError
from .execstream import ExecStream
from .fields import Command, Duration, Size, command_fields, drop_none, duration_text
from .process import Process, PtySize, pty_field
from .results import DirListing, ExecResult
from .transport import UNSET, quote_segment

if TYPE_CHECKING:  # pragma: no cover
    from .client import Client

log = logging.getLogger("warren")

FileData = Union[bytes, bytearray, memoryview, str, IO[bytes]]
"""What :meth:`Session.write_file` writes: bytes, text (UTF-8), or a binary file object."""


def workspace_path(path: str) -> List[str]:
    """The components of a workspace path, as warrend reads it: relative to
    /workspace (``/workspace/x`` is ``x``), ``.`` and empty components
    dropped, ``..`` applied. Raises ValueError for a path that leaves the
    workspace.

    Done here as well as in the daemon because the router in front of the
    files API normalises ``..`` in a URL, even percent-encoded, so a path
    like ``../../ID`` would reach another route (DELETE of the session!)
    instead of being refused."""
    if "\0" in path:
        raise ValueError(f"path {path!r} contains a NUL byte")
    if path == "/workspace" or path.startswith("/workspace/"):
        path = path[len("/workspace"):]
    parts: List[str] = []
    for comp in path.split("/"):
        if comp in ("", "."):
            continue
        if comp == "..":
            if not parts:
                raise ValueError(f"path {path!r} leaves the workspace")
            parts.pop()
            continue
        parts.append(comp)
    return parts


class Session:
    """A warrend session: its sandbox runs every command until the session
    is deleted, idle too long, or at the end of its lifetime.

    Made by :meth:`Client.create_session`, :meth:`Client.get_session`,
    :meth:`Client.list_sessions` or :meth:`Client.session`. As a context
    manager it deletes the session on exit (already gone is fine).

    Attributes:
        id: the session id.
        info: the daemon's last description of it (``image``, ``policy``,
            ``backend``, ``limits``, ``state``, ``created``, ``expires``, ...),
            as of creation or the last :meth:`refresh`.
    """

    def __init__(self, client: "Client", info: Mapping[str, Any]):
        self.client = client
        self.info: Dict[str, Any] = dict(info)
        self.id: str = self.info["id"]

    def __repr__(self) -> str:
        return f"<warren.Session {self.id} image={self.info.get('image')} policy={self.info.get('policy')}>"

    def __enter__(self) -> "Session":
        return self

    def __exit__(self, *exc: object) -> None:
        self.delete(missing_ok=True)

    @property
    def image(self) -> Optional[str]:
        return self.info.get("image")

    @property
    def policy(self) -> Optional[str]:
        return self.info.get("policy")

    @property
    def backend(self) -> Optional[str]:
        return self.info.get("backend")

    @property
    def limits(self) -> Dict[str, Any]:
        return dict(self.info.get("limits") or {})

    def refresh(self) -> "Session":
        """Reads the session again (``GET /v1/sessions/{id}``) into :attr:`info`."""
        self.info = dict(self.client._json("GET", self._path()))
        return self

    def delete(self, *, missing_ok: bool = False) -> bool:
        """Destroys the session and its sandbox; see :meth:`Client.delete_session`."""
        return self.client.delete_session(self.id, missing_ok=missing_ok)

    # --- commands ------------------------------------------------------------------

    def exec(self, command: Command, *, env: Optional[Mapping[str, str]] = None, cwd: Optional[str] = None,
             stdin: Union[str, bytes, None] = None, timeout: Optional[Duration] = None,
             output: Optional[Size] = None, request_timeout: Any = UNSET) -> ExecResult:
        """Runs a command and waits for it (``POST .../exec``).

        Args:
            command: a string, run by ``sh -c``; or argv, run as is.
            env: more environment variables.
            cwd: the working directory, /workspace (default) or below.
            stdin: text or bytes for its standard input.
            timeout: kills the command after this long (at most the
                policy's timeout, which applies otherwise).
            output: the output cap (at most the policy's).
            request_timeout: how long to wait for the answer; by default
                ``timeout`` plus the client's timeout, or without bound when
                no ``timeout`` is given (the policy's timeout ends it).

        Returns the :class:`~warren.results.ExecResult` whatever the exit
        status; ``.check()`` raises for a failure.
        """
        body = self._exec_body(command, env, cwd, stdin, timeout, output)
        wait = self.client._command_wait(timeout, request_timeout)
        return ExecResult.from_json(self.client._json("POST", self._path("/exec"), body, timeout=wait))

    def exec_stream(self, command: Command, *, env: Optional[Mapping[str, str]] = None,
                    cwd: Optional[str] = None, stdin: Union[str, bytes, None] = None,
                    timeout: Optional[Duration] = None, output: Optional[Size] = None,
                    request_timeout: Any = None) -> ExecStream:
        """Runs a command and returns its events as they come (``"stream":
        true``): an :class:`~warren.execstream.ExecStream`. Arguments as
        :meth:`exec`; ``request_timeout`` bounds each wait for the next
        event (default: no bound)."""
        body = self._exec_body(command, env, cwd, stdin, timeout, output)
        body["stream"] = True
        resp = self.client._send("POST", self._path("/exec"), body, headers={"Accept": "text/event-stream"},
                                 timeout=request_timeout)
        return ExecStream(resp)

    @staticmethod
    def _exec_body(command: Command, env: Optional[Mapping[str, str]], cwd: Optional[str],
                   stdin: Union[str, bytes, None], timeout: Optional[Duration],
                   output: Optional[Size]) -> Dict[str, Any]:
        body = command_fields(command)
        if isinstance(stdin, str):
            body["stdin"] = stdin
        elif stdin is not None:
            body["stdin_base64"] = base64.b64encode(bytes(stdin)).decode("ascii")
        body.update(drop_none(env=dict(env) if env is not None else None, cwd=cwd, timeout=duration_text(timeout),
                              output=str(output) if output is not None else None))
        return body

    # --- files ---------------------------------------------------------------------
    # Paths are relative to /workspace ("/workspace/x" works too).

    def read_file(self, path: str) -> bytes:
        """A workspace file's contents. NotFound when missing;
        IsADirectoryError for a directory (see :meth:`list_dir`)."""
        resp = self.client._send("GET", self._file_path(path), headers={"Accept": "*/*"})
        if resp.content_type == "application/json":
            resp.read()
            raise IsADirectoryError(f"{path}: is a directory")
        return resp.read()

    def download_file(self, path: str, out: IO[bytes]) -> int:
        """Copies a workspace file into a binary file object without holding
        it in memory; returns its size."""
        resp = self.client._send("GET", self._file_path(path), headers={"Accept": "*/*"})
        if resp.content_type == "application/json":
            resp.read()
            raise IsADirectoryError(f"{path}: is a directory")
        return resp.readinto_file(out)

    def write_file(self, path: str, data: FileData) -> Dict[str, Any]:
        """Writes a workspace file, creating its parent directories. ``data``
        is bytes, text (written as UTF-8) or a binary file object (sent from
        its position to its end). Returns ``{"path", "size"}`` as the daemon
        saw them. PayloadTooLarge past the daemon's file size limit."""
        if isinstance(data, str):
            body: Any = data.encode("utf-8")
        elif isinstance(data, (bytes, bytearray, memoryview)):
            body = bytes(data)
        else:
            body = data
        if not workspace_path(path):
            raise ValueError("name a file: /workspace itself cannot be written")
        resp = self.client.transport.request("PUT", self._file_path(path), body=body,
                                             content_type="application/octet-stream")
        return resp.json_object()

    def list_dir(self, path: str = "") -> DirListing:
        """A workspace directory's entries (the workspace itself by default).
        NotADirectoryError for a file."""
        resp = self.client._send("GET", self._file_path(path))
        if resp.content_type != "application/json":
            resp.close()
            raise NotADirectoryError(f"{path}: not a directory")
        return DirListing.from_json(resp.json())

    def delete_file(self, path: str) -> None:
        """Removes a workspace file, or a directory with everything in it.
        NotFound when missing."""
        if not workspace_path(path):
            raise ValueError("name a file or directory: /workspace itself cannot be removed")
        self.client._json("DELETE", self._file_path(path))

    # --- directories, as tar ----------------------------------------------------------

    def upload_dir(self, local_dir: str, remote_dir: str = "/workspace") -> int:
        """Copies a local directory's contents into the sandbox: packed here
        as a tar, written as a temporary workspace file, unpacked by the
        sandbox's ``tar`` into ``remote_dir`` (created if missing; relative
        to /workspace, or absolute, e.g. /tmp/in). Returns the number of
        entries sent. Owners are not kept (the sandbox user owns the files);
        fifos, sockets and devices are skipped."""
        name = f".warren-upload-{secrets.token_hex(8)}.tar"
        with tempfile.TemporaryFile() as tar:
            count = archive.pack(local_dir, tar)
            tar.seek(0)
            self.write_file(name, tar)
        script = 'mkdir -p -- "$1" && tar -x -f "$2" -C "$1"; rc=$?; rm -f -- "$2"; exit $rc'
        self._run_tar(script, remote_dir, name, "unpacking the upload")
        return count

    def download_dir(self, remote_dir: str, local_dir: str) -> List[str]:
        """Copies a sandbox directory's contents (relative to /workspace, or
        absolute) into ``local_dir`` (created if missing): packed by the
        sandbox's ``tar`` into a temporary workspace file, fetched, unpacked
        here. Returns the paths written, relative to ``local_dir``.

        The archive comes from the sandbox, so it is untrusted: nothing is
        written outside ``local_dir`` (see :func:`warren.archive.unpack`);
        :class:`~warren.errors.UnsafeArchive` if it tries."""
        name = f".warren-download-{secrets.token_hex(8)}.tar"
        script = 'tar -c -f "$2" --exclude="$3" -C "$1" .'
        try:
            self._run_tar(script, remote_dir, name, "packing the download", name)
            with tempfile.TemporaryFile() as tar:
                self.download_file(name, tar)
                tar.seek(0)
                return archive.unpack(tar, local_dir)
        finally:
            self._remove_quietly(name)

    def _run_tar(self, script: str, remote_dir: str, tar_name: str, what: str, *more: str) -> None:
        try:
            r = self.exec(["sh", "-c", script, "sh", remote_dir, f"/workspace/{tar_name}", *more])
        except BaseException:
            self._remove_quietly(tar_name)
            raise
        r.check(what)

    def _remove_quietly(self, name: str) -> None:
        """Removes a temporary tar; a failure here must not hide the one
        that brought us here (it is logged instead)."""
        try:
            self.delete_file(name)
        except NotFound:
            pass
        except WarrenError as exc:
            log.warning("warren: could not remove the temporary %s from session %s: %s", name, self.id, exc)

    # --- processes ---------------------------------------------------------------------

    def start_process(self, command: Command, *, env: Optional[Mapping[str, str]] = None,
                      cwd: Optional[str] = None, stdin: bool = False, pty: PtySize = None,
                      timeout: Optional[Duration] = None, tag: Optional[str] = None) -> Process:
        """Starts a command that outlives this call (``POST .../processes``):
        it runs until it exits, is signalled, reaches ``timeout`` (at most
        the policy's, which applies otherwise) or the session ends, whoever
        follows it or not.

        Args:
            command, env, cwd: as :meth:`exec`.
            stdin: keep its stdin open for :meth:`Process.write`.
            pty: a terminal of the sandbox's own: True (80x24), or
                ``(cols, rows)``; its output is then one stream (``pty``)
                and :meth:`Process.write` types into it.
            tag: a name of the caller's for it.

        Returns the :class:`~warren.process.Process`; :meth:`Process.output`
        follows it, :meth:`Process.wait` waits for its end.
        """
        body = command_fields(command)
        body.update(drop_none(env=dict(env) if env is not None else None, cwd=cwd, timeout=duration_text(timeout),
                              tag=tag, pty=pty_field(pty)))
        if stdin:
            body["stdin"] = True
        return Process(self, self.client._json("POST", self._path("/processes"), body))

    def processes(self) -> List[Process]:
        """``GET .../processes``: those running and those ended that the
        daemon still keeps, oldest first."""
        doc = self.client._json("GET", self._path("/processes"))
        return [Process(self, p) for p in doc.get("processes") or []]

    def process(self, pid: int) -> Process:
        """``GET .../processes/{pid}``; NotFound when the session has none such."""
        return Process(self, self.client._json("GET", self._path(f"/processes/{int(pid)}")))

    # --- paths ---------------------------------------------------------------------

    def _path(self, suffix: str = "") -> str:
        return self.client.session_path(self.id, suffix)

    def _file_path(self, path: str) -> str:
        return self._path("/files/" + "/".join(quote_segment(p) for p in workspace_path(path)))
