"""Writing results so that a reader sees all of a file or folder, or none of it.

Every file cxsim writes goes through :func:`atomic_write` (a file) or
:func:`atomic_dir` (a folder of files): the content is written under a hidden
temporary name next to its target, flushed, ``fsync``-ed and renamed into
place, so a crash or ``kill -9`` at any moment leaves either the old target or
the complete new one. Temporary names carry the writer's host and process id,
so :func:`remove_stale_temporaries` can remove what killed writers left
behind without touching a live writer's.

Every folder :func:`atomic_dir` writes holds a marker, :data:`OUTPUT_MARKER`,
listing the files cxsim put there. :func:`check_output_folder` lets a command
replace (``--force``) only such a folder, still holding only those files, and
never the current folder or a folder above it; and it checks that the folder
can be written before any work is done.
"""

from __future__ import annotations

import json
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

from cxsim.errors import InputError
from cxsim.processes import alive
from cxsim.version import __version__

#: Temporary files and folders start with this (after a dot for folders of outputs).
TEMP_PREFIX = ".tmp-"

#: The file in every output folder cxsim writes: what wrote it, and the files it holds.
OUTPUT_MARKER = ".cxsim-output.json"


class OutputFolderError(InputError):
    """An output folder that cannot be written or must not be replaced; one line naming it."""


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


def atomic_write(
    path: Path,
    write: Callable[[IO[bytes]], None],
    *,
    durable: bool = True,
    replace: bool = True,
) -> None:
    """Write ``path`` with ``write(handle)`` so that it is either the old file or the complete new one.

    With ``replace=False`` an existing file is never replaced, even by a writer racing this
    one: the complete file is published by a hard link, which fails if the name exists.

    Raises:
        FileExistsError: with ``replace=False``, if ``path`` exists.

    """
    path = Path(path)
    temp = path.parent / temp_name(path.suffix)
    try:
        with open(temp, "wb") as handle:
            write(handle)
            handle.flush()
            if durable:
                os.fsync(handle.fileno())
        if replace:
            os.replace(temp, path)
        else:
            _publish_new(temp, path)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    if durable:
        fsync_dir(path.parent)


def _publish_new(temp: Path, path: Path) -> None:
    """Give the complete ``temp`` the name ``path`` only if no file has it."""
    try:
        os.link(temp, path)
    except FileExistsError:
        raise
    except OSError:  # a file system without hard links: check, then rename
        if path.exists():
            raise FileExistsError(path) from None
        os.replace(temp, path)
        return
    temp.unlink()


def atomic_write_bytes(
    path: Path, data: bytes, *, durable: bool = True, replace: bool = True
) -> None:
    """Write ``data`` to ``path`` atomically (``replace=False``: never over an existing file)."""
    atomic_write(path, lambda handle: handle.write(data), durable=durable, replace=replace)


def atomic_write_text(path: Path, text: str, *, durable: bool = True, replace: bool = True) -> None:
    """Write ``text`` (UTF-8) to ``path`` atomically (``replace=False``: never over an existing file)."""
    atomic_write_bytes(path, text.encode("utf-8"), durable=durable, replace=replace)


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


# --------------------------------------------------------------------------- output folders


def read_marker(folder: Path) -> dict | None:
    """The marker cxsim wrote into ``folder``, or ``None`` if it has none (or not a readable one)."""
    marker = Path(folder) / OUTPUT_MARKER
    if marker.is_symlink() or not marker.is_file():
        return None
    try:
        content = json.loads(marker.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError):
        return None
    if not isinstance(content, dict) or not isinstance(content.get("files"), list):
        return None
    return content


def _is_current_or_above(path: Path) -> bool:
    """Whether ``path`` (symbolic links resolved) is the current folder or one of its parents."""
    try:
        here = Path.cwd().resolve()
        there = path.resolve()
    except OSError:  # the current folder was removed: nothing can be above it
        return False
    return there == here or there in here.parents


def _replaceable(out: Path, option: str) -> None:
    """Raise unless ``out`` is a folder cxsim wrote that still holds only what cxsim wrote."""
    if out.is_symlink():
        raise OutputFolderError(
            f"{option} {out}: is a symbolic link; {option} takes the folder itself"
        )
    marker = read_marker(out)
    if marker is None:
        raise OutputFolderError(
            f"{option} {out}: exists and was not written by cxsim (it has no {OUTPUT_MARKER}); "
            f"--force replaces only folders cxsim wrote; choose another {option} folder"
        )
    written = {str(name) for name in marker["files"]} | {OUTPUT_MARKER}
    others = sorted(p.name for p in out.iterdir() if p.name not in written)
    if others:
        shown = ", ".join(others[:3]) + (f" and {len(others) - 3} more" if len(others) > 3 else "")
        raise OutputFolderError(
            f"{option} {out}: holds files cxsim did not write ({shown}); --force would delete "
            f"them; move them away or choose another {option} folder"
        )


def _nearest_existing(path: Path) -> Path:
    """``path`` or the nearest of its parents that exists."""
    for candidate in (path, *path.parents):
        if candidate.exists() or candidate.is_symlink():
            return candidate
    return Path(path.anchor or ".")


def _probe_writable(folder: Path, out: Path, option: str) -> None:
    """Create and remove a probe folder in ``folder``, so that a run cannot fail only at its end."""
    probe = folder / f".{out.name}.{temp_name('.probe')}"
    try:
        probe.mkdir()
        probe.rmdir()
    except OSError as err:
        reason = err.strerror or type(err).__name__
        raise OutputFolderError(f"{option} {out}: cannot write in {folder}: {reason}") from None


def check_output_folder(out: Path, force: bool = False, option: str = "--out") -> None:
    """Check, before any work, that ``out`` can be written as a new folder or replaced.

    ``out`` may be a new folder (its parents are made as needed) or, with
    ``force``, a folder cxsim wrote (it holds :data:`OUTPUT_MARKER`) that holds
    nothing else. Never the current folder or a folder above it (symbolic links
    resolved), and never a folder in which this process cannot write.

    Raises:
        OutputFolderError: one line naming ``option`` and ``out`` and what to do instead.

    """
    out = Path(out)
    if _is_current_or_above(out):
        raise OutputFolderError(
            f"{option} {out}: is the current folder or a folder above it; cxsim writes its "
            f"outputs into a folder of their own, such as {option} runs/{out.resolve().name or 'out'}"
        )
    if out.exists() or out.is_symlink():
        if not out.is_dir():
            raise OutputFolderError(f"{option} {out}: exists and is not a folder")
        if not force:
            if read_marker(out) is None:
                raise OutputFolderError(
                    f"{option} {out}: exists and was not written by cxsim; choose another "
                    f"{option} folder"
                )
            raise OutputFolderError(f"{option} {out}: already exists; use --force to replace it")
        _replaceable(out, option)
    parent = _nearest_existing(out.parent)
    if not parent.is_dir():
        raise OutputFolderError(f"{option} {out}: {parent} is not a folder")
    _probe_writable(parent, out, option)


@contextmanager
def atomic_dir(out: Path, force: bool = False, written_by: str = "cxsim") -> Iterator[Path]:
    """Yield a temporary folder next to ``out``; on success it replaces ``out``, on failure it is removed.

    The folder gets a marker (:data:`OUTPUT_MARKER`) naming ``written_by`` and
    the files written, so that a later ``force`` may replace it; ``force``
    replaces nothing else (see :func:`check_output_folder`).

    Raises:
        FileExistsError: if ``out`` exists and ``force`` is false.
        OutputFolderError: if ``out`` exists and is not a folder cxsim wrote, or is the
            current folder or above it.

    """
    out = Path(out)
    if out.exists() and not force:
        raise FileExistsError(out)
    if _is_current_or_above(out):
        raise OutputFolderError(f"{out}: is the current folder or a folder above it")
    if out.exists() or out.is_symlink():
        _replaceable(out, "output folder")
    out.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(out.parent, f".{out.name}.{TEMP_PREFIX}*")
    # mkdir (unlike mkdtemp) gives the folder the usual permissions.
    tmp = out.parent / f".{out.name}.{temp_name()}"
    tmp.mkdir()
    try:
        yield tmp
        files = sorted(p.name for p in tmp.iterdir())
        marker = {"written_by": written_by, "cxsim": __version__, "files": files}
        atomic_write_text(tmp / OUTPUT_MARKER, json.dumps(marker, indent=2) + "\n")
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
