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

from archive_service.audit_checkpoints import CHECKPOINT_PREFIX
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
