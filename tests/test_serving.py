"""How `archive-service serve` configures gunicorn (the server itself runs in test_live_server)."""

from __future__ import annotations

import gc

from gunicorn.workers.gthread import ThreadWorker

from archive_service.serving import (
    ArchiveServer,
    JsonErrorWorker,
    ServerOptions,
    freeze_startup_heap,
)


def test_workers_threads_and_connections() -> None:
    cfg = ArchiveServer(ServerOptions("127.0.0.1", 8081, workers=3, threads=4), None).cfg
    assert cfg.bind == ["127.0.0.1:8081"]
    assert (cfg.workers, cfg.threads) == (3, 4)
    # gunicorn's threaded worker, answering the requests it cannot read in JSON (not HTML).
    assert cfg.worker_class is JsonErrorWorker and issubclass(JsonErrorWorker, ThreadWorker)
    # One connection beyond the threads: none waits long for a thread, and clients spread out.
    assert cfg.worker_connections == 5
    assert cfg.control_socket_disable is True
    # The request limits the API documents (414 and 431 beyond them, answered in JSON).
    assert (cfg.limit_request_line, cfg.limit_request_fields, cfg.limit_request_field_size) == (
        4094,
        100,
        8190,
    )


def test_an_ipv6_address_is_bracketed() -> None:
    options = ServerOptions("::1", 8080)
    assert options.address == "[::1]:8080"
    assert ArchiveServer(options, None).cfg.bind == ["[::1]:8080"]
    assert ServerOptions("[::1]", 8080).address == "[::1]:8080"


def test_the_start_up_heap_is_hidden_from_the_collector() -> None:
    gc.unfreeze()
    try:
        freeze_startup_heap()
        assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()
