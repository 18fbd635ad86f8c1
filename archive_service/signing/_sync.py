"""Run pyHanko's coroutines from the service's synchronous threads.

pyHanko's sync wrappers call ``asyncio.run()``, which fails inside a running event loop (see
NOTES.md). The room is written against the ``async_*`` APIs and this one helper decides how to
drive them: directly when no loop runs in this thread (Flask under gunicorn, the normal case),
else on a short-lived helper thread so the caller's loop is left alone.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

T = TypeVar("T")


def run_sync(coroutine: Coroutine[Any, Any, T]) -> T:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coroutine)
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="pyhanko") as pool:
        return pool.submit(asyncio.run, coroutine).result()
