"""Retention: recordings, stills and personal data are kept for a set period after a case
closes, then purged; the determination document and every hash stay."""
