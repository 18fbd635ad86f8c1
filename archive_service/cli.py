"""``archive-service``: thin commands over the pipeline, for operators and archive jobs."""

from __future__ import annotations

import datetime as dt
import json
import mimetypes
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import Any

import click

from archive_service.access import (
    LOCAL_OPERATOR,
    Role,
    create_token,
    list_tokens,
    revoke_token,
    token_state,
)
from archive_service.audit.export import export_lines
from archive_service.config import Settings, load_settings
from archive_service.errors import ArchiveError
from archive_service.pipeline import Archive, AuditFilter, PendingSignature, RequestContext
from archive_service.renewal import RenewalItem
from archive_service.views import iso

_CLI_CONTEXT = RequestContext(actor=LOCAL_OPERATOR, client_address="cli")


@contextmanager
def _errors_as_messages() -> Iterator[None]:
    """Print archive errors as a sentence plus field paths, and exit non-zero."""
    try:
        yield
    except ArchiveError as exc:
        click.secho(f"Error: {exc.message}", fg="red", err=True)
        for detail in exc.details:
            click.echo(f"  at {detail.path}: {detail.message}", err=True)
        sys.exit(2 if exc.status < 500 else 1)


class _Runtime:
    """Settings and a lazily built archive: `pki export-root` must not need a database."""

    def __init__(self) -> None:
        self.settings: Settings = load_settings()
        self._archive: Archive | None = None

    @property
    def archive(self) -> Archive:
        if self._archive is None:
            from archive_service.factory import build_archive

            self._archive = build_archive(self.settings)
            self._anchor_audit_events()
        return self._archive

    def _anchor_audit_events(self) -> None:
        """A command anchors the audit chain head once a window has passed while it appends
        events, and when it ends if it appended any (README "Audit log")."""
        assert self._archive is not None
        checkpoints = self._archive.checkpoints
        context = click.get_current_context(silent=True)
        if checkpoints is None or context is None:
            return
        checkpoints.anchor_inline = True
        context.call_on_close(checkpoints.tick_best_effort)


pass_runtime = click.make_pass_decorator(_Runtime, ensure=True)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """Archive Ukrainian class journals as signed PDF/A in write-once storage.

    Configuration comes from ARCHIVE_* environment variables (see the README); with none set,
    everything lives in ./var (SQLite, a write-once folder, a local *test* PKI).
    """


def _guarded(fn: Callable[..., Any]) -> Callable[..., Any]:
    import functools

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with _errors_as_messages():
            return fn(*args, **kwargs)

    return wrapper


@main.command()
@pass_runtime
@_guarded
def init(runtime: _Runtime) -> None:
    """Create ./var (database, object store, test PKI) if missing."""
    archive = runtime.archive
    click.echo(f"database: {runtime.settings.resolved_database_url}")
    click.echo(f"objects:  {archive.store.description}")
    click.echo(f"test PKI: {runtime.settings.resolved_pki_dir} (TEST — NOT QUALIFIED)")


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8080, show_default=True, type=int)
@click.option(
    "--workers",
    default=2,
    show_default=True,
    type=click.IntRange(min=1),
    help="Worker processes (one per core is a good start).",
)
@click.option(
    "--threads",
    default=16,
    show_default=True,
    type=click.IntRange(min=1),
    help="Request threads per worker, also the connections each worker takes.",
)
@pass_runtime
@_guarded
def serve(runtime: _Runtime, host: str, port: int, workers: int, threads: int) -> None:
    """Serve the HTTP API (gunicorn; SIGTERM stops it and checkpoints the audit chain)."""
    from archive_service.serving import ArchiveServer, ServerOptions

    # Built once here, before any worker starts: this checks the configuration and creates
    # the schema, the store and the test PKI exactly once. Each worker then builds its own.
    archive = runtime.archive
    if archive.checkpoints is not None:
        # A server killed before its last anchor left events uncovered: anchor what it left.
        archive.checkpoints.write_best_effort()
    archive.sessions.kw["bind"].dispose()
    options = ServerOptions(host, port, workers, threads)
    data_dir = runtime.settings.data_dir
    click.echo(f"journal-archive on http://{options.address}/ (data in {data_dir})")
    if archive.sealing.test_pki:
        click.echo("Signing with the local TEST PKI — documents are NOT qualified.")
    ArchiveServer(options, archive.checkpoints).run()


def _media_type(path: Path) -> str | None:
    guessed, _ = mimetypes.guess_type(path.name)
    return guessed


@main.command()
@click.argument(
    "files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path)
)
@pass_runtime
@_guarded
def ingest(runtime: _Runtime, files: tuple[Path, ...]) -> None:
    """Archive journal exports (JSON or XML), one version per changed export."""
    archive = runtime.archive
    failures = pending = 0
    with click.progressbar(
        files, label="Archiving", show_pos=True, item_show_func=lambda p: p.name if p else ""
    ) as bar:
        for path in bar:
            try:
                result = archive.ingest(path.read_bytes(), _media_type(path), _CLI_CONTEXT)
            except ArchiveError as exc:
                failures += 1
                click.echo("", err=True)
                click.secho(f"{path}: {exc.message}", fg="red", err=True)
                for detail in exc.details[:10]:
                    click.echo(f"  at {detail.path}: {detail.message}", err=True)
                continue
            if isinstance(result, PendingSignature):
                pending += 1
                click.echo(
                    f"\n{path}: prepared for the external signer as document "
                    f"{result.request['document_id']} version {result.request['version']}; "
                    f"nothing is archived until it answers signing request "
                    f"{result.request['request_id']} (expires {result.request['expires_at']})."
                )
                continue
            state = "archived" if result.created else "already archived"
            click.echo(
                f"\n{path}: {state} as document {result.document['document_id']} "
                f"version {result.version['version']} ({result.version['signature_level']})"
            )
    done = len(files) - failures - pending
    click.echo(
        f"{done} archived or already present, {pending} awaiting the external signer, "
        f"{failures} refused."
    )
    if failures:
        sys.exit(2)


@main.group()
def tokens() -> None:
    """Create, list and revoke API tokens."""


def _positive_days(_ctx: click.Context, _param: click.Parameter, value: int | None) -> int | None:
    """``--expires-in-days`` must name a future day: 0 or less would be a token that never
    expires (or one already expired), which is never what was meant."""
    if value is not None and value < 1:
        raise click.BadParameter(
            f"{value} days is not a lifetime: give a whole number of days of at least 1 (e.g. "
            "--expires-in-days 30), or leave the option out for a token that does not expire "
            "(and revoke it with `archive-service tokens revoke ID` when it is no longer needed).",
            param_hint="--expires-in-days",
        )
    return value


@tokens.command("create")
@click.option("--role", required=True, type=click.Choice([r.value for r in Role]))
@click.option(
    "--institution", help="EDRPOU code the token is limited to (required for archivist and job)."
)
@click.option("--name", help="Who holds the token (shown in the audit log).")
@click.option(
    "--expires-in-days",
    type=int,
    callback=_positive_days,
    help="Days until the token stops working (at least 1; leave out for no expiry).",
)
@pass_runtime
@_guarded
def tokens_create(
    runtime: _Runtime,
    role: str,
    institution: str | None,
    name: str | None,
    expires_in_days: int | None,
) -> None:
    """Print a new token once; only its hash is kept."""
    archive = runtime.archive
    expires = (
        None
        if expires_in_days is None
        else dt.datetime.now(dt.UTC) + dt.timedelta(days=expires_in_days)
    )
    with archive.sessions.begin() as session:
        issued = create_token(
            session,
            name=name or f"{role} token",
            role=Role(role),
            institution=institution,
            expires_at=expires,
        )
        token_id = issued.record.id
    archive.record(
        _CLI_CONTEXT,
        "token_create",
        "ok",
        {"token_id": token_id, "role": role, "institution": institution},
    )
    click.echo(issued.secret)
    click.echo(f"(token id {token_id}; store the token now — it is not shown again)", err=True)


@tokens.command("list")
@pass_runtime
@_guarded
def tokens_list(runtime: _Runtime) -> None:
    """List tokens (never their secrets)."""
    with runtime.archive.sessions() as session:
        for t in list_tokens(session):
            state = token_state(t)
            click.echo(
                f"{t.id}  {t.role:<9}  {t.institution_edrpou or 'all':<8}  {state:<7}  "
                f"expires {iso(t.expires_at) or 'never'}  {t.name}"
            )


@tokens.command("revoke")
@click.argument("token_id")
@pass_runtime
@_guarded
def tokens_revoke(runtime: _Runtime, token_id: str) -> None:
    """Revoke a token by id; it stops working at once."""
    archive = runtime.archive
    with archive.sessions.begin() as session:
        revoke_token(session, token_id)
    archive.record(_CLI_CONTEXT, "token_revoke", "ok", {"token_id": token_id})
    click.echo(f"revoked {token_id}")


@main.group()
def pki() -> None:
    """The local test PKI of the embedded default."""


@pki.command("export-root")
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the PEM here instead of standard output.",
)
@pass_runtime
@_guarded
def pki_export_root(runtime: _Runtime, output: Path | None) -> None:
    """Export the test root certificate so anyone can validate downloads."""
    from archive_service.signing.test_pki import TestPki

    pem = TestPki.load_or_create(runtime.settings.resolved_pki_dir).root_pem()
    if output:
        output.write_bytes(pem)
        click.echo(f"wrote {output}", err=True)
    else:
        click.echo(pem.decode(), nl=False)


@main.group()
def db() -> None:
    """Manage the database schema (Alembic migrations shipped with the package)."""


@db.command("upgrade")
@click.option("--revision", default="head", show_default=True, help="Target revision.")
@pass_runtime
@_guarded
def db_upgrade(runtime: _Runtime, revision: str) -> None:
    """Migrate the database named by ARCHIVE_DATABASE_URL; safe to run again.

    The service also upgrades at start-up; running this first lets a deployment fail early
    (and once) rather than in every starting process.
    """
    from archive_service.db import create_db_engine, upgrade
    from archive_service.db.migrate import current_revision

    engine = create_db_engine(runtime.settings.resolved_database_url)
    try:
        upgrade(engine, revision)
        click.echo(f"database at revision {current_revision(engine)}")
    finally:
        engine.dispose()


@main.group()
def storage() -> None:
    """Set up the object store named by ARCHIVE_STORAGE_URL."""


@storage.command("init")
@click.option(
    "--default-retention-days",
    type=click.IntRange(min=1),
    default=3650,
    show_default=True,
    help="Bucket default COMPLIANCE retention, a backstop only (every upload sends its own); "
    "a placeholder for the institution to set.",
)
@pass_runtime
@_guarded
def storage_init(runtime: _Runtime, default_retention_days: int) -> None:
    """Create the S3 bucket with Object Lock (possible only at creation) and versioning."""
    from archive_service.storage import initialize_storage

    click.echo(initialize_storage(runtime.settings.resolved_storage_url, default_retention_days))


@main.group("legal-hold")
def legal_hold() -> None:
    """Set, clear and list legal holds (a held version outlives its retention date)."""


def _print_hold(state: dict[str, Any]) -> None:
    hold = state["legal_hold"]
    click.echo(
        f"document {state['document_id']} version {state['version']}: "
        f"{'HELD' if hold['active'] else 'not held'} — {hold['reason']} "
        f"({hold['changed_by']}, {hold['changed_at']})"
    )


def _legal_hold_command(on: bool) -> Callable[..., None]:
    @click.argument("document_id")
    @click.option("--version", "number", type=click.IntRange(min=1), required=True)
    @click.option("--reason", required=True, help="Why (e.g. the court case number); audited.")
    @pass_runtime
    @_guarded
    def command(runtime: _Runtime, document_id: str, number: int, reason: str) -> None:
        _print_hold(
            runtime.archive.set_legal_hold(
                document_id, number, on=on, reason=reason, ctx=_CLI_CONTEXT
            )
        )

    return command


legal_hold.command("set", help="Place every object of a version under legal hold.")(
    _legal_hold_command(on=True)
)
legal_hold.command("clear", help="Lift the legal hold of a version (retention still applies).")(
    _legal_hold_command(on=False)
)


@legal_hold.command("list")
@pass_runtime
@_guarded
def legal_hold_list(runtime: _Runtime) -> None:
    """List the versions under legal hold now."""
    held = runtime.archive.legal_holds(_CLI_CONTEXT)
    for state in held:
        _print_hold(state)
    if not held:
        click.echo("no version is under legal hold")


@main.command()
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@pass_runtime
@_guarded
def reconcile(runtime: _Runtime, as_json: bool) -> None:
    """Compare the object store with the database; read-only, deletes nothing.

    Exit code: 0 clean (or only leftovers of uploads retried since), 1 orphans awaiting a retry
    or incomplete writes (harmless), 2 version rows whose object is missing or differs (serious).
    A legal hold lifted in the store behind a version recorded as held is serious (2); one held
    in the store but not recorded is 1.
    """
    from archive_service.reconcile import PROGRESS_EVERY, describe

    def progress(count: int) -> None:
        click.echo(f"\rlisted {count} objects…", nl=False, err=True)

    report = runtime.archive.reconcile(progress)
    if report.objects >= PROGRESS_EVERY:
        click.echo("", err=True)
    if as_json:
        click.echo(json.dumps(report.as_dict(), indent=2, ensure_ascii=False))
    else:
        for line in describe(report):
            click.echo(line)
    sys.exit(int(report.severity))


def _describe_renewal(item: RenewalItem) -> str:
    expired = iso(item.timestamp_expired_at) or "no timestamp"
    head = f"document {item.document_id} version {item.version} ({item.level_before}, {expired})"
    if item.status == "renewed":
        return (
            f"{head}: renewed as version {item.new_version} ({item.level_after}, next due "
            f"before {iso(item.timestamp_expires_at)})"
        )
    if item.status == "due":
        return f"{head}: due"
    return f"{head}: FAILED ({item.error}) — {item.message}"


@main.command()
@click.option(
    "--due-before",
    required=True,
    type=click.DateTime(formats=["%Y-%m-%d"]),
    help="Renew versions whose newest timestamp's TSA certificate expires before this date "
    "(YYYY-MM-DD, 00:00 UTC).",
)
@click.option("--dry-run", is_flag=True, help="Only list what is due; change nothing.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@pass_runtime
@_guarded
def retimestamp(runtime: _Runtime, due_before: dt.datetime, dry_run: bool, as_json: bool) -> None:
    """Keep signatures verifiable: add a fresh archive timestamp where one is due.

    Each document's newest version whose newest timestamp's TSA certificate expires before
    --due-before, and each one below B-LTA, gets fresh revocation data and a new document
    timestamp (B-T/B-LT are extended to B-LTA); the result is archived as a new version that
    renews it, and the old one stays. Progress goes to standard error. Exit code: 0 when every
    due version was renewed (or none was due), 1 when some failed (they are listed).
    """

    def progress(item: RenewalItem) -> None:
        click.echo(_describe_renewal(item), err=True)

    report = runtime.archive.renew_timestamps(
        due_before.replace(tzinfo=dt.UTC), ctx=_CLI_CONTEXT, progress=progress, dry_run=dry_run
    )
    if as_json:
        click.echo(json.dumps(report.as_dict(), indent=2, ensure_ascii=False))
    else:
        verb = "would be renewed" if dry_run else "renewed"
        click.echo(
            f"{len(report.items)} version(s) due before {iso(report.due_before)}: "
            f"{len(report.items) if dry_run else report.renewed} {verb}, {report.failed} failed."
        )
    if not report.ok:
        sys.exit(1)


@main.command()
@click.argument("document_id", required=False)
@click.option("--version", type=click.IntRange(min=1), help="Version number (default: latest).")
@click.option(
    "--file",
    "pdf_path",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Verify this local PDF instead, and say whether it is an archived version.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the JSON report.")
@click.option("--xml", "as_xml", is_flag=True, help="Print the ETSI TS 119 102-2 XML report.")
@pass_runtime
@_guarded
def verify(
    runtime: _Runtime,
    document_id: str | None,
    version: int | None,
    pdf_path: Path | None,
    as_json: bool,
    as_xml: bool,
) -> None:
    """Verify a stored document (DOCUMENT_ID) or a local PDF (--file PATH).

    A stored version's bytes are re-hashed against the record and its signatures validated;
    a local file is looked up among the archived versions by SHA-256 and validated. Every
    verification is audited. Exit code: 0 valid, 1 not valid, 2 bad input (e.g. not a PDF).
    """
    from archive_service.verification import (
        etsi_report_xml,
        verification_json,
        verification_text,
    )

    if (document_id is None) == (pdf_path is None):
        raise click.UsageError("Give either DOCUMENT_ID or --file PATH.")
    if as_json and as_xml:
        raise click.UsageError("Choose one of --json and --xml.")
    if pdf_path is not None and version is not None:
        raise click.UsageError("--version applies to DOCUMENT_ID, not to --file.")
    archive = runtime.archive
    if pdf_path is not None:
        verification = archive.verify_upload(pdf_path.read_bytes(), "application/pdf", _CLI_CONTEXT)
    else:
        assert document_id is not None
        verification = archive.verify_document(document_id, version, _CLI_CONTEXT)
    if as_json:
        click.echo(json.dumps(verification_json(verification), indent=2, ensure_ascii=False))
    elif as_xml:
        click.echo(etsi_report_xml(verification).decode("utf-8"), nl=False)
    else:
        lines = verification_text(verification)
        click.secho(lines[0], fg="green" if verification.valid else "red")
        for line in lines[1:]:
            click.echo(line)
    if not verification.valid:
        sys.exit(1)


@main.group("audit")
def audit_group() -> None:
    """Inspect the tamper-evident audit log."""


@audit_group.command("verify")
@pass_runtime
@_guarded
def audit_verify(runtime: _Runtime) -> None:
    """Recompute the hash chain, compare it with the checkpoints and report every break."""
    report = runtime.archive.verify_audit_chain()
    click.echo(f"{report.events} events, head #{report.head_seq} {report.head_hash}")
    last = report.last_checkpoint
    click.echo(
        f"checkpoints: {report.checkpoints}"
        + (f", latest at #{last.seq} ({iso(last.written_at)})" if last else "")
    )
    for late in report.late:
        span = f"#{late.first_seq}"
        if late.last_seq > late.first_seq:
            span += f"–#{late.last_seq}"
        click.echo(
            f"  note: events {span} were first anchored {late.delay.total_seconds():.0f} s "
            f"after they occurred ({iso(late.anchored_at)}); until then they could have been "
            "changed undetected"
        )
    for problem in report.problems:
        click.secho(f"  event {problem.seq}: {problem.kind} — {problem.message}", fg="red")
    if not report.intact:
        sys.exit(1)
    click.secho("chain intact", fg="green")


@audit_group.command("checkpoint")
@pass_runtime
@_guarded
def audit_checkpoint(runtime: _Runtime) -> None:
    """Anchor the chain head in write-once storage now (with a timestamp from the TSA)."""
    checkpoint = runtime.archive.write_audit_checkpoint()
    if checkpoint is None:
        click.echo("the audit log is empty; nothing to checkpoint")
        return
    click.echo(
        f"checkpoint at #{checkpoint.seq} {checkpoint.hash} "
        f"({checkpoint.events} events, {iso(checkpoint.written_at)})"
    )


def _time_option(value: str | None) -> dt.datetime | None:
    if not value:
        return None
    try:
        parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise click.BadParameter(f"{value!r} is not an ISO 8601 time") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


@audit_group.command("export")
@click.option(
    "--format",
    "export_format",
    type=click.Choice(["jsonl", "csv"]),
    default="jsonl",
    show_default=True,
)
@click.option("--since", help="Only events at or after this ISO 8601 time (UTC if no offset).")
@click.option("--until", help="Only events before this ISO 8601 time.")
@click.option("--document", help="Only events about this document id.")
@click.option("--actor", help="Only events by this token id.")
@click.option("--action", help="Only events with this action (e.g. retrieve_pdf).")
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write here instead of standard output.",
)
@pass_runtime
@_guarded
def audit_export(
    runtime: _Runtime,
    export_format: str,
    since: str | None,
    until: str | None,
    document: str | None,
    actor: str | None,
    action: str | None,
    output: Path | None,
) -> None:
    """Export audit events as JSON Lines (exact, re-verifiable) or CSV (UTF-8)."""
    filters = AuditFilter(
        document_id=document,
        actor=actor,
        action=action,
        since=_time_option(since),
        until=_time_option(until),
    )
    events = runtime.archive.export_audit_events(filters, _CLI_CONTEXT)
    with output.open("wb") if output else nullcontext(sys.stdout.buffer) as sink:
        for line in export_lines(events, export_format):
            sink.write(line)
    if output:
        click.echo(f"wrote {output}", err=True)


if __name__ == "__main__":  # pragma: no cover - `python -m archive_service.cli`
    main()
