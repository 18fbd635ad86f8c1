"""Run veraPDF (installed by ``scripts/install-verapdf.sh``) and read its JSON report.

Conformance is judged by veraPDF, the PDF Association's reference validator, rather than by our
own reading of the PDF: a file that merely *claims* PDF/A in its XMP is exactly what we must not
archive. The JVM takes about a second to start, so :func:`validate` checks many files in one run.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
INSTALL_SCRIPT = REPO / "scripts" / "install-verapdf.sh"
#: veraPDF lists this many failed checks per rule; the count covers all of them.
CHECKS_LISTED_PER_RULE = 3


class VeraPdfMissing(RuntimeError):
    """No veraPDF launcher where the install script puts it (or where ``VERAPDF`` points)."""


class VeraPdfError(RuntimeError):
    """veraPDF ran but did not validate a file: it crashed, or could not parse or find it."""


@dataclass(frozen=True)
class FailedRule:
    """One rule of the validation profile that the file breaks."""

    specification: str
    clause: str
    test_number: int
    description: str
    #: How many objects of the file break the rule.
    failed_checks: int
    #: Where, for the first few of them (veraPDF's object paths).
    contexts: tuple[str, ...]

    def __str__(self) -> str:
        return (
            f"{self.specification} {self.clause}-{self.test_number} "
            f"({self.failed_checks}×): {self.description}"
        )


@dataclass(frozen=True)
class FileReport:
    path: Path
    #: veraPDF's own verdict for the profile (every profile, if it applied several).
    compliant: bool
    profile: str
    failed_rules: tuple[FailedRule, ...]


def pinned_version() -> str:
    """The release the install script pins; read from the script so there is one source of truth."""
    found = re.search(r"^PINNED_VERSION=(\S+)$", INSTALL_SCRIPT.read_text(), re.MULTILINE)
    if found is None:
        raise AssertionError(f"no PINNED_VERSION= line in {INSTALL_SCRIPT}")
    return found.group(1)


def default_home(environ: Mapping[str, str] = os.environ) -> Path:
    """The install script's default folder, following the same environment variables."""
    if environ.get("VERAPDF_HOME"):
        return Path(environ["VERAPDF_HOME"])
    cache = environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(cache) / "journal-archive" / f"verapdf-{pinned_version()}"


def find_launcher(environ: Mapping[str, str] = os.environ) -> Path:
    """The ``verapdf`` launcher: ``$VERAPDF`` if set, else the install script's default place.

    :raises VeraPdfMissing: not installed there, with the command that installs it.
    """
    explicit = environ.get("VERAPDF")
    candidate = Path(explicit) if explicit else default_home(environ) / "verapdf"
    if not (candidate.is_file() and os.access(candidate, os.X_OK)):
        raise VeraPdfMissing(
            f"veraPDF is not installed at {candidate}; run `bash scripts/install-verapdf.sh` "
            "(needs Java and Maven) or set VERAPDF to the launcher's path"
        )
    return candidate


def validate(
    paths: Sequence[Path], flavour: str, *, launcher: Path | None = None, processes: int = 1
) -> dict[Path, FileReport]:
    """Validate ``paths`` against the built-in profile ``flavour`` (``3u``, ``1b``, …) in one run.

    :param processes: veraPDF JVMs to split the files over. Each starts its own JVM: on two cores
        ten journals took 7.5 s with one and 11 s with two.
    :returns: one report per path, keyed by the resolved path.
    :raises VeraPdfMissing: no launcher given and none installed.
    :raises VeraPdfError: veraPDF failed or left a file unvalidated.
    """
    if not paths:
        return {}
    resolved = [Path(path).resolve() for path in paths]
    command = [
        str(launcher or find_launcher()),
        "--flavour", flavour,
        "--format", "json",
        "--nonpdfext",
        "--maxfailuresdisplayed", str(CHECKS_LISTED_PER_RULE),
        "--processes", str(processes),
        *map(str, resolved),
    ]
    completed = subprocess.run(command, capture_output=True, check=False)
    log = completed.stderr.decode(errors="replace")
    # Exit code 0: all compliant, 1: some not compliant; anything else is a failed run.
    if completed.returncode not in (0, 1):
        raise VeraPdfError(f"veraPDF exited with {completed.returncode}: {log}")
    reports = parse_report(completed.stdout)
    # A file veraPDF cannot find is only logged, not reported.
    missing = [path for path in resolved if path not in reports]
    if missing:
        raise VeraPdfError(f"veraPDF reported nothing for {missing}: {log}")
    return reports


def parse_report(report: bytes | str) -> dict[Path, FileReport]:
    """Read veraPDF's ``--format json`` output: one report, or one per process (``--processes``).

    :raises VeraPdfError: a job ended in an exception (unparseable or encrypted file, crash).
    """
    try:
        document = json.loads(report)
        reports = document.get("reports", [document])
        jobs = [job for each in reports for job in each["report"]["jobs"]]
    except (ValueError, KeyError, TypeError) as error:
        raise VeraPdfError(f"not a veraPDF JSON report: {error!r}") from error
    return {file.path: file for file in map(_file_report, jobs)}


def _file_report(job: Mapping[str, Any]) -> FileReport:
    path = Path(job["itemDetails"]["name"]).resolve()
    if "taskException" in job or not job.get("validationResult"):
        problem = job.get("taskException", {}).get("exceptionMessage", "no validation result")
        raise VeraPdfError(f"veraPDF could not validate {path}: {problem}")
    results = job["validationResult"]
    return FileReport(
        path=path,
        compliant=all(result["compliant"] for result in results),
        profile=", ".join(result["profileName"] for result in results),
        failed_rules=tuple(_failed_rules(results)),
    )


def _failed_rules(results: Iterable[Mapping[str, Any]]) -> Iterable[FailedRule]:
    for result in results:
        for rule in result["details"]["ruleSummaries"]:
            if rule["status"] != "failed":
                continue
            yield FailedRule(
                specification=rule["specification"],
                clause=rule["clause"],
                test_number=int(rule["testNumber"]),
                description=rule["description"],
                failed_checks=int(rule["failedChecks"]),
                contexts=tuple(check["context"] for check in rule.get("checks", ())),
            )
