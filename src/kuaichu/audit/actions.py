"""What the audit log records besides the timeline's events (those are the case's Action or
EventKind): reads of personal data, security events and administration."""

from kuaichu.messages import Labelled


class AuditAction(Labelled):
    DOWNLOAD_DOCUMENT = "download_document"
    # A seat in a call's room on the media server (a token for that call) was handed out.
    JOIN_CALL_MEDIA = "join_call_media"
    # A case's join link (kuaichu.invitations): sent by SMS, revoked; a request to join, refused.
    SEND_JOIN_LINK = "send_join_link"
    REVOKE_JOIN_LINK = "revoke_join_link"
    REQUEST_JOIN = "request_join"
    REFUSE_JOIN = "refuse_join"
    # Someone in a call's room under a feed id no seat was given: put out by the app.
    KICK_CALL_MEDIA = "kick_call_media"
    EVIDENCE_HASH_MISMATCH = "evidence_hash_mismatch"
    LIST_CLAIMS = "list_claims"
    LIST_EVIDENCE = "list_evidence"
    # What OCR read on a case's stills (kuaichu.recognition): listed; a still given to read.
    LIST_READINGS = "list_readings"
    LIST_SIGNALS = "list_signals"
    LOGIN = "login"
    LOGIN_FAILED = "login_failed"
    READ_CASE = "read_case"
    READ_CASE_FILE = "read_case_file"
    READ_CHECKS = "read_checks"
    READ_CLAIM_PACKAGE = "read_claim_package"
    READ_CLAIMS = "read_claims"
    READ_COLLECTION = "read_collection"
    READ_CONFIRMATIONS = "read_confirmations"
    READ_DOCUMENTS = "read_documents"
    READ_ELIGIBILITY = "read_eligibility"
    READ_EVIDENCE = "read_evidence"
    READ_LIABILITY_PROPOSAL = "read_liability_proposal"
    READ_MY_DATA = "read_my_data"
    READ_REVIEW = "read_review"
    READ_STILL = "read_still"
    READ_SIGNALS = "read_signals"
    READ_TIMELINE = "read_timeline"
    REFRESH_REUSE = "refresh_reuse"
    REGISTRY_LOOKUP = "registry_lookup"
    REPLAY_CASE = "replay_case"
    RESEND_MESSAGE = "resend_message"
    RETENTION_PURGE = "retention_purge"
    SEARCH_CASES = "search_cases"
    SET_JURISDICTION_SERVICE = "set_jurisdiction_service"
    STAFF_LOCKOUT = "staff_lockout"
    USER_ACTIVATED = "user_activated"
    USER_DEACTIVATED = "user_deactivated"
    USER_PASSWORD_CHANGED = "user_password_changed"
    USER_ROLE_CHANGED = "user_role_changed"
    # An insurer's seat in a live call (kuaichu.seats): the operator's invitation, an agent
    # joining and leaving.
    INVITE_INSURER = "invite_insurer"
    INSURER_SEAT_JOINED = "insurer_seat_joined"
    INSURER_SEAT_LEFT = "insurer_seat_left"
