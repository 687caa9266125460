"""Pools of local worker processes that never outlive the process that started them.

When the parent of a :class:`~concurrent.futures.ProcessPoolExecutor` is
killed (``kill -9`` of a sweep's main process, ``SIGTERM`` to a dashboard
server), its idle workers keep waiting for work that will never come, each
holding a few hundred megabytes, until someone kills them by hand. Every pool
cxsim starts comes from :func:`local_pool`, whose workers watch the process
that started the pool and exit within :data:`WATCH_SECONDS` of it going away.
A run in progress in such a worker has nobody left to give its result to, so
nothing is lost.
"""

from __future__ import annotations

import multiprocessing.context
import os
import sys
import threading
import time
from concurrent.futures import ProcessPoolExecutor

#: How often a worker checks that the process that started its pool is still there.
WATCH_SECONDS = 0.5


def local_pool(workers: int, context: multiprocessing.context.BaseContext) -> ProcessPoolExecutor:
    """``workers`` processes started by ``context``, each exiting when this process is gone."""
    return ProcessPoolExecutor(
        max_workers=workers,
        mp_context=context,
        initializer=exit_with_owner,
        initargs=(os.getpid(),),
    )


def exit_with_owner(owner: int) -> None:
    """In a worker: exit as soon as process ``owner`` is gone (a daemon thread watches).

    Two signs, because each alone can miss:

    * the worker's parent changes: a process whose parent dies is given a new
      one, even while the dead parent waits, a zombie, to be collected. Workers
      that ``fork`` or ``spawn`` start are the owner's children; those
      ``forkserver`` starts are the fork server's, which exits with the owner;
    * ``owner`` no longer exists: this catches a worker that was still
      starting when the owner died, and so never saw its first parent.

    Windows is left out: there ``os.kill`` would end the owner instead of
    probing it, and its workers behave as in a plain pool.
    """
    if sys.platform == "win32":
        return
    parent = os.getppid()
    watcher = threading.Thread(
        target=_watch, args=(owner, parent), name="cxsim-exit-with-owner", daemon=True
    )
    watcher.start()


def _watch(owner: int, parent: int) -> None:
    while os.getppid() == parent and alive(owner):
        time.sleep(WATCH_SECONDS)
    os._exit(0)  # no cleanup to do: a result has nobody left to go to


def alive(pid: int) -> bool:
    """Whether process ``pid`` may still exist; when that cannot be known, it counts as alive.

    POSIX probes it with signal 0, and a process that exists but belongs to
    another user counts as alive. Windows is not probed: there ``os.kill``
    would end the process instead.
    """
    if sys.platform == "win32":
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
