"""The README walk-through against a real `archive-service serve` process on loopback."""

from __future__ import annotations

import io
import json
import os
import subprocess
import time
from pathlib import Path

import pytest
import requests
from pypdf import PdfReader

from archive_service.access import presented_token_id
from archive_service.audit.anchors import CHECKPOINT_PREFIX
from archive_service.storage import FilesystemObjectStore
from tests.conftest import CLI, EXAMPLES, _free_port, cli_token, example_edrpou

pytestmark = pytest.mark.live


def test_walk_through(live_server: tuple[str, dict[str, str]]) -> None:
    base, env = live_server
    archivist = cli_token(env, "--role", "archivist", "--institution", example_edrpou())
    inspector = cli_token(env, "--role", "inspector", "--name", "Інспекторка")
    admin = cli_token(env, "--role", "admin")
    export = (EXAMPLES / "journal-7b.json").read_bytes()

    created = requests.post(
        f"{base}/api/v1/journals",
        data=export,
        timeout=60,
        headers={"Authorization": f"Bearer {archivist}", "Content-Type": "application/json"},
    )
    assert created.status_code == 201, created.text
    document_id = created.json()["document_id"]

    listed = requests.get(
        f"{base}/api/v1/documents", timeout=30, headers={"Authorization": f"Bearer {inspector}"}
    ).json()
    assert [d["document_id"] for d in listed["items"]] == [document_id]

    pdf = requests.get(
        f"{base}/api/v1/documents/{document_id}/pdf",
        timeout=30,
        headers={"Authorization": f"Bearer {inspector}", "X-Purpose": "планова перевірка".encode()},
    )
    assert pdf.status_code == 200
    assert pdf.headers["X-Content-SHA256"] == created.json()["sha256"]
    reader = PdfReader(io.BytesIO(pdf.content))
    assert reader.attachments["journal.json"] == [export]

    events = requests.get(
        f"{base}/api/v1/audit",
        params={"document": document_id},
        timeout=30,
        headers={"Authorization": f"Bearer {admin}"},
    ).json()["items"]
    downloads = [e for e in events if e["action"] == "retrieve_pdf"]
    assert len(downloads) == 1 and downloads[0]["purpose"] == "планова перевірка"
    assert downloads[0]["client_address"] == "127.0.0.1"

    no_token = requests.get(f"{base}/api/v1/documents", timeout=30)
    assert no_token.status_code == 401
    assert json.loads(no_token.text)["error"]["code"] == "unauthorized"


def test_stopping_the_server_checkpoints_the_chain_head(data_dir: Path) -> None:
    """SIGTERM (docker stop, systemd) ends `serve` cleanly, writing the head to the store."""
    env = {**os.environ, "ARCHIVE_DATA_DIR": str(data_dir)}
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    log_path = data_dir / "server.log"
    with log_path.open("wb") as log_file:
        process = subprocess.Popen(
            [*CLI, "serve", "--port", str(port)], env=env, stdout=log_file, stderr=subprocess.STDOUT
        )
        try:
            for _ in range(600):  # readiness poll, bounded; not a timing assertion
                try:
                    if requests.get(f"{base}/healthz", timeout=2).status_code == 200:
                        break
                except requests.ConnectionError:
                    time.sleep(0.1)
            refused = requests.get(f"{base}/api/v1/documents", timeout=30)
            assert refused.status_code == 401  # recorded as a denied event: the head is #1
        finally:
            process.terminate()
            process.wait(timeout=30)
    assert process.returncode == 0, log_path.read_text(errors="replace")
    store = FilesystemObjectStore(data_dir / "objects")
    (checkpoint,) = store.iter_objects(CHECKPOINT_PREFIX)
    assert checkpoint.key.startswith(f"{CHECKPOINT_PREFIX}000000000001-")


def test_downloads_from_every_worker_process_are_audited_in_one_chain(
    live_server: tuple[str, dict[str, str]], data_dir: Path
) -> None:
    """`serve` runs several worker processes; concurrent downloads through all of them are each
    audited exactly once, in one linear chain, and a revocation reaches every process at once."""
    from concurrent.futures import ThreadPoolExecutor

    base, env = live_server
    archivist = cli_token(env, "--role", "archivist", "--institution", example_edrpou())
    inspector = cli_token(env, "--role", "inspector")
    created = requests.post(
        f"{base}/api/v1/journals",
        data=(EXAMPLES / "journal-7b.json").read_bytes(),
        timeout=60,
        headers={"Authorization": f"Bearer {archivist}", "Content-Type": "application/json"},
    )
    assert created.status_code == 201, created.text
    url = f"{base}/api/v1/documents/{created.json()['document_id']}/pdf"

    def download_on_own_connection(_: int) -> list[int]:
        with requests.Session() as session:
            session.headers["Authorization"] = f"Bearer {inspector}"
            return [session.get(url, timeout=60).status_code for _ in range(10)]

    with ThreadPoolExecutor(max_workers=24) as pool:
        statuses = [s for batch in pool.map(download_on_own_connection, range(24)) for s in batch]
    assert statuses == [200] * 240

    (log_path,) = data_dir.glob("server-*.log")
    log = log_path.read_text(errors="replace")
    assert log.count("Booting worker with pid") >= 2, log

    verified = subprocess.run([*CLI, "audit", "verify"], env=env, capture_output=True, text=True)
    assert verified.returncode == 0, verified.stdout + verified.stderr
    exported = subprocess.run(
        [*CLI, "audit", "export", "--action", "retrieve_pdf"],
        env=env,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    events = [json.loads(line) for line in exported.splitlines()]
    assert [e["outcome"] for e in events] == ["ok"] * 240

    token_id = presented_token_id(inspector)
    assert token_id is not None
    subprocess.run([*CLI, "tokens", "revoke", token_id], env=env, check=True, capture_output=True)
    with ThreadPoolExecutor(max_workers=24) as pool:
        after = list(
            pool.map(
                lambda _: requests.get(
                    url, timeout=60, headers={"Authorization": f"Bearer {inspector}"}
                ).status_code,
                range(24),
            )
        )
    assert after == [401] * 24
