"""The README's curl walk-through, run as printed against a live server."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO

pytestmark = pytest.mark.live


def walkthrough_script() -> str:
    readme = (REPO / "README.md").read_text("utf-8")
    block = re.search(r"<!-- walkthrough:start -->\s*```sh\n(.*?)```", readme, re.S)
    assert block, "README lost its walk-through block"
    return block.group(1)


def test_readme_walkthrough_works_as_printed(
    live_server: tuple[str, dict[str, str]], tmp_path: Path
) -> None:
    base, env = live_server
    script = walkthrough_script()
    # The only changes: the test server's port, and this interpreter's environment instead
    # of `. .venv/bin/activate` (CI may run from another virtualenv).
    script = script.replace("http://127.0.0.1:8080", base)
    script = script.replace(". .venv/bin/activate", "true")
    (tmp_path / "schemas").symlink_to(REPO / "schemas")
    run_env = {**env, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}"}
    result = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script],
        cwd=tmp_path,
        env=run_env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert '"signature_level":"B-LTA"' in result.stdout.replace(" ", "")
    assert (tmp_path / "journal-7b.pdf").read_bytes().startswith(b"%PDF-")
    assert '"valid":true' in result.stdout.replace(" ", "")
    assert '"action":"retrieve_pdf"' in result.stdout.replace(" ", "")
    assert (tmp_path / "test-root.pem").read_text().startswith("-----BEGIN CERTIFICATE-----")
