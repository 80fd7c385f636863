"""`kuaichu backup DIR` and `kuaichu restore DIR` for a SQLite deployment.

A backup holds the database (copied with SQLite's online backup API, so a running server
keeps serving), the local evidence directory, and the key files the app keeps beside its
data: the audit public key, the phone-matching key, the document signing key and certificate,
the session secret. MANIFEST.json, written last, names every file with its SHA-256; restore
checks them all before it writes anything.

The audit signing key is left out unless asked for: it lives outside the data directory so
that whoever can rewrite the data cannot re-sign it, and a backup that holds both would undo
that. PostgreSQL deployments back up with pg_dump (README, "Backups").
"""

import hashlib
import json
import os
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy.engine import make_url

from kuaichu.evidence.storage import (
    SHA256_NAME,
    LocalEvidenceStore,
    fsync_directory,
    make_directories_durably,
)
from kuaichu.settings import Settings

FORMAT = "kuaichu-backup/1"
MANIFEST = "MANIFEST.json"
DATABASE = "kuaichu.db"
EVIDENCE = "evidence"
KEYS = "keys"
AUDIT_SIGNING_KEY = "audit-key.pem"
_CHUNK = 1024 * 1024

POSTGRES_ROUTE = """\
This deployment runs on PostgreSQL: `kuaichu backup` copies SQLite deployments only.
Back PostgreSQL up with its own tools (README, "Backups"):
  pg_dump --format=custom --file=kuaichu.dump "$KUAICHU_DATABASE_URL"
  pg_restore --clean --if-exists --no-owner --dbname="$KUAICHU_DATABASE_URL" kuaichu.dump
and keep the key files (the audit public key, the phone key, the document key and
certificate) and the evidence (its bucket, or the evidence directory) as the README says."""


class BackupRefused(Exception):
    """Nothing was written; the message says why and what to do."""


@dataclass
class BackupReport:
    evidence_files: int = 0
    corrupt: list[str] = field(default_factory=list)
    keys: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def key_files(settings: Settings) -> dict[str, Path]:
    """The key files the app keeps and reads back on start, by their name in a backup."""
    return {
        "audit-key.pub.pem": settings.effective_audit_public_key_file,
        "phone-key": settings.effective_audit_key_file.with_name("phone-key"),
        "document-key.pem": settings.effective_document_key_file,
        "document-cert.pem": settings.effective_document_cert_file,
        "secret.key": settings.data_dir / "secret.key",
    }


def sqlite_path(settings: Settings) -> Path:
    url = make_url(settings.effective_database_url)
    if url.get_backend_name() != "sqlite" or not url.database:
        raise BackupRefused(POSTGRES_ROUTE)
    return Path(url.database)


def backup(settings: Settings, target: Path, with_audit_signing_key: bool = False) -> BackupReport:
    database = sqlite_path(settings)
    if not database.exists():
        raise BackupRefused(f"no database at {database}: nothing to back up")
    if target.exists() and any(target.iterdir()):
        raise BackupRefused(f"{target} is not empty: back up into a new or empty directory")
    make_directories_durably(target.resolve())
    report = BackupReport()
    files: dict[str, str] = {DATABASE: _copy_database(database, target / DATABASE)}
    # After the database: every blob its rows name was stored (and fsynced) before the row
    # committed, so it is on disk now; a blob added since is merely extra.
    if settings.evidence_s3_endpoint:
        report.notes.append(
            f"evidence is in the bucket {settings.evidence_s3_bucket} at {settings.evidence_s3_endpoint}: "
            "not copied; protect it with the object store's versioning or replication"
        )
    else:
        for sha256, path in LocalEvidenceStore(settings.evidence_dir).blobs():
            name = f"{EVIDENCE}/{sha256[:2]}/{sha256[2:4]}/{sha256}"
            copied = _copy_file(path, target / name)
            if copied == sha256:
                files[name] = copied
                report.evidence_files += 1
            else:
                (target / name).unlink()
                report.corrupt.append(sha256)
    keys = key_files(settings)
    if with_audit_signing_key:
        keys[AUDIT_SIGNING_KEY] = settings.effective_audit_key_file
    else:
        report.notes.append(
            f"the audit signing key {settings.effective_audit_key_file} is not in the backup: keep it "
            "apart from the data (or back up with --with-audit-signing-key)"
        )
    for name, path in keys.items():
        if path.exists():
            files[f"{KEYS}/{name}"] = _copy_file(path, target / KEYS / name)
            report.keys.append(name)
    _write_manifest(target, settings, files)
    return report


@dataclass
class RestoreReport:
    evidence_files: int = 0
    keys: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def restore(settings: Settings, source: Path, force: bool = False) -> RestoreReport:
    """Put a backup in place of the configured data directory and key files. Refuses a target
    that holds anything unless forced; checks the whole backup before writing anything."""
    database = sqlite_path(settings)
    files = _checked_manifest(source)
    keys = key_files(settings) | {AUDIT_SIGNING_KEY: settings.effective_audit_key_file}
    if not force:
        occupied = [str(path) for path in _targets(settings, keys, files) if _holds_something(path)]
        if occupied:
            raise BackupRefused(
                "the target is not empty: " + ", ".join(occupied) + " (restore --force replaces it)"
            )
    report = RestoreReport()
    make_directories_durably(database.parent.resolve())
    _restore_database(source / DATABASE, database)
    for name in files:
        if name.startswith(f"{EVIDENCE}/"):
            _copy_file(source / name, settings.evidence_dir / name.removeprefix(f"{EVIDENCE}/"))
            report.evidence_files += 1
        elif name.startswith(f"{KEYS}/"):
            key = name.removeprefix(f"{KEYS}/")
            _copy_file(source / name, keys[key], mode=0o600)
            report.keys.append(key)
    if AUDIT_SIGNING_KEY not in report.keys and not keys[AUDIT_SIGNING_KEY].exists():
        report.notes.append(
            f"put the audit signing key back at {keys[AUDIT_SIGNING_KEY]} before starting the server "
            "(`kuaichu audit verify` needs only the public key and works now)"
        )
    if report.evidence_files and settings.evidence_s3_endpoint:
        report.notes.append("this deployment keeps evidence in S3: run `kuaichu evidence migrate` next")
    return report


def _targets(settings: Settings, keys: dict[str, Path], files: dict[str, str]) -> Iterator[Path]:
    yield settings.data_dir
    for name in files:
        if name.startswith(f"{KEYS}/"):
            yield keys[name.removeprefix(f"{KEYS}/")]


def _holds_something(path: Path) -> bool:
    if path.is_dir():
        return any(path.iterdir())
    return path.exists()


def _copy_database(source: Path, target: Path) -> str:
    """SQLite's online backup: a consistent copy while the server goes on writing (WAL)."""
    with sqlite3.connect(source, timeout=30) as live, sqlite3.connect(target) as copy:
        live.backup(copy)
        # One self-contained file: no -wal beside it.
        copy.execute("PRAGMA journal_mode=DELETE")
        (verdict,) = copy.execute("PRAGMA quick_check").fetchone()
    live.close()
    copy.close()
    if verdict != "ok":
        raise BackupRefused(f"the copy of {source} does not check: {verdict}")
    return _fsync_and_hash(target)


def _restore_database(source: Path, target: Path) -> None:
    with sqlite3.connect(source) as backed_up, sqlite3.connect(target, timeout=30) as restored:
        backed_up.backup(restored)
    backed_up.close()
    restored.close()
    _fsync_and_hash(target)
    fsync_directory(target.parent)


def _copy_file(source: Path, target: Path, mode: int | None = None) -> str:
    """Copy, fsync and name by SHA-256 (of the bytes written)."""
    make_directories_durably(target.parent.resolve())
    digest = hashlib.sha256()
    descriptor = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode or 0o644)
    with source.open("rb") as reading, os.fdopen(descriptor, "wb") as writing:
        while chunk := reading.read(_CHUNK):
            digest.update(chunk)
            writing.write(chunk)
        writing.flush()
        os.fsync(writing.fileno())
    if mode is not None:
        target.chmod(mode)
    fsync_directory(target.parent)
    return digest.hexdigest()


def _fsync_and_hash(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as reading:
        while chunk := reading.read(_CHUNK):
            digest.update(chunk)
        os.fsync(reading.fileno())
    return digest.hexdigest()


def _write_manifest(target: Path, settings: Settings, files: dict[str, str]) -> None:
    manifest = {
        "format": FORMAT,
        "created_at": datetime.now(UTC).isoformat(),
        "evidence": "s3" if settings.evidence_s3_endpoint else "local",
        "files": files,
    }
    temporary = target / f"{MANIFEST}.partial"
    with temporary.open("w") as writing:
        json.dump(manifest, writing, indent=1, sort_keys=True)
        writing.flush()
        os.fsync(writing.fileno())
    os.replace(temporary, target / MANIFEST)
    fsync_directory(target)


def _checked_manifest(source: Path) -> dict[str, str]:
    """The backup's files by name, each checked against its SHA-256."""
    path = source / MANIFEST
    if not path.exists():
        raise BackupRefused(f"{source} is not a complete backup: it has no {MANIFEST}")
    manifest = json.loads(path.read_text())
    if manifest.get("format") != FORMAT:
        raise BackupRefused(f"{path} is not a {FORMAT} manifest")
    files: dict[str, str] = manifest["files"]
    for name, sha256 in files.items():
        file = (source / name).resolve()
        if not file.is_relative_to(source.resolve()) or not file.is_file():
            raise BackupRefused(f"the backup lacks {name}")
        if name.startswith(f"{EVIDENCE}/") and not (SHA256_NAME.fullmatch(file.name) and file.name == sha256):
            raise BackupRefused(f"{name} is not named by its hash")
        if _hash(file) != sha256:
            raise BackupRefused(f"{name} in the backup is damaged: its SHA-256 is not the one recorded")
    if DATABASE not in files:
        raise BackupRefused(f"the backup has no {DATABASE}")
    return files


def _hash(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as reading:
        while chunk := reading.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()
