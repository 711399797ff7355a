"""Directories as tar archives, for uploads and downloads.

Uploads are packed here with :mod:`tarfile` and unpacked in the sandbox by
its own ``tar``. Downloads are packed by the sandbox and unpacked here, so
the archive is untrusted: :func:`unpack` writes only regular files and
directories below the destination, never through a symbolic link, and
creates a symbolic link only when it points inside the destination.
"""

from __future__ import annotations

import logging
import os
import stat
import tarfile
from typing import IO, List, Optional

from .errors import UnsafeArchive

log = logging.getLogger("warren")


def pack(local_dir: str, out: IO[bytes]) -> int:
    """Writes ``local_dir``'s contents (not the directory itself) as an
    uncompressed tar to ``out``; returns how many entries it holds.
    Owners are left out (the sandbox user owns what it unpacks); fifos,
    sockets and device nodes are skipped: a sandbox cannot create them."""
    if not os.path.isdir(local_dir):
        raise NotADirectoryError(f"{local_dir}: not a directory")
    count = 0

    def scrub(info: tarfile.TarInfo) -> Optional[tarfile.TarInfo]:
        nonlocal count
        if not (info.isfile() or info.isdir() or info.issym() or info.islnk()):
            log.warning("warren: upload skips %s: not a file, directory or link", info.name)
            return None
        info.uid = info.gid = 0
        info.uname = info.gname = ""
        count += 1
        return info

    with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name in sorted(os.listdir(local_dir)):
            tar.add(os.path.join(local_dir, name), arcname=name, recursive=True, filter=scrub)
    return count


def member_path(name: str) -> Optional[str]:
    """The member's path relative to the destination, normalised; None for
    the archive's root (``.``). Raises UnsafeArchive for an absolute path or
    one that climbs out with ``..``."""
    if name.startswith("/") or "\0" in name:
        raise UnsafeArchive(f"archive member {name!r} has an absolute path")
    parts = [p for p in name.split("/") if p not in ("", ".")]
    if ".." in parts:
        raise UnsafeArchive(f"archive member {name!r} climbs out of the destination")
    return "/".join(parts) or None


def _inside(root: str, path: str) -> bool:
    return path == root or path.startswith(root + os.sep)


def unpack(archive: IO[bytes], dest: str) -> List[str]:
    """Unpacks a tar from a sandbox into ``dest`` (created if missing);
    returns the paths written, relative to ``dest``.

    Every member name is checked before anything is written (UnsafeArchive
    for an absolute path or ``..``). Files are created with ``O_NOFOLLOW``
    in directories checked to resolve inside ``dest``; modes keep their
    permission bits less setuid, setgid, sticky and group/other write; no
    owner is set. Hard links become copies. A symbolic link is created only
    when it is relative and resolves inside ``dest``; others, and devices,
    fifos and sockets, are skipped with a warning on the ``warren`` logger."""
    os.makedirs(dest, exist_ok=True)
    root = os.path.realpath(dest)
    written: List[str] = []
    links: List[str] = []
    with tarfile.open(fileobj=archive, mode="r:") as tar:
        members = tar.getmembers()
        for m in members:
            member_path(m.name)  # refuse the whole archive before writing any of it
        for m in members:
            rel = member_path(m.name)
            if rel is None:
                continue
            target = os.path.join(root, *rel.split("/"))
            parent = os.path.dirname(target)
            # Checked before creating it: an earlier member may be a link.
            if not _inside(root, os.path.realpath(parent)):
                log.warning("warren: download skips %s: its directory leads outside %s", rel, dest)
                continue
            os.makedirs(parent, exist_ok=True)
            if m.isdir():
                _make_dir(target, m.mode)
            elif m.isfile() or m.islnk():
                src = tar.extractfile(m)
                if src is None:
                    log.warning("warren: download skips %s: no data in the archive", rel)
                    continue
                _write_file(target, src, m.mode)
            elif m.issym():
                if not _safe_link(root, target, m.linkname):
                    log.warning("warren: download skips link %s -> %s: it points outside %s", rel, m.linkname,
                                dest)
                    continue
                if os.path.lexists(target) and not os.path.isdir(target):
                    os.unlink(target)
                os.symlink(m.linkname, target)
                links.append(rel)
            else:
                log.warning("warren: download skips %s: not a file, directory or link", rel)
                continue
            written.append(rel)
    # A link checked when it was made can point elsewhere once later members
    # exist ("a" -> "x/.." and then "x" -> "."): check them all again at the end.
    for rel in links:
        target = os.path.join(root, *rel.split("/"))
        if not _inside(root, os.path.realpath(target)):
            log.warning("warren: download removes link %s: it now points outside %s", rel, dest)
            os.unlink(target)
            written.remove(rel)
    return written


def _mode(mode: int) -> int:
    return stat.S_IMODE(mode) & 0o755


def _make_dir(target: str, mode: int) -> None:
    if os.path.islink(target):
        os.unlink(target)
    os.makedirs(target, exist_ok=True)
    os.chmod(target, _mode(mode) | 0o700)  # we must still be able to write into it


def _write_file(target: str, src: IO[bytes], mode: int) -> None:
    if os.path.islink(target):
        os.unlink(target)  # replace the link itself, never write through it
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    with os.fdopen(fd, "wb") as out:
        while True:
            chunk = src.read(1 << 16)
            if not chunk:
                break
            out.write(chunk)
        os.fchmod(out.fileno(), _mode(mode))


def _safe_link(root: str, target: str, linkname: str) -> bool:
    if not linkname or linkname.startswith("/"):
        return False
    resolved = os.path.realpath(os.path.join(os.path.dirname(target), linkname))
    return _inside(root, resolved)
