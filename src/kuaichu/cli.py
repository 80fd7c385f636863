"""The `kuaichu` command: serve, demo, db upgrade, user add, evidence migrate, backup, restore."""

import copy
import logging
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import typer
import uvicorn
from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session
from uvicorn.config import LOGGING_CONFIG

from kuaichu import backup as backups
from kuaichu.audit import service as audit
from kuaichu.audit.signing import AuditKeyError, AuditSigner, AuditVerifier
from kuaichu.auth import sessions
from kuaichu.auth.service import create_insurer, create_insurer_agent, create_user
from kuaichu.clock import SystemClock
from kuaichu.db import Database
from kuaichu.demo import janus as demo_janus
from kuaichu.demo.seed import DEMO_JURISDICTIONS, DEMO_PASSWORD, seed_demo
from kuaichu.errors import DomainError, Unavailable
from kuaichu.evidence.migrate import migrate
from kuaichu.evidence.s3 import S3EvidenceStore
from kuaichu.evidence.storage import LocalEvidenceStore
from kuaichu.geo.models import Jurisdiction
from kuaichu.migrate import upgrade
from kuaichu.principal import Principal, Role
from kuaichu.privacy import PathOnlyAccessLog
from kuaichu.settings import Settings

cli = typer.Typer(help="快处 Kuaichu: video handling of minor traffic accidents.", no_args_is_help=True)
db_cli = typer.Typer(help="Database maintenance.", no_args_is_help=True)
user_cli = typer.Typer(help="Staff accounts.", no_args_is_help=True)
audit_cli = typer.Typer(help="The tamper-evident audit log.", no_args_is_help=True)
cli.add_typer(db_cli, name="db")
cli.add_typer(user_cli, name="user")
cli.add_typer(audit_cli, name="audit")
insurer_cli = typer.Typer(help="Insurer systems.", no_args_is_help=True)
cli.add_typer(insurer_cli, name="insurer")
evidence_cli = typer.Typer(help="Evidence files.", no_args_is_help=True)
cli.add_typer(evidence_cli, name="evidence")


def server_log_config() -> dict[str, Any]:
    """uvicorn's own logging, with query strings kept out of the access log."""
    config = copy.deepcopy(LOGGING_CONFIG)
    config["filters"] = {"path_only": {"()": PathOnlyAccessLog}}
    config["handlers"]["access"]["filters"] = ["path_only"]
    return config


def _serve(settings: Settings) -> None:
    from kuaichu.app import create_app

    # The console's WebSocket is the operator's heartbeat: a connection that stops answering
    # pings (sent every quarter of the presence timeout) is closed within half of it.
    ping = settings.presence_timeout_seconds / 4
    uvicorn.run(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        log_level="info",
        ws_ping_interval=ping,
        ws_ping_timeout=ping,
        # X-Forwarded-For/-Proto are believed only from these (the reverse proxy): the client
        # address the limits and the audit log use, and https for HSTS.
        proxy_headers=True,
        forwarded_allow_ips=settings.forwarded_allow_ips,
        log_config=server_log_config(),
    )


@cli.command()
def serve() -> None:
    """Run the server (migrations are applied on start)."""
    logging.basicConfig(level=logging.INFO)
    _serve(Settings())


@cli.command()
def demo(port: Annotated[int, typer.Option(help="Port to serve on.")] = 8000) -> None:
    """Create the data directory, migrate, seed the demo city, and serve."""
    logging.basicConfig(level=logging.INFO)
    settings = Settings(port=port, jurisdictions_file=DEMO_JURISDICTIONS, sms_log_text=True)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    upgrade(settings.effective_database_url)
    database = Database(settings.effective_database_url)
    logins = database.write_sync(lambda s: seed_demo(s, SystemClock().now()))
    database.dispose()
    base = settings.effective_public_base_url
    typer.echo(f"\n快处 demo — data in {settings.data_dir.resolve()}")
    typer.echo(f"  API docs:      {base}/docs")
    typer.echo(f"  Health:        {base}/health")
    typer.echo(f"  Party (phone): {base}/party")
    typer.echo(f"  Operator:      {base}/console")
    typer.echo(f"  Officer:       {base}/workbench")
    typer.echo(f"  Reviewer:      {base}/review")
    typer.echo(f"  Supervisor:    {base}/supervisor")
    typer.echo(f"  Staff logins (password {DEMO_PASSWORD}):")
    for username, role, unit in logins.staff:
        typer.echo(f"    {username:<18} {role:<10} {unit}")
    typer.echo("  Parties log in with any mobile number; the SMS code is in the log (demo gateway).")
    typer.echo("  Demo drivers (enter one as a party on the console; the registry checks will find):")
    for driver in logins.drivers:
        found = "；".join(driver.findings) or "核验全部通过"
        typer.echo(
            f"    {driver.name}  {driver.phone}  {driver.id_number}  "
            f"{driver.plate_number}（{driver.plate_type}，{driver.vehicle_type}）  → {found}"
        )
    for code, key in logins.api_keys:
        typer.echo(f"  Insurer {code} API key (shown once): {key}")
    typer.echo("  Demo city: 西湖区 (30.26, 120.10), 上城区 (30.26, 120.20), 拱墅区 (30.33, 120.15)\n")
    _serve(_with_demo_media_server(settings))


def _with_demo_media_server(settings: Settings) -> Settings:
    """Calls through a Janus of the demo's own when it is installed (and none is configured)."""
    if settings.janus_nodes:
        return settings  # configured in the environment
    started = demo_janus.start(settings.data_dir)
    if started is None:
        typer.echo("  Calls: browser to browser (P2P); the console records them\n")
        return settings
    typer.echo(f"  Calls: through Janus at {started.node.public_url}, recorded on the server\n")
    return settings.model_copy(
        update={
            "janus_nodes": [started.node],
            "janus_api_secret": started.api_secret,
            "janus_admin_secret": started.admin_secret,
        }
    )


@db_cli.command("upgrade")
def db_upgrade() -> None:
    """Apply the migrations to the configured database."""
    upgrade(Settings().effective_database_url)
    typer.echo("database is up to date")


@user_cli.command("add")
def user_add(
    username: str,
    role: Annotated[Role, typer.Option(help="operator, officer, reviewer, supervisor or admin")],
    name: Annotated[str, typer.Option(help="Display name")],
    password: Annotated[str, typer.Option(prompt=True, hide_input=True, confirmation_prompt=True)],
    jurisdiction: Annotated[str | None, typer.Option(help="Jurisdiction code")] = None,
    badge: Annotated[str | None, typer.Option(help="Officer's badge number")] = None,
) -> None:
    """Create a staff account."""
    settings = Settings()
    upgrade(settings.effective_database_url)
    database = Database(settings.effective_database_url)

    def work(session: Session) -> int:
        jurisdiction_id = None
        if jurisdiction:
            jurisdiction_id = session.scalar(select(Jurisdiction.id).where(Jurisdiction.code == jurisdiction))
            if jurisdiction_id is None:
                raise DomainError(f"unknown jurisdiction {jurisdiction}")
        return create_user(
            session,
            username=username,
            password=password,
            role=role,
            display_name=name,
            jurisdiction_id=jurisdiction_id,
            badge_number=badge,
            now=SystemClock().now(),
        ).id

    try:
        user_id = database.write_sync(work)
    except DomainError as error:
        typer.echo(f"error: {error.detail}", err=True)
        raise typer.Exit(1) from None
    typer.echo(f"created user {username} (id {user_id}, {role.value})")


def _staff_change(work: Callable[[Session, Principal, datetime], object], done: str) -> None:
    """Run one change to a staff account; its sessions end on their next request."""
    settings = Settings()
    upgrade(settings.effective_database_url)
    database = Database(settings.effective_database_url)
    actor = Principal(role=Role.ADMIN, label="命令行管理员")
    try:
        database.write_sync(lambda s: work(s, actor, SystemClock().now()))
    except DomainError as error:
        typer.echo(f"error: {error.detail}", err=True)
        raise typer.Exit(1) from None
    finally:
        database.dispose()
    typer.echo(done)


@user_cli.command("deactivate")
def user_deactivate(username: str) -> None:
    """Deactivate a staff account: its sessions end at once and it is offered no calls."""
    _staff_change(lambda s, a, now: sessions.deactivate_user(s, username, a, now), f"deactivated {username}")


@user_cli.command("activate")
def user_activate(username: str) -> None:
    """Reactivate a staff account (and lift a lockout)."""
    _staff_change(lambda s, a, now: sessions.activate_user(s, username, a, now), f"activated {username}")


@user_cli.command("role")
def user_role(
    username: str,
    role: Annotated[Role, typer.Argument(help="operator, officer, reviewer, supervisor or admin")],
    jurisdiction: Annotated[str | None, typer.Option(help="Jurisdiction code")] = None,
) -> None:
    """Change a staff account's role; its sessions end at once."""

    def work(session: Session, actor: Principal, now: datetime) -> object:
        jurisdiction_id = None
        if jurisdiction:
            jurisdiction_id = session.scalar(select(Jurisdiction.id).where(Jurisdiction.code == jurisdiction))
            if jurisdiction_id is None:
                raise DomainError(f"unknown jurisdiction {jurisdiction}")
        return sessions.change_role(session, username, role, actor, now, jurisdiction_id)

    _staff_change(work, f"{username} is now {role.value}")


@user_cli.command("password")
def user_password(
    username: str,
    password: Annotated[str, typer.Option(prompt=True, hide_input=True, confirmation_prompt=True)],
) -> None:
    """Set a staff account's password; its sessions end at once."""
    _staff_change(
        lambda s, a, now: sessions.change_password(s, username, password, a, now),
        f"password of {username} set",
    )


@audit_cli.command("verify")
def audit_verify() -> None:
    """Check the whole hash chain and the signed checkpoints with the PUBLIC audit key only;
    name the first entry that does not hold."""
    settings = Settings()
    try:
        verifier = AuditVerifier.from_file(
            settings.effective_audit_public_key_file, settings.audit_public_key_sha256
        )
    except AuditKeyError as error:
        typer.echo(f"audit chain NOT VERIFIED: {error}", err=True)
        raise typer.Exit(1) from None
    database = Database(settings.effective_database_url)
    result = database.write_sync(lambda s: audit.verify(s, verifier))
    database.dispose()
    if not result.ok:
        where = f"entry {result.first_broken_id}: " if result.first_broken_id else ""
        typer.echo(f"audit chain BROKEN at {where}{result.reason}", err=True)
        raise typer.Exit(1)
    typer.echo(
        f"audit chain intact: {result.entries} entries, {result.checkpoints} signed checkpoints, "
        f"{result.unsigned} entries after the last signed head; "
        f"public key sha256 {verifier.fingerprint}"
        + ("" if settings.audit_public_key_sha256 else " (not pinned: set KUAICHU_AUDIT_PUBLIC_KEY_SHA256)")
    )


@audit_cli.command("checkpoint")
def audit_checkpoint() -> None:
    """Sign the chain's head now."""
    settings = Settings()
    database = Database(settings.effective_database_url)
    signer = AuditSigner.at_set_up(
        settings.effective_audit_key_file,
        settings.effective_audit_public_key_file,
        settings.data_dir,
        settings.audit_public_key_sha256,
    )
    signed = database.write_sync(lambda s: audit.checkpoint(s, signer, SystemClock().now()))
    database.dispose()
    typer.echo(f"signed checkpoint at entry {signed.entry_id}" if signed else "nothing new to sign")


@insurer_cli.command("add")
def insurer_add(
    code: str,
    name: str,
    webhook: Annotated[str | None, typer.Option(help="HTTPS URL that receives claim pushes")] = None,
) -> None:
    """Register an insurer; prints its API key and webhook secret once."""
    settings = Settings()
    upgrade(settings.effective_database_url)
    database = Database(settings.effective_database_url)

    def work(session: Session) -> tuple[str, str]:
        insurer, key = create_insurer(
            session, code=code, name=name, webhook_url=webhook, now=SystemClock().now()
        )
        return key, insurer.webhook_secret or ""

    try:
        key, secret = database.write_sync(work)
    except DomainError as error:
        typer.echo(f"error: {error.detail}", err=True)
        raise typer.Exit(1) from None
    typer.echo(f"API key (X-API-Key): {key}\nwebhook secret (Standard Webhooks): {secret}")


@insurer_cli.command("agent")
def insurer_agent(
    code: Annotated[str, typer.Argument(help="The insurer's code (kuaichu insurer add)")],
    username: str,
    name: Annotated[str, typer.Option(help="Display name")],
    password: Annotated[str, typer.Option(prompt=True, hide_input=True, confirmation_prompt=True)],
) -> None:
    """Create an insurer's agent (保险公司坐席): a password login who may be invited into calls."""
    settings = Settings()
    upgrade(settings.effective_database_url)
    database = Database(settings.effective_database_url)

    def work(session: Session) -> int:
        now = SystemClock().now()
        agent = create_insurer_agent(
            session, username=username, password=password, display_name=name, insurer_code=code, now=now
        )
        return agent.id

    try:
        user_id = database.write_sync(work)
    except DomainError as error:
        typer.echo(f"error: {error.detail}", err=True)
        raise typer.Exit(1) from None
    finally:
        database.dispose()
    typer.echo(f"created insurer agent {username} of {code} (id {user_id}); they log in at /insurer")


@evidence_cli.command("migrate")
def evidence_migrate() -> None:
    """Copy every blob of the local evidence directory to the S3 bucket, checking each against
    its SHA-256 before sending and reading it back after. Safe to run again: what the bucket
    holds is not sent twice. The local files stay until you remove them."""
    settings = Settings()
    if not settings.evidence_s3_endpoint:
        typer.echo(
            "error: no object store configured: set KUAICHU_EVIDENCE_S3_ENDPOINT, _BUCKET, "
            "_ACCESS_KEY and _SECRET_KEY first",
            err=True,
        )
        raise typer.Exit(2)
    source = LocalEvidenceStore(settings.evidence_dir)
    target = S3EvidenceStore.from_settings(settings)
    typer.echo(
        f"evidence: {settings.evidence_dir} -> bucket {settings.evidence_s3_bucket} "
        f"at {settings.evidence_s3_endpoint}"
    )
    try:
        report = migrate(source, target, lambda sha256, outcome: typer.echo(f"  {sha256}  {outcome}"))
    except Unavailable as error:
        typer.echo(f"error: the object store failed ({error.__cause__}); run again to resume", err=True)
        raise typer.Exit(1) from None
    typer.echo(
        f"{report.uploaded} uploaded and verified, {report.present} already in the bucket, "
        f"{len(report.corrupt)} corrupt on disk (not uploaded), {len(report.failed)} failed verification"
    )
    if not report.complete:
        raise typer.Exit(1)


@cli.command("backup")
def backup(
    directory: Annotated[Path, typer.Argument(help="A new or empty directory for the backup.")],
    with_audit_signing_key: Annotated[
        bool, typer.Option(help="Include the audit signing key (kept apart from the data by default).")
    ] = False,
) -> None:
    """Back up a SQLite deployment while it runs: the database (SQLite's online backup), the local
    evidence and the key files. PostgreSQL: pg_dump (README, "Backups")."""
    try:
        report = backups.backup(Settings(), directory, with_audit_signing_key)
    except backups.BackupRefused as refused:
        typer.echo(f"error: {refused}", err=True)
        raise typer.Exit(2) from None
    typer.echo(
        f"backed up to {directory}: the database, {report.evidence_files} evidence files, "
        f"keys: {', '.join(report.keys) or 'none'}"
    )
    for note in report.notes:
        typer.echo(f"note: {note}")
    for sha256 in report.corrupt:
        typer.echo(f"CORRUPT evidence file {sha256}: it no longer matches its hash, not backed up", err=True)
    if report.corrupt:
        raise typer.Exit(1)


@cli.command("restore")
def restore(
    directory: Annotated[Path, typer.Argument(help="A directory `kuaichu backup` wrote.")],
    force: Annotated[bool, typer.Option(help="Replace a data directory or key files that exist.")] = False,
) -> None:
    """Restore a backup into the configured data directory and key files (checked first; a
    target that holds anything is refused without --force). Stop the server first."""
    try:
        report = backups.restore(Settings(), directory, force)
    except backups.BackupRefused as refused:
        typer.echo(f"error: {refused}", err=True)
        raise typer.Exit(2) from None
    typer.echo(
        f"restored from {directory}: the database, {report.evidence_files} evidence files, "
        f"keys: {', '.join(report.keys) or 'none'}; check it with `kuaichu audit verify`"
    )
    for note in report.notes:
        typer.echo(f"note: {note}")


def _setting_problem(loc: tuple[int | str, ...], msg: str) -> str:
    """'KUAICHU_<NAME>: <why>' for a setting's validation error. Only the top of the location is
    a variable; within a structured one (a list of objects) the rest of it says where, as in
    'KUAICHU_JANUS_NODES: [0].public_url: Field required'."""
    if not loc:  # the settings as a whole
        return msg
    name, *inside = loc
    where = "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in inside)
    return ": ".join(part for part in (f"KUAICHU_{str(name).upper()}", where, msg) if part)


def main() -> None:
    try:
        cli()
    except ValidationError as error:
        if error.title != Settings.__name__:
            raise
        # A setting the deployment set out of its bounds: which variable and why, no traceback.
        for problem in error.errors():
            typer.echo(f"error: {_setting_problem(problem['loc'], problem['msg'])}", err=True)
        raise SystemExit(1) from None


if __name__ == "__main__":
    main()
