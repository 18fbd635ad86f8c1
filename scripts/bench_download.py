#!/usr/bin/env python3
"""Download latency with the audit log on: a real `archive-service serve`, many clients.

Usage: python scripts/bench_download.py [--clients 32] [--requests 2000] [--max-seconds 120]
                                        [--server-threads 8]

Runs on a throw-away embedded default (SQLite, filesystem store, test PKI) in a temp folder:
ingests one example journal, starts the server on a free loopback port, lets each client thread
(one ``requests.Session`` each) download the signed PDF until the request budget or the time cap
is spent, then prints p50/p99 latency and throughput, stops the server (which checkpoints the
chain head) and checks the audit chain: intact, with exactly one event per download.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import requests

REPO = Path(__file__).resolve().parents[1]
EXAMPLE = REPO / "schemas" / "examples" / "journal-7b.json"
CLI = [sys.executable, "-m", "archive_service.cli"]


def _cli(env: dict[str, str], *args: str) -> str:
    return subprocess.run([*CLI, *args], check=True, **_captured(env)).stdout


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


def _client(url: str, headers: dict[str, str], sha256: str, budget: Budget, out: list) -> None:
    latencies, failures = [], 0
    with requests.Session() as session:
        while budget.take():
            started = time.perf_counter()
            response = session.get(url, headers=headers, timeout=60)
            body = response.content
            elapsed = time.perf_counter() - started
            if response.status_code == 200 and response.headers["X-Content-SHA256"] == sha256:
                latencies.append(elapsed)
            else:
                failures += 1
            del body
    out.append((latencies, failures))


def _percentile(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=1000, method="inclusive")[int(q * 10) - 1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--requests", type=int, default=2000, help="total downloads")
    parser.add_argument("--max-seconds", type=float, default=120, help="hard time cap")
    parser.add_argument("--server-threads", type=int, default=8)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        env = {
            **os.environ,
            "ARCHIVE_DATA_DIR": str(Path(tmp) / "var"),
            "ARCHIVE_RENDER_IN_PROCESS": "true",
        }
        out = _cli(env, "ingest", str(EXAMPLE))
        document_id = out.split("archived as document ")[1].split()[0]
        inspector = _cli(env, "tokens", "create", "--role", "inspector").strip()
        port = _free_port()
        base = f"http://127.0.0.1:{port}"
        log_path = Path(tmp) / "server.log"
        with log_path.open("wb") as log_file:
            server = subprocess.Popen(
                [*CLI, "serve", "--port", str(port), "--threads", str(args.server_threads)],
                env=env,
                stdout=log_file,
                stderr=subprocess.STDOUT,
            )
            try:
                _wait_ready(base, server)
                url = f"{base}/api/v1/documents/{document_id}/pdf"
                headers = {"Authorization": f"Bearer {inspector}", "X-Purpose": "benchmark"}
                first = requests.get(url, headers=headers, timeout=60)  # warm-up, audited too
                first.raise_for_status()
                sha256 = first.headers["X-Content-SHA256"]
                size = len(first.content)

                budget = Budget(args.requests, args.max_seconds)
                results: list[tuple[list[float], int]] = []
                threads = [
                    threading.Thread(target=_client, args=(url, headers, sha256, budget, results))
                    for _ in range(args.clients)
                ]
                started = time.perf_counter()
                for thread in threads:
                    thread.start()
                for thread in threads:
                    thread.join()
                wall = time.perf_counter() - started
            finally:
                server.terminate()
                server.wait(timeout=60)

        latencies = [value for chunk, _ in results for value in chunk]
        failures = sum(failed for _, failed in results)
        print(
            f"{len(latencies)} downloads of a {size / 1024:.0f} KiB signed PDF, "
            f"{args.clients} clients, {args.server_threads} server threads, {failures} failed"
        )
        if latencies:
            print(
                f"  latency p50 {statistics.median(latencies) * 1000:7.1f} ms   "
                f"p99 {_percentile(latencies, 99) * 1000:7.1f} ms   "
                f"max {max(latencies) * 1000:7.1f} ms"
            )
        print(f"  throughput {len(latencies) / wall:7.1f} downloads/s over {wall:.1f} s")

        verified = subprocess.run([*CLI, "audit", "verify"], **_captured(env))
        exported = _cli(env, "audit", "export", "--action", "retrieve_pdf")
        audited = sum(1 for line in exported.splitlines() if json.loads(line)["outcome"] == "ok")
        downloads = len(latencies) + 1  # and the warm-up
        verdict = verified.stdout.strip().splitlines()[-1]
        print(f"  audit verify: {verdict} (exit {verified.returncode})")
        print(f"  audited downloads {audited}, successful downloads {downloads}")
        if verified.returncode != 0 or audited != downloads:
            sys.exit("audit check FAILED")


def _captured(env: dict[str, str]) -> dict[str, object]:
    return {"env": env, "capture_output": True, "text": True}


if __name__ == "__main__":
    main()
