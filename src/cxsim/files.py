"""Writing results so that a reader sees all of a file or folder, or none of it.

Every file cxsim writes goes through :func:`atomic_write` (a file) or
:func:`atomic_dir` (a folder of files): the content is written under a hidden
temporary name next to its target, flushed, ``fsync``-ed and renamed into
place, so a crash or ``kill -9`` at any moment leaves either the old target or
the complete new one. Temporary names carry the writer's host and process id,
so :func:`remove_stale_temporaries` can remove what killed writers left
behind without touching a live writer's.
"""

from __future__ import annotations

import os
import shutil
import socket
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

import pyarrow as pa
import pyarrow.parquet as pq

from cxsim.processes import alive

#: Temporary files and folders start with this (after a dot for folders of outputs).
TEMP_PREFIX = ".tmp-"


def fsync_dir(path: Path) -> None:
    """Make a rename in ``path`` durable (no-op where folders cannot be opened, e.g. Windows)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def temp_name(suffix: str = "") -> str:
    """A hidden temporary name that says which host and process is writing it."""
    return f"{TEMP_PREFIX}{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:12]}{suffix}"


def atomic_write(path: Path, write: Callable[[IO[bytes]], None], *, durable: bool = True) -> None:
    """Write ``path`` with ``write(handle)`` so that it is either the old file or the complete new one."""
    path = Path(path)
    temp = path.parent / temp_name(path.suffix)
    try:
        with open(temp, "wb") as handle:
            write(handle)
            handle.flush()
            if durable:
                os.fsync(handle.fileno())
        os.replace(temp, path)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    if durable:
        fsync_dir(path.parent)


def atomic_write_bytes(path: Path, data: bytes, *, durable: bool = True) -> None:
    """Write ``data`` to ``path`` atomically."""
    atomic_write(path, lambda handle: handle.write(data), durable=durable)


def atomic_write_text(path: Path, text: str, *, durable: bool = True) -> None:
    """Write ``text`` (UTF-8) to ``path`` atomically."""
    atomic_write_bytes(path, text.encode("utf-8"), durable=durable)


def atomic_write_table(path: Path, table: pa.Table) -> None:
    """Write a Parquet file (zstd) durably and atomically."""
    atomic_write(path, lambda handle: pq.write_table(table, handle, compression="zstd"))


def _writer_of(name: str) -> tuple[str, int] | None:
    """(host, pid) of the writer of a temporary file or folder named by :func:`temp_name`."""
    start = name.find(TEMP_PREFIX)
    if start < 0:
        return None
    rest = name[start + len(TEMP_PREFIX) :]
    head, _, tail = rest.rpartition("-")
    host, _, pid = head.rpartition("-")
    if not (host and pid.isdigit() and tail):
        return None
    return host, int(pid)


def remove_stale_temporaries(folder: Path, pattern: str = f"*{TEMP_PREFIX}*") -> list[Path]:
    """Remove temporary files and folders in ``folder`` left by writers on this host that are gone.

    A live writer's temporaries, and those of writers on other hosts (which this
    process cannot see), are kept. Returns what was removed.
    """
    removed: list[Path] = []
    if not Path(folder).is_dir():
        return removed
    host = socket.gethostname()
    for temp in Path(folder).glob(pattern):
        writer = _writer_of(temp.name)
        if writer is None or writer[0] != host or alive(writer[1]):
            continue
        if temp.is_dir() and not temp.is_symlink():
            shutil.rmtree(temp, ignore_errors=True)
        else:
            temp.unlink(missing_ok=True)
        removed.append(temp)
    return removed


@contextmanager
def atomic_dir(out: Path, force: bool = False) -> Iterator[Path]:
    """Yield a temporary folder next to ``out``; on success it replaces ``out``, on failure it is removed.

    Raises:
        FileExistsError: if ``out`` exists and ``force`` is false.

    """
    out = Path(out)
    if out.exists() and not force:
        raise FileExistsError(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(out.parent, f".{out.name}.{TEMP_PREFIX}*")
    # mkdir (unlike mkdtemp) gives the folder the usual permissions.
    tmp = out.parent / f".{out.name}.{temp_name()}"
    tmp.mkdir()
    try:
        yield tmp
        if out.exists():
            old = out.parent / f".{out.name}.{temp_name('.old')}"
            os.replace(out, old)
            os.replace(tmp, out)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, out)
        fsync_dir(out.parent)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
