"""Ask EU DSS (built by ``scripts/install-dss.sh``) for its verdict on our PAdES signatures.

DSS is the European Commission's reference implementation of ETSI EN 319 102-1 validation; a
second, independent opinion on what pyHanko produces and what our own validation concludes.
The validator (``scripts/dss-validator``) runs offline: no CRL/OCSP/AIA fetching, only what the
PDF carries; the trust roots are exactly those given; the policy is DSS's default one. The JVM
takes about a second to start, so :class:`DssValidator` starts it once and sends it one JSON
request per document.
"""

from __future__ import annotations

import collections
import datetime as dt
import hashlib
import json
import os
import queue
import re
import subprocess
import tempfile
import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from asn1crypto import pem
from asn1crypto import x509 as asn1_x509

REPO = Path(__file__).resolve().parents[2]
PROJECT = REPO / "scripts" / "dss-validator"
INSTALL_SCRIPT = REPO / "scripts" / "install-dss.sh"
#: How long one validation (or the JVM's start) may take before the validator is given up.
DEFAULT_TIMEOUT = 120.0
#: DSS's ``signatureFormat`` → our level names (archive_service.signing.LEVELS).
LEVELS = {
    "PAdES-BASELINE-B": "B-B",
    "PAdES-BASELINE-T": "B-T",
    "PAdES-BASELINE-LT": "B-LT",
    "PAdES-BASELINE-LTA": "B-LTA",
}


class DssMissing(RuntimeError):
    """No DSS validator where the install script puts it (or where ``DSS_VALIDATOR`` points)."""


class DssError(RuntimeError):
    """The validator did not answer a request: it crashed, timed out, or reported an error."""


# ---------------------------------------------------------------------------- install


def pinned_version() -> str:
    """The DSS release the validator is built on (``dss.version`` in its POM)."""
    found = re.search(r"<dss\.version>([^<]+)</dss\.version>", (PROJECT / "pom.xml").read_text())
    if found is None:
        raise AssertionError(f"no <dss.version> in {PROJECT / 'pom.xml'}")
    return found.group(1)


def source_hash(project: Path = PROJECT) -> str:
    """The install folder's source hash, computed exactly as ``install-dss.sh`` does.

    ``sha256sum`` lines (``<hex>  <relative path>``) of ``pom.xml`` and every file under
    ``src/``, in byte order of the paths, hashed again; the first 16 hex digits.
    """
    files = [project / "pom.xml", *(p for p in (project / "src").rglob("*") if p.is_file())]
    relative = sorted((p.relative_to(project).as_posix() for p in files), key=os.fsencode)
    listing = "".join(
        f"{hashlib.sha256((project / name).read_bytes()).hexdigest()}  {name}\n"
        for name in relative
    )
    return hashlib.sha256(listing.encode()).hexdigest()[:16]


def default_home(environ: Mapping[str, str] = os.environ) -> Path:
    """The install script's default folder, following the same environment variables."""
    if environ.get("DSS_VALIDATOR_HOME"):
        return Path(environ["DSS_VALIDATOR_HOME"])
    cache = environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    name = f"dss-validator-{pinned_version()}-{source_hash()}"
    return Path(cache) / "journal-archive" / name


def find_launcher(environ: Mapping[str, str] = os.environ) -> Path:
    """The ``dss-validator`` launcher: ``$DSS_VALIDATOR`` if set, else the default place.

    :raises DssMissing: not installed there, with the command that installs it.
    """
    explicit = environ.get("DSS_VALIDATOR")
    candidate = Path(explicit) if explicit else default_home(environ) / "dss-validator"
    if not (candidate.is_file() and os.access(candidate, os.X_OK)):
        raise DssMissing(
            f"the EU DSS validator is not installed at {candidate}; run "
            "`bash scripts/install-dss.sh` (needs Java 17 and Maven) or set DSS_VALIDATOR to "
            "the launcher's path"
        )
    return candidate


# ---------------------------------------------------------------------------- reports


@dataclass(frozen=True)
class Message:
    """One message of DSS's simple report: the check's key and its English text."""

    key: str
    text: str

    def __str__(self) -> str:
        return f"{self.key}: {self.text}"


@dataclass(frozen=True)
class Verdict:
    """An indication (``PASSED``/``INDETERMINATE``/``FAILED``, or ``TOTAL_*``) and its reason."""

    indication: str | None
    sub_indication: str | None


@dataclass(frozen=True)
class TimestampResult:
    id: str
    #: ``SIGNATURE_TIMESTAMP`` (in the CMS), ``DOCUMENT_TIMESTAMP`` (a PDF field), …
    type: str | None
    #: ``PAdES`` for a document timestamp that DSS counts as an archive timestamp.
    archive_timestamp_type: str | None
    production_time: dt.datetime | None
    #: The timestamp's own validation (``PASSED``/``INDETERMINATE``/``FAILED``).
    indication: str | None
    sub_indication: str | None
    produced_by: str | None
    #: The PDF field of a document timestamp; ``None`` for one inside the CMS.
    field_name: str | None
    #: The signatures the timestamp covers.
    signature_ids: tuple[str, ...]
    errors: tuple[Message, ...]
    warnings: tuple[Message, ...]


@dataclass(frozen=True)
class SignatureResult:
    id: str
    field_name: str | None
    #: The final verdict: ``TOTAL_PASSED``, ``INDETERMINATE`` or ``TOTAL_FAILED``.
    indication: str
    sub_indication: str | None
    #: DSS's reading of the format, e.g. ``PAdES-BASELINE-LTA``.
    signature_format: str | None
    best_signature_time: dt.datetime | None
    signing_time: dt.datetime | None
    signed_by: str | None
    errors: tuple[Message, ...]
    warnings: tuple[Message, ...]
    infos: tuple[Message, ...]
    #: The processes of EN 319 102-1 behind the verdict: basic (5.3), with long-term validation
    #: data (5.5), with archival data (5.6).
    basic: Verdict
    long_term: Verdict
    archival: Verdict
    timestamp_ids: tuple[str, ...]

    @property
    def level(self) -> str | None:
        """:attr:`signature_format` as our level name (``B-B`` … ``B-LTA``), else ``None``."""
        return LEVELS.get(self.signature_format or "")

    @property
    def passed(self) -> bool:
        return self.indication == "TOTAL_PASSED"


@dataclass(frozen=True)
class DssReport:
    validation_time: dt.datetime
    policy: str | None
    #: In document order.
    signatures: tuple[SignatureResult, ...]
    #: Every timestamp DSS found (in the CMS and as document timestamps), by production time.
    timestamps: tuple[TimestampResult, ...]
    #: The ETSI TS 119 102-2 validation report, when one was asked for.
    etsi_report: Path | None
    #: DSS's answer as it came (for messages in assertions).
    raw: Mapping[str, Any]

    @property
    def signature(self) -> SignatureResult:
        """The one signature of the document (it must have exactly one)."""
        if len(self.signatures) != 1:
            raise AssertionError(f"expected one signature, DSS found {len(self.signatures)}")
        return self.signatures[0]

    def timestamps_of(self, signature: SignatureResult) -> tuple[TimestampResult, ...]:
        return tuple(ts for ts in self.timestamps if ts.id in signature.timestamp_ids)


def parse_report(answer: Mapping[str, Any]) -> DssReport:
    """Read one answer line of the validator.

    :raises DssError: the answer is an error.
    """
    if "error" in answer:
        raise DssError(f"DSS could not validate the document: {answer['error']}")
    etsi = answer.get("etsi")
    return DssReport(
        validation_time=_time(answer["validationTime"]),  # type: ignore[arg-type]
        policy=answer.get("policy"),
        signatures=tuple(map(_signature, answer.get("signatures", ()))),
        timestamps=tuple(map(_timestamp, answer.get("timestamps", ()))),
        etsi_report=Path(etsi) if etsi else None,
        raw=answer,
    )


def _signature(node: Mapping[str, Any]) -> SignatureResult:
    processes = node.get("processes", {})
    return SignatureResult(
        id=node["id"],
        field_name=node.get("fieldName"),
        indication=node["indication"],
        sub_indication=node.get("subIndication"),
        signature_format=node.get("signatureFormat"),
        best_signature_time=_time(node.get("bestSignatureTime")),
        signing_time=_time(node.get("signingTime")),
        signed_by=node.get("signedBy"),
        errors=_messages(node.get("errors")),
        warnings=_messages(node.get("warnings")),
        infos=_messages(node.get("infos")),
        basic=_verdict(processes.get("basic")),
        long_term=_verdict(processes.get("longTerm")),
        archival=_verdict(processes.get("archival")),
        timestamp_ids=tuple(node.get("timestampIds", ())),
    )


def _timestamp(node: Mapping[str, Any]) -> TimestampResult:
    return TimestampResult(
        id=node["id"],
        type=node.get("type"),
        archive_timestamp_type=node.get("archiveTimestampType"),
        production_time=_time(node.get("productionTime")),
        indication=node.get("indication"),
        sub_indication=node.get("subIndication"),
        produced_by=node.get("producedBy"),
        field_name=node.get("fieldName"),
        signature_ids=tuple(node.get("signatureIds", ())),
        errors=_messages(node.get("errors")),
        warnings=_messages(node.get("warnings")),
    )


def _verdict(node: Mapping[str, Any] | None) -> Verdict:
    node = node or {}
    return Verdict(node.get("indication"), node.get("subIndication"))


def _messages(nodes: Iterable[Mapping[str, str]] | None) -> tuple[Message, ...]:
    return tuple(Message(node["key"], node["value"]) for node in nodes or ())


def _time(value: str | None) -> dt.datetime | None:
    if value is None:
        return None
    return dt.datetime.fromisoformat(value.replace("Z", "+00:00"))


# ---------------------------------------------------------------------------- the process

#: What a trust root may be given as: a file (PEM or DER), its bytes, or a parsed certificate.
TrustRoot = str | os.PathLike[str] | bytes | asn1_x509.Certificate


class DssValidator:
    """One DSS JVM, started once, answering :meth:`validate` calls one at a time.

    Thread-safe (requests are serialised). Use as a context manager or call :meth:`close`.
    """

    def __init__(
        self,
        launcher: Path | None = None,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        java_opts: str | None = None,
    ) -> None:
        self.launcher = Path(launcher) if launcher else find_launcher()
        self.timeout = timeout
        self._lock = threading.Lock()
        self._scratch = tempfile.TemporaryDirectory(prefix="dss-validator-")
        self._counter = 0
        self._roots: dict[bytes, Path] = {}
        #: The last lines DSS logged, for error messages (the rest is dropped).
        self._log: collections.deque[str] = collections.deque(maxlen=200)
        env = dict(os.environ)
        if java_opts is not None:
            env["DSS_JAVA_OPTS"] = java_opts
        self._process = subprocess.Popen(
            [str(self.launcher)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
            text=True,
            encoding="utf-8",
            bufsize=1,
        )
        self._answers: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._read_stdout, daemon=True).start()
        threading.Thread(target=self._read_stderr, daemon=True).start()
        ready = self._next_answer()
        if not ready.get("ready"):
            self.close()
            raise DssError(f"the DSS validator did not start: {ready}")
        #: The DSS release the running validator reports.
        self.dss_version: str = ready.get("dss", "unknown")

    def validate(
        self,
        pdf: bytes | str | os.PathLike[str],
        trust_roots: Sequence[TrustRoot],
        *,
        at: dt.datetime | None = None,
        etsi_report: str | os.PathLike[str] | None = None,
    ) -> DssReport:
        """DSS's verdict on ``pdf`` (its bytes or a path) with only ``trust_roots`` trusted.

        :param at: the validation time (timezone-aware); ``None`` is DSS's "now".
        :param etsi_report: where to write DSS's ETSI TS 119 102-2 validation report (XML).
        :raises DssError: DSS failed on the document, crashed or timed out.
        """
        if at is not None and at.tzinfo is None:
            raise ValueError("the validation time must be timezone-aware")
        with self._lock:
            self._counter += 1
            if isinstance(pdf, bytes):
                path = Path(self._scratch.name) / f"document-{self._counter}.pdf"
                path.write_bytes(pdf)
            else:
                path = Path(pdf).resolve()
            request = {
                "id": self._counter,
                "pdf": str(path),
                "trust": [str(self._root_file(root)) for root in trust_roots],
                "time": _iso(at) if at is not None else None,
                "etsi": str(Path(etsi_report).resolve()) if etsi_report is not None else None,
            }
            try:
                self._send(request)
                answer = self._next_answer()
            finally:
                if isinstance(pdf, bytes):
                    path.unlink(missing_ok=True)
            if answer.get("id") != self._counter:
                raise DssError(f"the DSS validator answered out of turn: {answer}")
            return parse_report(answer)

    def close(self) -> None:
        if self._process.poll() is None:
            try:
                self._process.stdin.close()  # type: ignore[union-attr]
                self._process.wait(timeout=10)
            except (OSError, subprocess.TimeoutExpired):
                self._process.kill()
                self._process.wait()
        self._scratch.cleanup()

    def __enter__(self) -> DssValidator:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- internals

    def _root_file(self, root: TrustRoot) -> Path:
        if isinstance(root, (str, os.PathLike)):
            return Path(root).resolve()
        der = root.dump() if isinstance(root, asn1_x509.Certificate) else root
        if pem.detect(der):
            _, _, der = pem.unarmor(der)
        if der not in self._roots:
            path = Path(self._scratch.name) / f"root-{len(self._roots) + 1}.pem"
            path.write_bytes(pem.armor("CERTIFICATE", der))
            self._roots[der] = path
        return self._roots[der]

    def _send(self, request: Mapping[str, Any]) -> None:
        try:
            self._process.stdin.write(json.dumps(request) + "\n")  # type: ignore[union-attr]
            self._process.stdin.flush()  # type: ignore[union-attr]
        except OSError as error:
            raise DssError(f"the DSS validator is gone: {error}; {self._tail()}") from error

    def _next_answer(self) -> dict[str, Any]:
        try:
            line = self._answers.get(timeout=self.timeout)
        except queue.Empty:
            self._process.kill()
            raise DssError(f"the DSS validator did not answer within {self.timeout} s") from None
        if line is None:
            raise DssError(
                f"the DSS validator exited ({self._process.wait()}); {self._tail()}"
            )
        try:
            return dict(json.loads(line))
        except ValueError as error:
            raise DssError(f"not a JSON answer from the DSS validator: {line!r}") from error

    def _read_stdout(self) -> None:
        assert self._process.stdout is not None
        for line in self._process.stdout:
            self._answers.put(line)
        self._answers.put(None)

    def _read_stderr(self) -> None:
        assert self._process.stderr is not None
        for line in self._process.stderr:
            self._log.append(line.rstrip("\n"))

    def _tail(self) -> str:
        return "its log ends: " + "\n".join(list(self._log)[-20:])


def _iso(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
