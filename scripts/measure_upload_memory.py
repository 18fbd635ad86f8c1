#!/usr/bin/env python3
"""Upload one large journal to a real `archive-service serve` and report the service's memory.

Starts the server on a throw-away embedded default (its own data folder, a free loopback
port), uploads a synthetic journal made by scripts/generate_journal.py, and samples every
process of the server (gunicorn master and workers, the render fork server and its worker)
every 50 ms: the peak of their summed resident set (RSS), the peak of their summed
proportional set (PSS: shared pages split between the processes sharing them), and the peak of
the largest single process. Then it uploads the small example journal to show the service still
archives, and stops the server.

Usage::

    python scripts/measure_upload_memory.py [--pupils 580 --pretty] [--render-memory-mb 1024]

``--render-memory-mb 0`` runs without the render worker's memory cap (the behaviour before
ARCHIVE_RENDER_MEMORY_MB existed). A measurement, not a test: nothing is asserted.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import requests

REPO = Path(__file__).resolve().parents[1]
CLI = [sys.executable, "-m", "archive_service.cli"]
MIB = 2**20


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _tree(root: int) -> list[int]:
    """``root`` and every process descending from it."""
    parents: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        parents.setdefault(ppid, []).append(int(entry.name))
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(parents.get(pid, []))
    return found


def _kib(path: Path, field: str) -> int:
    try:
        for line in path.read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def _role(pid: int) -> str:
    try:
        cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return "?"
    if "forkserver" in cmd:
        return "render worker or its fork server"
    if "resource_tracker" in cmd:
        return "multiprocessing resource tracker"
    return "gunicorn (master or request worker)"


class Sampler(threading.Thread):
    def __init__(self, root: int) -> None:
        super().__init__(daemon=True)
        self.root = root
        self.stop = threading.Event()
        self.peak_rss = self.peak_pss = 0
        #: pid → (peak RSS, command line)
        self.per_process: dict[int, tuple[int, str]] = {}

    def run(self) -> None:
        while not self.stop.is_set():
            rss = pss = 0
            for pid in _tree(self.root):
                proc = Path(f"/proc/{pid}")
                one = _kib(proc / "status", "VmRSS") * 1024
                rss += one
                pss += _kib(proc / "smaps_rollup", "Pss") * 1024
                if one > self.per_process.get(pid, (0, ""))[0]:
                    self.per_process[pid] = (one, self.per_process.get(pid, (0, _role(pid)))[1])
            self.peak_rss = max(self.peak_rss, rss)
            self.peak_pss = max(self.peak_pss, pss)
            time.sleep(0.05)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pupils", type=int, default=580)
    parser.add_argument("--subjects", type=int, default=18)
    parser.add_argument("--pretty", action="store_true", default=True)
    parser.add_argument("--compact", dest="pretty", action="store_false")
    parser.add_argument("--render-memory-mb", type=int, default=1024)
    args = parser.parse_args()

    sys.path.insert(0, str(REPO / "scripts"))
    from generate_journal import export_to_json, generate_export

    export = generate_export(pupils=args.pupils, subjects=args.subjects, grade=7, seed=0)
    body = export_to_json(export, pretty=args.pretty)
    print(f"journal: {args.pupils} pupils, {args.subjects} subjects, {len(body) / MIB:.1f} MiB")

    with tempfile.TemporaryDirectory(prefix="measure-upload-") as folder:
        env = {
            **os.environ,
            "ARCHIVE_DATA_DIR": folder,
            "ARCHIVE_RENDER_MEMORY_MB": str(args.render_memory_mb),
            "ARCHIVE_MAX_UPLOAD_BYTES": str(max(len(body) + 1, 32 * MIB)),
        }
        env.pop("ARCHIVE_DATABASE_URL", None)
        token = subprocess.run(
            [*CLI, "tokens", "create", "--role", "admin"],
            env=env,
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()
        port = _free_port()
        base = f"http://127.0.0.1:{port}"
        log = Path(folder) / "server.log"
        with log.open("wb") as log_file:
            server = subprocess.Popen(
                [*CLI, "serve", "--port", str(port)], env=env, stdout=log_file, stderr=log_file
            )
            try:
                for _ in range(600):
                    try:
                        if requests.get(f"{base}/healthz", timeout=2).status_code == 200:
                            break
                    except requests.ConnectionError:
                        time.sleep(0.1)
                headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
                sampler = Sampler(server.pid)
                sampler.start()
                time.sleep(0.5)
                idle_rss = sampler.peak_rss
                started = time.perf_counter()
                answer = requests.post(
                    f"{base}/api/v1/journals", data=body, headers=headers, timeout=600
                )
                seconds = time.perf_counter() - started
                time.sleep(0.5)
                sampler.stop.set()
                sampler.join()
                try:
                    outcome = answer.json()
                except ValueError:
                    outcome = {"body": answer.text[:200]}
                summary = outcome.get("error", {}).get("code") or outcome.get("signature_level")
                cap = f"{args.render_memory_mb} MiB" if args.render_memory_mb else "none"
                print(f"render memory cap: {cap}")
                print(f"upload: {answer.status_code} {summary} in {seconds:.1f} s")
                if "error" in outcome:
                    print(f"  message: {outcome['error']['message']}")
                print(f"service idle (sum of RSS): {idle_rss / MIB:.0f} MiB")
                print(f"peak, sum of RSS of all server processes: {sampler.peak_rss / MIB:.0f} MiB")
                print(f"peak, sum of PSS of all server processes: {sampler.peak_pss / MIB:.0f} MiB")
                print("peak per process (three largest):")
                for pid, (peak, role) in sorted(
                    sampler.per_process.items(), key=lambda item: -item[1][0]
                )[:3]:
                    print(f"  {peak / MIB:6.0f} MiB  pid {pid}, {role}")
                small = (REPO / "schemas" / "examples" / "journal-7b.json").read_bytes()
                after = requests.post(
                    f"{base}/api/v1/journals", data=small, headers=headers, timeout=120
                )
                print(
                    f"afterwards: healthz {requests.get(f'{base}/healthz', timeout=30).status_code}"
                    f", example upload {after.status_code} "
                    f"{json.loads(after.text).get('signature_level', after.text[:100])}"
                )
            finally:
                server.terminate()
                server.wait(timeout=60)
    return 0


if __name__ == "__main__":
    sys.exit(main())
