"""A proof that holds today holds tomorrow (DESIGN invariant 7), on the real clock and simulated.

One journal is archived on the embedded default (B-LTA, test PKI: seal 3 years, first TSA 6,
renewal TSA 14, issuing CA 15) and renewed once with `archive-service retimestamp`, so the
document has an unrenewed version 1 and a renewed version 2. Then:

* the real CLI and a real `archive-service serve` run under libfaketime (the machine's clock
  shifted by days or years, nothing simulated inside the service) and must say *valid* offline
  at +2 d, +40 d, +1 y and +5 y; at +12 y version 1 (whose only TSA has expired) is
  *indeterminate* and version 2 is still *valid*;
* the same bytes are validated with ``validate_pdf(at=...)`` along the whole line: +1 min,
  +20 h, +26 h (past the embedded OCSP responses' nextUpdate), +2 d, +40 d, +1 y, just before
  and after the seal expires, +5 y, +12 y — and the verdict is monotonic: once it stops being
  valid, it never comes back.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from archive_service.signing import validate_pdf
from archive_service.signing.test_pki import TestPki
from tests.conftest import CLI, cli_token, example_edrpou, serving
from tests.signing.alterations import not_after, time_line

DAY = dt.timedelta(days=1)
#: Shifts of the real clock, in days (libfaketime's ``-f +Nd``).
REAL_CLOCK = {"+2d": 2, "+40d": 40, "+1y": 365, "+5y": 5 * 365}
AFTER_FIRST_TSA = 12 * 365


def _faketime() -> str:
    found = os.environ.get("FAKETIME") or shutil.which("faketime")
    if found:
        return found
    message = "libfaketime is not installed: run `bash scripts/install-faketime.sh`"
    if os.environ.get("CI"):
        pytest.fail(f"{message} (required in CI)")
    pytest.skip(message)


def shifted(days: int) -> list[str]:
    """The command prefix that runs a process with the clock ``days`` ahead."""
    # The monotonic clock is shifted too: with DONT_FAKE_MONOTONIC=1, libfaketime's
    # clock_nanosleep wrapper makes Python's time.sleep fail with EINVAL.
    return [_faketime(), "-f", f"+{days}d"]


@pytest.fixture
def archived_twice(data_dir: Path, archived: dict) -> Iterator[tuple[str, dict[str, str]]]:
    """The example journal archived now (version 1) and renewed now (version 2)."""
    document_id = archived["document_id"]
    env = {**os.environ, "ARCHIVE_DATA_DIR": str(data_dir)}
    renewed = subprocess.run(
        [*CLI, "retimestamp", "--due-before", "2100-01-01"],
        env=env, capture_output=True, text=True, check=False,
    )
    assert renewed.returncode == 0, renewed.stdout + renewed.stderr
    yield document_id, env


def _cli_verdict(
    env: dict[str, str], days: int, document_id: str, version: int
) -> tuple[int, dict]:
    done = subprocess.run(
        [*shifted(days), *CLI, "verify", document_id, "--version", str(version), "--json"],
        env=env, capture_output=True, text=True, check=False,
    )
    assert done.returncode in (0, 1), done.stdout + done.stderr
    return done.returncode, json.loads(done.stdout)


def _expect(report: dict, valid: bool, days: int, moment: str) -> None:
    verdict = report["verdict"]
    (signature,) = report["signatures"]
    # the shifted clock really is shifted: the service itself reports the moment it judged at
    judged = dt.datetime.fromisoformat(report["validation_time"].replace("Z", "+00:00"))
    assert judged >= dt.datetime.now(dt.UTC) + (days - 1) * DAY, (moment, judged)
    if valid:
        assert verdict == "valid", (moment, signature["summary"])
        assert signature["indication"] == {"main": "total-passed", "sub": None}
    else:
        assert verdict == "indeterminate", (moment, signature["summary"])
        assert signature["indication"]["main"] == "indeterminate"
    assert signature["level"] == "B-LTA"


def test_cli_verdicts_on_a_shifted_real_clock(archived_twice: tuple[str, dict[str, str]]) -> None:
    document_id, env = archived_twice
    for moment, days in REAL_CLOCK.items():
        for version in (1, 2):
            code, report = _cli_verdict(env, days, document_id, version)
            _expect(report, True, days, f"{moment} v{version}")
            assert code == 0
    code, report = _cli_verdict(env, AFTER_FIRST_TSA, document_id, 1)
    _expect(report, False, AFTER_FIRST_TSA, "+12y unrenewed")
    assert code == 1
    code, report = _cli_verdict(env, AFTER_FIRST_TSA, document_id, 2)
    _expect(report, True, AFTER_FIRST_TSA, "+12y renewed")
    assert code == 0


@pytest.mark.live
@pytest.mark.parametrize(
    "moment", [*REAL_CLOCK, "+12y"], ids=lambda m: f"clock{m}"
)
def test_api_verdicts_on_a_shifted_real_clock(
    archived_twice: tuple[str, dict[str, str]], data_dir: Path, moment: str
) -> None:
    """`serve` itself under the shifted clock: GET …/verification and POST /verify agree."""
    document_id, _ = archived_twice
    days = REAL_CLOCK.get(moment, AFTER_FIRST_TSA)
    with serving(data_dir, prefix=shifted(days)) as (base, env):
        inspector = cli_token(env, "--role", "inspector", "--institution", example_edrpou())
        headers = {"Authorization": f"Bearer {inspector}"}
        for version in (1, 2):
            valid = version == 2 or moment != "+12y"
            stored = requests.get(
                f"{base}/api/v1/documents/{document_id}/verification",
                params={"version": version}, headers=headers, timeout=60,
            )
            assert stored.status_code == 200, stored.text
            _expect(stored.json(), valid, days, f"{moment} stored v{version}")
            pdf = requests.get(
                f"{base}/api/v1/documents/{document_id}/pdf",
                params={"version": version}, headers={**headers, "X-Purpose": "перевірка".encode()},
                timeout=60,
            )
            assert pdf.status_code == 200, pdf.text
            posted = requests.post(
                f"{base}/api/v1/verify", data=pdf.content, timeout=60,
                headers={**headers, "Content-Type": "application/pdf"},
            )
            assert posted.status_code == 200, posted.text
            _expect(posted.json(), valid, days, f"{moment} posted v{version}")
            assert posted.json()["archived"] == {
                "matches": True, "document_id": document_id, "version": version
            }


def test_simulated_time_line_is_monotonic(
    archived_twice: tuple[str, dict[str, str]], client: object, tokens: object,
    data_dir: Path,
) -> None:
    document_id, _ = archived_twice
    pki = TestPki.load_or_create(data_dir / "pki")
    now = dt.datetime.now(dt.UTC)
    line = time_line(pki, now)
    del line["ca+1d"]  # the renewal TSA outlives nothing past the issuing CA; +12 y is enough
    tsa_end = not_after(pki.tsa_cert)
    for version, valid_until in ((1, tsa_end), (2, now + 13 * 365 * DAY)):
        pdf = client.get(  # type: ignore[attr-defined]
            f"/api/v1/documents/{document_id}/pdf?version={version}",
            headers={"Authorization": f"Bearer {tokens.inspector}"},  # type: ignore[attr-defined]
        ).data
        verdicts = {
            name: validate_pdf(pdf, [pki.root_cert], at=moment).all_valid
            for name, moment in line.items()
        }
        expected = {name: moment <= valid_until for name, moment in line.items()}
        assert verdicts == expected, version
        # monotonic: no "valid" after the first "not valid"
        sequence = list(verdicts.values())
        assert sequence == sorted(sequence, reverse=True), (version, verdicts)
