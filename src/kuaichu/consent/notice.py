"""The privacy notice a party reads before the first call (个人信息保护法 art. 14, 17, 29).
Changing the text means a new version; a party agrees again.

Its words are the catalogue's, `Consent.notice`, so the English party page can show the
translation by its key. The Chinese is the legal text GET /api/privacy-notice serves and the
party agrees to; a change to the meaning of either locale is a new version."""

from kuaichu.messages import text

PRIVACY_NOTICE_VERSION = "2026-11-1"

PRIVACY_NOTICE_KEY = "Consent.notice"
PRIVACY_NOTICE_TEXT = text(PRIVACY_NOTICE_KEY)
