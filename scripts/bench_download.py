#!/usr/bin/env python3
"""Download latency with the audit log on: a real server, many keep-alive clients.

Usage: python scripts/bench_download.py [--clients 32] [--requests 15000] [--max-seconds 120]
                                        [--workers 2] [--server-threads 16] [--client go|python]

Runs on a throw-away embedded default (SQLite, filesystem store, test PKI) in a temp folder
(with ``ARCHIVE_DATABASE_URL`` set, on that PostgreSQL database instead):
ingests one example journal, starts ``archive-service serve`` on a free loopback port (as
``scripts/serve.sh`` and the Dockerfile do; ``--workers 1`` shows what one process can do),
warms it up, lets each client download the signed PDF over its own keep-alive connection
until the request budget or the time cap is spent, then prints p50/p95/p99 latency
and throughput, stops the server (which checkpoints the chain head) and checks the audit chain:
intact, with exactly one event per download.

The default client is ``scripts/loadgen.go`` (built with the Go toolchain before the server
starts): a Python client costs about as much CPU per request as the server, and on a small
machine it would compete with the server for the same cores, so its figures are of both. The
Python client (``--client python``, one ``requests.Session`` per thread) is kept to compare.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import requests

REPO = Path(__file__).resolve().parents[1]
EXAMPLE = REPO / "schemas" / "examples" / "journal-7b.json"
LOADGEN = REPO / "scripts" / "loadgen.go"
CLI = [sys.executable, "-m", "archive_service.cli"]


def _cli(env: dict[str, str], *args: str) -> str:
    return _run(env, *args, check=True).stdout


def _run(env: dict[str, str], *args: str, check: bool = False) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CLI, *args], check=check, env=env, capture_output=True, text=True)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_ready(base: str, process: subprocess.Popen[bytes]) -> None:
    for _ in range(600):
        if process.poll() is not None:
            sys.exit("the server exited before it was ready")
        try:
            if requests.get(f"{base}/healthz", timeout=2).status_code == 200:
                return
        except requests.ConnectionError:
            time.sleep(0.1)
    sys.exit("the server did not become ready")


def _server_command(args: argparse.Namespace, port: int) -> tuple[list[str], str]:
    """The command line and a one-line description of the server configuration."""
    command = [*CLI, "serve", "--port", str(port)]
    command += ["--workers", str(args.workers), "--threads", str(args.server_threads)]
    described = f"archive-service serve, {args.workers} processes × {args.server_threads} threads"
    return command, described


# ------------------------------------------------------------------ clients


def _build_loadgen(folder: Path) -> Path:
    go = shutil.which("go")
    if go is None:
        sys.exit("the Go client needs the Go toolchain (or run with --client python)")
    binary = folder / "loadgen"
    subprocess.run([go, "build", "-o", str(binary), str(LOADGEN)], check=True)
    return binary


@dataclass(frozen=True)
class Load:
    """What the clients ask for."""

    url: str
    headers: dict[str, str]
    sha256: str
    clients: int
    max_seconds: float


@dataclass(frozen=True)
class Outcome:
    latencies: list[float]  # seconds, successful downloads only
    failures: int
    seconds: float
    per_client: list[int]  # successful downloads of each client
    #: Each client's first download, which includes opening its connection (Go client only).
    first: list[float] = field(default_factory=list)


def _run_go(binary: Path, load: Load, total: int) -> Outcome:
    command = [str(binary), "-url", load.url, "-clients", str(load.clients)]
    command += ["-requests", str(total), "-max-seconds", str(load.max_seconds)]
    command += ["-sha256", load.sha256]
    for name, value in load.headers.items():
        command += ["-H", f"{name}: {value}"]
    out = json.loads(subprocess.run(command, check=True, capture_output=True, text=True).stdout)
    if out["failures"]:
        print(f"  first failure: {out['first_error']}")
    latencies = [ms / 1000 for ms in out["latency_ms"] or []]
    first = [ms / 1000 for ms in out.get("first_ms") or []]
    return Outcome(latencies, out["failures"], out["seconds"], out["per_client"] or [], first)


class Budget:
    """Hands out request slots until the count or the deadline runs out."""

    def __init__(self, total: int, seconds: float) -> None:
        self._left = total
        self._deadline = time.monotonic() + seconds
        self._lock = threading.Lock()

    def take(self) -> bool:
        with self._lock:
            if self._left <= 0 or time.monotonic() > self._deadline:
                return False
            self._left -= 1
            return True


def _python_client(load: Load, budget: Budget, out: list[tuple[list[float], int]]) -> None:
    latencies, failures = [], 0
    with requests.Session() as session:
        while budget.take():
            started = time.perf_counter()
            response = session.get(load.url, headers=load.headers, timeout=60)
            body = response.content
            elapsed = time.perf_counter() - started
            if response.status_code == 200 and response.headers["X-Content-SHA256"] == load.sha256:
                latencies.append(elapsed)
            else:
                failures += 1
            del body
    out.append((latencies, failures))


def _run_python(load: Load, total: int) -> Outcome:
    budget = Budget(total, load.max_seconds)
    results: list[tuple[list[float], int]] = []
    threads = [
        threading.Thread(target=_python_client, args=(load, budget, results))
        for _ in range(load.clients)
    ]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - started
    return Outcome(
        [value for chunk, _ in results for value in chunk],
        sum(failed for _, failed in results),
        wall,
        [len(chunk) for chunk, _ in results],
    )


# --------------------------------------------------------------------- main


def _percentile(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=1000, method="inclusive")[int(q * 10) - 1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--requests", type=int, default=15000, help="measured downloads")
    parser.add_argument("--warmup", type=int, default=200, help="downloads before measuring")
    parser.add_argument("--max-seconds", type=float, default=120, help="hard time cap")
    parser.add_argument("--workers", type=int, default=2, help="server processes")
    parser.add_argument("--server-threads", type=int, default=16, help="threads per process")
    parser.add_argument("--client", choices=("go", "python"), default="go")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        env = {
            **os.environ,
            "ARCHIVE_DATA_DIR": str(Path(tmp) / "var"),
            "ARCHIVE_RENDER_IN_PROCESS": "true",
        }
        loadgen = _build_loadgen(Path(tmp)) if args.client == "go" else None
        out = _cli(env, "ingest", str(EXAMPLE))
        document_id = out.split("archived as document ")[1].split()[0]
        inspector = _cli(env, "tokens", "create", "--role", "inspector").strip()
        port = _free_port()
        base = f"http://127.0.0.1:{port}"
        command, described = _server_command(args, port)
        log_path = Path(tmp) / "server.log"
        with log_path.open("wb") as log_file:
            server = subprocess.Popen(
                command, env=env, stdout=log_file, stderr=subprocess.STDOUT, cwd=REPO
            )
            try:
                _wait_ready(base, server)
                url = f"{base}/api/v1/documents/{document_id}/pdf"
                headers = {"Authorization": f"Bearer {inspector}", "X-Purpose": "benchmark"}
                first = requests.get(url, headers=headers, timeout=60)  # audited too
                first.raise_for_status()
                sha256 = first.headers["X-Content-SHA256"]
                size = len(first.content)

                load = Load(url, headers, sha256, args.clients, args.max_seconds)

                def run(total: int) -> Outcome:
                    if loadgen is not None:
                        return _run_go(loadgen, load, total)
                    return _run_python(load, total)

                warmed = run(args.warmup) if args.warmup else Outcome([], 0, 0.0, [])
                measured = run(args.requests)
            finally:
                server.terminate()
                server.wait(timeout=60)

        latencies = measured.latencies
        print(
            f"{len(latencies)} downloads of a {size / 1024:.0f} KiB signed PDF, "
            f"{args.clients} keep-alive clients ({args.client}), {measured.failures} failed"
        )
        database = "PostgreSQL" if "ARCHIVE_DATABASE_URL" in os.environ else "SQLite"
        print(f"  server: {described}; {database} + filesystem store, audit on")
        if len(latencies) > 1:
            print(
                f"  latency p50 {statistics.median(latencies) * 1000:7.1f} ms   "
                f"p95 {_percentile(latencies, 95) * 1000:7.1f} ms   "
                f"p99 {_percentile(latencies, 99) * 1000:7.1f} ms   "
                f"max {max(latencies) * 1000:7.1f} ms"
            )
        throughput = len(latencies) / measured.seconds if measured.seconds else 0.0
        print(f"  throughput {throughput:7.1f} downloads/s over {measured.seconds:.1f} s")
        if measured.first:
            print(
                f"  first download of each connection (opening it included): "
                f"median {statistics.median(measured.first) * 1000:.1f} ms, "
                f"slowest {max(measured.first) * 1000:.1f} ms"
            )
        if measured.per_client:
            print(
                f"  downloads per client: fewest {min(measured.per_client)}, "
                f"most {max(measured.per_client)}"
            )

        verified = _run(env, "audit", "verify")
        exported = _cli(env, "audit", "export", "--action", "retrieve_pdf")
        audited = sum(1 for line in exported.splitlines() if json.loads(line)["outcome"] == "ok")
        downloads = 1 + len(warmed.latencies) + len(latencies)
        verdict = verified.stdout.strip().splitlines()[-1]
        print(f"  audit verify: {verdict} (exit {verified.returncode})")
        print(f"  audited downloads {audited}, successful downloads {downloads}")
        if verified.returncode != 0 or audited != downloads or measured.failures or warmed.failures:
            sys.exit("audit check FAILED")


if __name__ == "__main__":
    main()
