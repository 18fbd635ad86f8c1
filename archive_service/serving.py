"""What a long-running server process does once its app is built, before it takes requests.

A built app holds a few hundred thousand long-lived objects (Flask, SQLAlchemy, pyHanko,
asn1crypto, the schema validators). CPython's cyclic garbage collector walks all of them on
every full (oldest-generation) collection: 30–60 ms with the GIL held, during which no thread
of the process runs. Under load a full collection comes every few thousand requests and
stalls every download in flight, which is most of the latency tail. Freezing the start-up heap
moves those objects out of the collector's sight for good: they live as long as the process
anyway, and later collections walk only what requests allocate.
"""

from __future__ import annotations

import gc


def freeze_startup_heap() -> None:
    """Collect once, then exempt every surviving object from future collections."""
    gc.collect()
    gc.freeze()
