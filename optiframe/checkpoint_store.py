"""A checkpoint folder's files: atomic writes, digests and checksums, the folder's lock,
and the checks every file a checkpoint names must pass before it is read (a plain name
inside the folder, a regular file, its checksum).

Nothing here knows what a run's state is: :mod:`optiframe.checkpoint` decides what is
written, this module how it reaches the disk and comes back whole.
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

import numpy as np

from .errors import CheckpointError
from .signals import deferred


def _write_atomically(path: Path, write: Callable[[IO[bytes]], object]) -> None:
    """Write ``path`` atomically: into a synced temporary file, then renamed over it. A
    write that fails (a full disk) removes its temporary file."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.unlink(missing_ok=True)  # a stale file (or a planted link) of this name goes first
    try:  # created exclusively, never through a link: nothing outside the folder is written
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NOFOLLOW, 0o644)
    except FileExistsError:
        raise CheckpointError(f"cannot create the temporary file {str(tmp)!r}: another "
                              "process created it at the same time") from None
    try:
        with deferred():  # (Ctrl-C waits for the file to be whole)
            with open(fd, "wb") as fh:
                write(fh)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _digest(path: Path) -> str:
    h = hashlib.blake2b(digest_size=16)
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


LOCK_NAME = ".lock"


_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)  # a link in the folder is never followed


def _lock_folder(directory: Path) -> int | None:
    """Take the checkpoint folder's lock (an OS file lock on ``.lock``, held until the run
    ends), so that two runs never write one folder; the holder's pid is in the file. A
    second writer gets an error naming the folder and the holder. Returns the lock's
    file descriptor (None where the platform has no ``fcntl``)."""
    try:
        import fcntl
    except ImportError:  # Windows: no advisory locks here
        return None
    path = directory / LOCK_NAME
    if path.is_symlink():  # the lock would write the pid into the file it points to
        raise CheckpointError(
            f"checkpoint folder {str(directory)!r}: its lock file {LOCK_NAME!r} is a symbolic "
            "link; optiframe never writes through links: remove it and run again")
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | _NOFOLLOW, 0o644)
    except OSError as exc:
        raise CheckpointError(
            f"checkpoint folder {str(directory)!r}: cannot open its lock file "
            f"{LOCK_NAME!r}: {exc.strerror or exc}") from None
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise CheckpointError(
            f"checkpoint folder {str(directory)!r}: its lock file {LOCK_NAME!r} is not a "
            "regular file; remove it and run again")
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        try:
            holder = os.pread(fd, 64, 0).decode(errors="replace").strip() or "unknown"
        finally:
            os.close(fd)
        raise CheckpointError(
            f"checkpoint folder {str(directory)!r} is in use by another run (pid "
            f"{holder}): two runs writing one folder would delete each other's files; "
            "wait for it to end, or give this run a folder of its own") from None
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
    return fd


def meta_digest(meta: dict[str, Any]) -> str:
    """The digest of a checkpoint's metadata (every entry but ``digest``), in a canonical
    form: an edited or damaged checkpoint.json no longer matches it."""
    body = {k: v for k, v in meta.items() if k != "digest"}
    text = json.dumps(body, sort_keys=True, separators=(",", ":"))
    return hashlib.blake2b(text.encode(), digest_size=16).hexdigest()


def _write_npz(path: Path, arrays: dict[str, np.ndarray]) -> None:
    _write_atomically(path, lambda fh: np.savez(fh, **arrays))  # type: ignore[arg-type]


def _regular_file(path: Path, json_path: Path, what: str) -> None:
    """Refuse, without opening it, a file that is missing or not a regular file (a FIFO
    would hang the read)."""
    try:
        mode = path.stat().st_mode
    except OSError as exc:
        raise CheckpointError(f"{json_path}: {what} {path.name} cannot be read: {exc}") from None
    if not stat.S_ISREG(mode):
        raise CheckpointError(f"{json_path}: {what} {path.name} is not a regular file")


def _plain_name(name: Any, json_path: Path, what: str) -> str:
    """A file name that a checkpoint names: a plain name inside its folder."""
    if (not isinstance(name, str) or not name or name != Path(name).name
            or name in (".", "..") or "\\" in name or "/" in name):
        raise CheckpointError(f"{json_path}: its {what} {name!r} is not a plain file name in "
                              "the checkpoint's folder")
    return name


def _check_sum(path: Path, json_path: Path, meta: dict[str, Any]) -> None:
    checksums = meta.get("checksums")
    if checksums is None and meta.get("format_version", 0) < 4:  # formats before 4 kept none
        return
    if not isinstance(checksums, dict):
        raise CheckpointError(f"{json_path}: its 'checksums' entry is missing or not a table: "
                              "every file a checkpoint names must have its checksum")
    expected = checksums.get(path.name)
    if expected is None:
        raise CheckpointError(f"{json_path}: no checksum for {path.name}")
    if _digest(path) != expected:
        raise CheckpointError(f"{json_path}: {path.name} does not match its checksum: the file "
                              "was changed or comes from another checkpoint")


def _read_npz(path: Path, json_path: Path, what: str) -> dict[str, np.ndarray]:
    try:
        with np.load(path, allow_pickle=False) as npz:
            return {name: npz[name] for name in npz.files}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile, KeyError,
            NotImplementedError, RuntimeError) as exc:
        raise CheckpointError(f"{json_path}: cannot read {what} {path.name}: "
                              f"{type(exc).__name__}: {exc}") from None


def _read_segments(json_path: Path, names: list[Any],
                   meta: dict[str, Any]) -> dict[str, np.ndarray]:
    """The history segments of a checkpoint, joined into one set of arrays."""
    parts: dict[str, list[np.ndarray]] = {}
    for name in names:
        path = json_path.parent / _plain_name(name, json_path, "history segment")
        _regular_file(path, json_path, "its history segment")
        _check_sum(path, json_path, meta)
        for key, value in _read_npz(path, json_path, "its history segment").items():
            parts.setdefault(key, []).append(value)
    joined = {}
    for key, arrays in parts.items():
        nonempty = [a for a in arrays if a.size] or arrays[:1]
        joined[key] = np.concatenate(nonempty) if len(nonempty) > 1 else nonempty[0]
    return joined
