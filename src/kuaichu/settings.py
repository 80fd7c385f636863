"""The one settings object: every knob comes from a KUAICHU_* variable (or .env)."""

import secrets
from functools import cached_property
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, Field, StringConstraints
from pydantic_settings import BaseSettings, SettingsConfigDict

# An evidence kind (evidence.schemas.EvidenceKind), optionally needed once per vehicle.
STILL_REQUIREMENT = r"^(side_by_side|vehicle_overview|collision_point|plate|other)(:each)?$"
# A time of day, HH:MM; 24:00 ends a day.
SERVICE_TIME = r"^(([01]\d|2[0-3]):[0-5]\d|24:00)$"


class JanusNode(BaseModel):
    """One Janus media server (VideoRoom SFU): how the app reaches its API and admin API, and
    how the pages reach it (the public address, usually through the reverse proxy)."""

    name: str = Field(min_length=1, max_length=32)
    api_url: str
    admin_url: str
    public_url: str


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="KUAICHU_", env_file=".env", extra="ignore")

    data_dir: Path = Path("kuaichu-data")
    # Empty means SQLite (WAL) inside data_dir.
    database_url: str = ""
    # Empty means the in-process event bus (one server process).
    redis_url: str = ""
    host: str = "127.0.0.1"
    port: int = 8000
    # Empty means a key generated once and kept in data_dir/secret.key.
    secret_key: str = ""
    # The address people reach the server at (the document's QR code points there).
    # Empty means http://{host}:{port}, the address the server listens on.
    public_base_url: str = ""

    jurisdictions_file: Path | None = None

    party_token_hours: int = 24
    # A staff login lasts this long (its refresh tokens), through access tokens of a few
    # minutes each; deactivation, a role or a password change ends it on the next request.
    staff_token_hours: int = 12
    staff_access_token_minutes: int = Field(default=15, ge=1, le=60)
    # Wrong staff passwords: this many in a row lock the account for the minutes given;
    # an address gets this many failures an hour, whatever the accounts tried.
    staff_lockout_failures: int = Field(default=5, ge=1)
    staff_lockout_minutes: int = Field(default=15, ge=1)
    staff_login_failures_per_address_per_hour: int = Field(default=20, ge=1)
    # A page opens its WebSocket with a one-time ticket valid this long (never a token in a URL).
    socket_ticket_seconds: int = Field(default=30, ge=1, le=300)
    # Addresses whose X-Forwarded-For/-Proto are believed (the reverse proxy), comma separated.
    forwarded_allow_ips: str = "127.0.0.1"
    # GET /metrics needs "Authorization: Bearer <this>"; empty: /metrics answers 404.
    metrics_token: str = ""
    # TURN (coturn with use-auth-secret): time-limited credentials, handed to logged-in pages
    # only; username "expiry:user", credential base64(HMAC-SHA1(secret, username)).
    turn_urls: list[str] = Field(default_factory=list)
    turn_secret: str = ""
    turn_ttl_seconds: int = Field(default=3600, ge=60, le=86400)

    sms_code_ttl_seconds: int = 300
    sms_code_max_attempts: int = 5
    sms_codes_per_phone_per_hour: int = 5
    sms_code_min_interval_seconds: int = 60
    sms_codes_per_address_per_hour: int = 20
    # 自行协商 sends an official SMS to the phone the proposer names: limited per proposer,
    # per recipient and per address, so nobody can use it to message strangers.
    settlements_per_proposer_per_day: int = Field(default=3, ge=1)
    settlements_per_recipient_per_day: int = Field(default=3, ge=1)
    settlements_per_address_per_day: int = Field(default=10, ge=1)

    sms_gateway: Literal["database", "http"] = "database"
    sms_http_url: str = ""
    sms_http_token: str = ""
    # The database gateway writes message texts to the log only when asked (`kuaichu demo`).
    sms_log_text: bool = False

    # At most 5 GiB: the S3 store's orphan sweep sets a blob aside with one CopyObject, which S3
    # refuses above 5 GiB; a larger upload would be stored but could never be swept.
    evidence_max_bytes: int = Field(default=50 * 1024 * 1024, gt=0, le=5 * 1024**3)
    # A party's signature drawn on the phone (a PNG of a few strokes); within the 1 MB body limit.
    signature_max_bytes: int = Field(default=512 * 1024, gt=0, le=1024 * 1024 - 64 * 1024)
    # Evidence on S3-compatible object storage (OSS, COS, Ceph RGW, MinIO, SeaweedFS, AWS).
    # Empty endpoint: the local directory data_dir/evidence (the embedded default).
    evidence_s3_endpoint: str = ""
    evidence_s3_bucket: str = "kuaichu-evidence"
    evidence_s3_region: str = "us-east-1"
    evidence_s3_access_key: str = ""
    evidence_s3_secret_key: str = ""
    # "path" (bucket in the path) suits MinIO, Ceph RGW and SeaweedFS; OSS and COS want "virtual".
    evidence_s3_addressing_style: Literal["auto", "path", "virtual"] = "path"
    # An unreachable store is answered 503 after this long (per attempt, and this many attempts).
    evidence_s3_timeout_seconds: float = Field(default=10.0, gt=0)
    evidence_s3_attempts: int = Field(default=3, ge=1, le=10)

    outbox_max_attempts: int = 8
    outbox_poll_seconds: float = 1.0
    outbox_lease_seconds: int = 60
    run_dispatcher: bool = True
    # How often the document job looks for documents to make besides when a determination wakes
    # it: retries of failed signing, and orders a killed process left.
    document_sweep_seconds: float = Field(default=5.0, gt=0)
    # How often SQLite's write-ahead log is copied back into the database file (a job, so that
    # no request's commit does it; kuaichu.db). Ignored on PostgreSQL.
    sqlite_checkpoint_seconds: float = Field(default=2.0, gt=0)

    # WebRTC ICE servers handed to the pages, as RTCIceServer objects (JSON in the env var), e.g.
    # [{"urls": "turn:turn.example:3478", "username": "kuaichu", "credential": "..."}].
    # Empty: host candidates only, enough on one network (and on loopback in the tests).
    ice_servers: list[dict[str, str | list[str]]] = Field(default_factory=list)
    # "relay": call media only through TURN (the party's address stays hidden from the console).
    ice_transport_policy: Literal["all", "relay"] = "all"
    # A dropped call keeps its operator this long before the case returns to the queue's head.
    call_grace_seconds: float = 60.0
    # Estimated wait before any call has been handled in the jurisdiction.
    call_default_handling_seconds: int = 300
    call_sweep_seconds: float = 2.0
    # The operator console's connection is its heartbeat: a console that closed (or stopped
    # answering the server's WebSocket pings) this long ago leaves its operator 离开 (away).
    presence_timeout_seconds: float = Field(default=10.0, gt=0)
    # An offered call nobody joins within this goes back to the head of the queue, and its
    # operator becomes 未应答 (no_answer) until they set 空闲 again (mod_callcenter's max-no-answer).
    offer_timeout_seconds: float = Field(default=15.0, gt=0)
    # Video quick handling's service hours, Shanghai time (a jurisdiction may set its own);
    # "00:00"-"24:00" is all day, a start after the end runs overnight.
    service_hours_start: str = Field(default="07:00", pattern=SERVICE_TIME)
    service_hours_end: str = Field(default="19:00", pattern=SERVICE_TIME)
    # New one-tap reports (cases) per phone and per client address in an hour; an address
    # is often a mobile carrier's NAT shared by many phones, so its limit is generous.
    reports_per_phone_per_hour: int = Field(default=6, ge=1)
    reports_per_address_per_hour: int = Field(default=60, ge=1)
    recording_chunk_seconds: int = Field(default=5, ge=1, le=60)
    # Threads reading plates and licences off the stills (kuaichu.recognition): each OCR keeps
    # a core busy for a fraction of a second, so one per process leaves the rest to requests.
    recognition_workers: int = Field(default=1, ge=1, le=8)
    # The media server (Janus VideoRoom): calls run through it and it records on the server.
    # No node (the default): a call runs browser to browser (P2P) and the console records.
    # Nodes as JSON, a call's room goes to the one with the fewest open rooms, e.g.
    # [{"name": "hz-1", "api_url": "http://10.0.0.5:8088/janus",
    #   "admin_url": "http://10.0.0.5:7088/admin", "public_url": "https://media.example/hz-1/janus"}]
    janus_nodes: list[JanusNode] = Field(default_factory=list)
    # Janus's api_secret (every API request the app makes) and admin_secret (the admin API, and
    # the VideoRoom plugin's admin_key: only the app creates rooms). Pages never see either:
    # they hold a token per call and participant.
    janus_api_secret: str = ""
    janus_admin_secret: str = ""
    # Where the nodes write the rooms' .mjr recordings, as this app sees it (a shared volume
    # when nodes and app run on different hosts, mounted at the same path on both). Empty
    # means data_dir/recordings.
    janus_recordings_dir: Path | None = None
    janus_timeout_seconds: float = Field(default=5.0, gt=0)
    # How often ended calls' rooms are closed and their recordings stored as evidence.
    janus_sweep_seconds: float = Field(default=5.0, gt=0)
    # A node that cannot be reached this long after its call ended is taken as gone: the
    # room's files are stored as they are (a dead Janus writes no more).
    janus_close_grace_seconds: float = Field(default=600.0, gt=0)
    # How long an insurer's agents may take to join a call their insurer was invited into.
    insurer_invitation_minutes: int = Field(default=10, ge=1, le=120)

    # The private key that signs the audit chain's head. It must live outside the data
    # directory; empty means <data_dir>-keys/audit-key.pem beside it, created on first start.
    audit_key_file: Path | None = None
    # Its public half, all `kuaichu audit verify` needs; empty means audit-key.pub.pem beside
    # the private key. Pin its fingerprint (printed by `kuaichu audit verify`, SHA-256 of the
    # DER public key) so that a chain re-signed under another key fails.
    audit_public_key_file: Path | None = None
    audit_public_key_sha256: str = Field(default="", pattern=r"^([0-9a-fA-F]{64})?$")
    # The head is signed in the committing transaction once this many entries are unsigned
    # (1: at every commit that appends) or the last signature is this old, whichever comes
    # first; a background task also signs an idle head every audit_checkpoint_seconds.
    audit_checkpoint_entries: int = Field(default=1, ge=1)
    audit_checkpoint_seconds: float = Field(default=300.0, gt=0)
    # Retention after a case closes (办结), per kind, then a job purges it (files deleted,
    # rows and hashes kept, personal data masked; the document stays): every retention_sweep_seconds.
    retention_recording_days: int = Field(default=90, ge=1)
    retention_still_days: int = Field(default=365, ge=1)
    retention_personal_data_days: int = Field(default=3 * 365, ge=1)
    retention_sweep_seconds: float = Field(default=3600.0, gt=0)
    # A blob no row names (its request died between storing it and committing the row) is
    # deleted by the same job once it was written this long ago; an upload whose row has not
    # committed yet is younger. Longer than any upload takes, and than the clocks of the app
    # and of an object store differ.
    evidence_orphan_grace_hours: float = Field(default=24.0, ge=1)
    # The secret of the keyed hash (HMAC-SHA256) that keeps a masked phone matchable to its
    # owner's login, so parties still open their case and its document after retention.
    # Empty means a key generated once in <data_dir>-keys/phone-key beside the audit key.
    # Never change it: the parties of every purged case would lose access to it.
    phone_key_secret: str = ""
    # How often cases whose determination became final are closed (办结).
    close_sweep_seconds: float = 60.0

    # Registry checks (自动核验): "reference" is the registry inside the database; "http" a real one.
    registry_backend: Literal["reference", "http"] = "reference"
    registry_url: str = ""
    registry_token: str = ""
    registry_timeout_seconds: float = Field(default=2.0, gt=0)
    registry_retries: int = Field(default=1, ge=0, le=5)
    # After this many failed lookups in a row the breaker opens and lookups fail at once...
    registry_breaker_fail_max: int = Field(default=5, ge=1)
    # ...until this many seconds have passed; then one trial lookup decides.
    registry_breaker_reset_seconds: float = Field(default=30.0, gt=0)

    # The stills collection needs before the parties may leave (a jurisdiction may set its own):
    # a kind alone is needed once per case, "kind:each" once per party's vehicle.
    required_stills: list[Annotated[str, StringConstraints(pattern=STILL_REQUIREMENT)]] = Field(
        default_factory=lambda: ["side_by_side", "vehicle_overview:each", "collision_point", "plate:each"]
    )

    # Quick handling allows at most this many vehicles (a local rule; art. 19).
    quick_handling_max_vehicles: int = Field(default=3, ge=1, le=10)
    # A case's join link (QR code and SMS, kuaichu.invitations): how long one lasts, and how many
    # join SMS the operator may send for one case per hour.
    join_link_minutes: int = Field(default=120, ge=5, le=24 * 60)
    join_sms_per_case_per_hour: int = Field(default=5, ge=1, le=50)
    # Illegal parking that is hit: "full" or "main" responsibility, by local rule.
    illegal_parking_responsibility: Literal["full", "main"] = "full"

    # Fraud and quality signals (kuaichu.signals), each rule's threshold; a signal never decides.
    # The same plate, phone or ID number in this many accidents within this many days of each other.
    signal_repeat_accidents: int = Field(default=3, ge=2)
    signal_repeat_days: int = Field(default=30, ge=1)
    # Two parties' logins from one device or one address within this many hours of the report;
    # the logins' hashed traces are kept this many days.
    signal_login_window_hours: int = Field(default=24, ge=1)
    signal_login_trace_days: int = Field(default=7, ge=1)
    # The reported GPS point farther than this (metres) from a point recorded later for the place.
    signal_far_point_metres: int = Field(default=1000, ge=1)
    # Reported later than this (minutes) after the accident's stated time.
    signal_late_report_minutes: int = Field(default=120, ge=1)
    # Stills whose perceptual hashes differ in at most this many of 64 bits are the same picture
    # (3 at most: signals.models.StillHash finds near copies by four 16-bit bands).
    signal_still_hash_distance: int = Field(default=2, ge=0, le=3)
    # How often the signal job looks for cases to compute again (the other cases a cross-case
    # signal names) besides when a collection-complete or evacuation wakes it: retries, and
    # orders a killed process left.
    signal_order_sweep_seconds: float = Field(default=5.0, gt=0)

    # The determination document (道路交通事故认定书). Empty key/cert: created in data_dir.
    issuing_authority: str = "示范市公安局交通警察支队"
    document_key_file: Path | None = None
    document_cert_file: Path | None = None
    document_font_file: Path = Path("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc")

    @property
    def effective_document_key_file(self) -> Path:
        return self.document_key_file or self.data_dir / "document-key.pem"

    @property
    def effective_document_cert_file(self) -> Path:
        return self.document_cert_file or self.data_dir / "document-cert.pem"

    @property
    def effective_audit_key_file(self) -> Path:
        if self.audit_key_file:
            return self.audit_key_file
        data_dir = self.data_dir.resolve()
        return data_dir.with_name(f"{data_dir.name}-keys") / "audit-key.pem"

    @property
    def effective_audit_public_key_file(self) -> Path:
        return self.audit_public_key_file or self.effective_audit_key_file.with_suffix(".pub.pem")

    @property
    def effective_public_base_url(self) -> str:
        if self.public_base_url:
            return self.public_base_url.rstrip("/")
        # Listening on every interface: this machine's loopback is where it can be reached.
        host = "127.0.0.1" if self.host in ("0.0.0.0", "::", "") else self.host
        return f"http://[{host}]:{self.port}" if ":" in host else f"http://{host}:{self.port}"

    @cached_property
    def effective_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'kuaichu.db').resolve()}"

    @cached_property
    def effective_phone_key_secret(self) -> str:
        if self.phone_key_secret:
            return self.phone_key_secret
        key_file = self.effective_audit_key_file.with_name("phone-key")
        if not key_file.exists():
            key_file.parent.mkdir(parents=True, exist_ok=True)
            key_file.write_text(secrets.token_urlsafe(48))
            key_file.chmod(0o600)
        return key_file.read_text().strip()

    @cached_property
    def signing_secret(self) -> str:
        if self.secret_key:
            return self.secret_key
        key_file = self.data_dir / "secret.key"
        if not key_file.exists():
            self.data_dir.mkdir(parents=True, exist_ok=True)
            key_file.write_text(secrets.token_urlsafe(48))
            key_file.chmod(0o600)
        return key_file.read_text().strip()

    @property
    def effective_janus_recordings_dir(self) -> Path:
        return (self.janus_recordings_dir or self.data_dir / "recordings").resolve()

    @property
    def evidence_dir(self) -> Path:
        return self.data_dir / "evidence"
