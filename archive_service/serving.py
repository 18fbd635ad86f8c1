"""Running the HTTP API: several gunicorn worker processes, each with its own archive.

Why processes: a download spends most of its CPU in Python (HTTP parsing, Flask, SQLAlchemy,
re-hashing the object), so one process is held to one core by the GIL whatever its thread
count: on two cores, 32 clients saw p99 ≈ 61 ms from one (waitress) process and 34–39 ms from
two (``python scripts/bench.py downloads``). Worker processes share nothing but the database
and the store, which are built for several writers: the audit chain is appended under a
database-wide lock (:mod:`archive_service.audit.chain`), the test PKI and schema are created once by
the master before any worker starts.

Why a thread for (nearly) every connection: gunicorn's threaded worker parks a kept-alive
connection that has no thread free, and some of those waited 0.3–1 s for one under load; and a
worker allowed many more connections than threads may take most of the clients while the other
idles. So a worker takes one connection beyond its threads at most, and a server takes
``workers × (threads + 1)`` connections at once; others wait in the listen queue until a
kept-alive connection has been idle for gunicorn's keep-alive time (2 s).

Why a worker class of our own: gunicorn answers the requests it cannot read (a request line or
headers beyond its limits, a bare CR or LF, a folded header line, a NUL in a header) itself, with
an HTML page, before Flask sees them. :class:`JsonErrorWorker` is gunicorn's threaded worker
with only that answer replaced by the service's JSON error (:mod:`archive_service.api.
server_errors`); gunicorn's own classification of the failure decides nothing else.

Why the heap is frozen: a built app holds a few hundred thousand long-lived objects (Flask,
SQLAlchemy, pyHanko, asn1crypto, the schema validators), and CPython's cyclic collector walks all
of them on every full collection, 30–60 ms with the GIL held, stalling every download in flight
(the rest of the latency tail). Freezing the start-up heap hides those objects from the
collector for good; later collections walk only what requests allocate.
"""

from __future__ import annotations

import atexit
import contextlib
import gc
from dataclasses import dataclass
from typing import Any

from flask import Flask
from gunicorn import util
from gunicorn.app.base import BaseApplication
from gunicorn.workers.gthread import ThreadWorker

from archive_service.api.server_errors import server_refusal
from archive_service.audit.anchors import AuditCheckpoints


def freeze_startup_heap() -> None:
    """Collect once, then exempt every surviving object from future collections."""
    gc.collect()
    gc.freeze()


def create_server_app(*, checkpoint_at_exit: bool = True) -> Flask:
    """The app for one server process, its heap frozen.

    :param checkpoint_at_exit: write the chain head when this process exits (SIGTERM from docker
        stop or systemd ends gunicorn's workers normally). :class:`ArchiveServer` passes False:
        its master writes the head once, after every worker has stopped appending.
    """
    from archive_service import create_app

    app = create_app()
    checkpoints = app.extensions["archive"].checkpoints
    if checkpoints is not None:
        _start_anchoring(checkpoints, checkpoint_at_exit=checkpoint_at_exit)
    freeze_startup_heap()
    return app


def _start_anchoring(checkpoints: AuditCheckpoints, *, checkpoint_at_exit: bool) -> None:
    """This process's audit anchoring: the head it finds is anchored now, before the process
    serves (a worker killed before its next anchor left events uncovered, and gunicorn's
    replacement covers them), then the job (:mod:`archive_service.audit.anchor_job`) anchors at
    least every anchoring window while this process appends events, and once more at exit."""
    from archive_service.audit.anchor_job import AnchorJob

    checkpoints.write_best_effort()
    job = AnchorJob(checkpoints, anchor_on_start=False).start()

    def at_exit() -> None:
        job.stop()
        if checkpoint_at_exit:
            checkpoints.write_best_effort()

    atexit.register(at_exit)


class JsonErrorWorker(ThreadWorker):  # type: ignore[misc]
    """gunicorn's ``gthread`` worker whose own error answers are the API's JSON, not HTML.

    ``worker_class`` names a subclass of gunicorn's Worker, the documented way to change a
    worker; :meth:`handle_error` is the one place gunicorn's workers answer a request they
    could not read or run. It logs like gunicorn (a warning for the client's errors, the
    traceback for ours); ``serve`` writes no access log, so none is written here either.
    """

    def handle_error(self, req: Any, client: Any, addr: Any, exc: BaseException) -> None:
        refusal = server_refusal(exc, limit_request_line=self.cfg.limit_request_line)
        if refusal.status >= 500:
            self.log.exception("Error handling request %s", getattr(req, "uri", "(no URI read)"))
        else:
            ip = addr[0] if addr else ""
            # The exception's text can hold the client's header values (a token, control
            # characters): the log names the kind of refusal and the part of the request.
            self.log.warning(
                "Invalid request from ip=%s: %s %s at %s",
                ip,
                refusal.status,
                type(exc).__name__,
                refusal.path,
            )
        with contextlib.suppress(Exception):
            util.write_nonblock(client, refusal.http_response())


@dataclass(frozen=True)
class ServerOptions:
    host: str = "127.0.0.1"
    port: int = 8080
    #: Worker processes; each holds one archive (database pool, store, signer).
    workers: int = 2
    #: Request threads per worker, which is also how many connections a worker takes.
    threads: int = 16
    #: Seconds a request may run before its worker is replaced (uploads render and sign).
    timeout: int = 120

    @property
    def address(self) -> str:
        """``host:port`` as gunicorn binds it and a URL names it."""
        return f"{_bracketed(self.host)}:{self.port}"


class ArchiveServer(BaseApplication):  # type: ignore[misc]
    """gunicorn, configured here rather than by a command line or config file.

    :param checkpoints: where the master writes the chain head once all workers have stopped.
    """

    def __init__(self, options: ServerOptions, checkpoints: AuditCheckpoints | None) -> None:
        self.options = options
        self.checkpoints = checkpoints
        super().__init__()

    def _on_exit(self, _arbiter: object) -> None:
        if self.checkpoints is not None:
            self.checkpoints.write_best_effort()

    def load_config(self) -> None:
        options = self.options
        settings: dict[str, Any] = {
            "bind": [options.address],
            "workers": options.workers,
            "worker_class": JsonErrorWorker,
            "threads": options.threads,
            # One more than the threads (gunicorn warns without room for a kept-alive one): a
            # worker then takes at most one connection beyond its threads, so the clients
            # spread over the workers instead of piling onto whichever accepts fastest.
            "worker_connections": options.threads + 1,
            "timeout": options.timeout,
            "proc_name": "journal-archive",
            # gunicorn's runtime control socket (resize, reload, stop) is one more way in that
            # nothing here uses, and by default it lands in the service user's home folder.
            "control_socket_disable": True,
            # The limits of a request the README and the OpenAPI spec promise (gunicorn's
            # defaults, fixed here): beyond them the request is refused with 414 or 431, in JSON.
            "limit_request_line": 4094,
            "limit_request_fields": 100,
            "limit_request_field_size": 8190,
            "on_exit": self._on_exit,
        }
        for name, value in settings.items():
            self.cfg.set(name, value)

    def load(self) -> Flask:
        return create_server_app(checkpoint_at_exit=False)


def _bracketed(host: str) -> str:
    """An IPv6 address in a ``host:port`` bind needs brackets (``[::1]:8080``)."""
    return f"[{host}]" if ":" in host and not host.startswith("[") else host
