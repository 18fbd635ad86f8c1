"""The README walk-through against a real `archive-service serve` process on loopback."""

from __future__ import annotations

import io
import json
import subprocess

import pytest
import requests
from pypdf import PdfReader

from tests.conftest import CLI, EXAMPLES, example_edrpou

pytestmark = pytest.mark.live


def _token(env: dict[str, str], *args: str) -> str:
    out = subprocess.run(
        [*CLI, "tokens", "create", *args], env=env, check=True, capture_output=True, text=True
    )
    return out.stdout.strip()


def test_walk_through(live_server: tuple[str, dict[str, str]]) -> None:
    base, env = live_server
    archivist = _token(env, "--role", "archivist", "--institution", example_edrpou())
    inspector = _token(env, "--role", "inspector", "--name", "Інспекторка")
    admin = _token(env, "--role", "admin")
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
