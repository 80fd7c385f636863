"""Blobs no row names are deleted (个人信息保护法 art. 47: deleted once the purpose is served).

A blob is stored before the row that names it commits (evidence.service.store_item): a
request that dies between the two (a phone gone half way, a signature drawn again differently,
a process killed) leaves the file and no row, a photo of people and plates or a drawn
signature kept for nothing. The retention job deletes such a blob once it was written longer
ago than Settings.evidence_orphan_grace_hours: an upload whose row is still to commit is younger.
So does what a process killed part way through an upload left in the local store's incoming.

What names a blob is an evidence item whose file retention has not deleted. A signature
(party_confirmations.signature_sha256) and a call's recording (media_recordings) name theirs
through the evidence item written in the same transaction; a determination document keeps its
PDF in the database, never in the store. A purged item whose file is still there keeps it for
retention.service.delete_purged_blobs, which records the deletion on the item.

A blob can come to be named during the sweep: the same bytes uploaded again map to the same
blob, and their row commits after the sweep found none. An upload stores its blob (which
refreshes its write time) before its row commits and, once it has, stores it again if it is
gone (EvidenceStore.keep). The sweep takes a blob off its name into a place of its own
(set_aside), looks at the rows again, and puts it back if one names it now, else discards it.
So a row that commits before that second look gets its blob back from the sweep, and one that
commits after it finds the name already emptied and fills it itself. Nothing rests on the
blob's write time or on a conditional DELETE, which an object store may not honour (SeaweedFS
ignores If-Unmodified-Since): the time only spares an upload in flight from being set aside.
A set-aside that a sweep stopped part way left is settled by a later run, the same way.
Between the set-aside and its putting back a read of the blob is a 404 for that moment.
This holds for any number of processes, given a store whose HEAD sees a DELETE just made
(read-after-write consistency: the local disk, AWS S3, SeaweedFS; not NetApp StorageGRID's
default level, which gives it for new objects only).
"""

import asyncio
import logging
from collections.abc import Iterable, Iterator
from datetime import datetime, timedelta
from functools import partial
from itertools import islice

from sqlalchemy import select
from sqlalchemy.orm import Session

from kuaichu.db import Database
from kuaichu.errors import NotFound, Unavailable
from kuaichu.evidence.models import EvidenceItem
from kuaichu.evidence.storage import EvidenceStore, ListedBlob, SetAside

log = logging.getLogger(__name__)

# Blobs judged per database query: the listing is read a page at a time, never whole.
LISTING_PAGE = 500


def named(session: Session, digests: Iterable[str]) -> set[str]:
    """Of these blobs, those an evidence item names whose file retention has not deleted."""
    wanted = set(digests)
    if not wanted:
        return set()
    query = select(EvidenceItem.sha256).where(
        EvidenceItem.sha256.in_(wanted), EvidenceItem.blob_deleted_at.is_(None)
    )
    return set(session.scalars(query))


def _next_page(listing: Iterator[ListedBlob]) -> list[ListedBlob]:
    return list(islice(listing, LISTING_PAGE))


async def _delete_orphan(database: Database, store: EvidenceStore, digest: str, cutoff: datetime) -> bool:
    """Checked again just before it goes: a row that committed since the listing keeps it, and
    so does the same content stored again since (the store judges its time as it sets it aside)."""
    if await database.read(partial(named, digests=[digest])):
        return False
    aside = await asyncio.to_thread(store.set_aside, digest, cutoff)
    return aside is not None and await _settle(database, store, aside)


async def _settle(database: Database, store: EvidenceStore, aside: SetAside) -> bool:
    """Put back if a row names it now, else discard; whether it was discarded. Looked at only
    once the blob is off its name: a row that commits later finds it gone (EvidenceStore.keep)."""
    if await database.read(partial(named, digests=[aside.sha256])):
        log.info("retention: blob %s came to be named during the sweep; put back", aside.sha256)
        await asyncio.to_thread(store.put_back, aside)
        return False
    await asyncio.to_thread(store.discard, aside)
    return True


async def delete_orphan_blobs(
    database: Database, store: EvidenceStore, grace: timedelta, now: datetime
) -> int:
    """Delete the blobs written before `now - grace` that no row names, and the uploads left
    part way before then, outside any transaction (an object store is a network away). A store
    that fails leaves the rest for the next run."""
    cutoff = now - grace
    listing = store.listing()
    deleted = abandoned = 0
    try:
        # What an earlier sweep set aside and did not settle (stopped part way, store down).
        for aside in await asyncio.to_thread(lambda: list(store.left_aside(cutoff))):
            deleted += await _settle(database, store, aside)
        while page := await asyncio.to_thread(_next_page, listing):
            old = [blob.sha256 for blob in page if blob.modified_at < cutoff]
            kept = await database.read(partial(named, digests=old))
            for digest in old:
                if digest not in kept and await _delete_orphan(database, store, digest, cutoff):
                    log.info("retention: deleted blob %s, which no row names", digest)
                    deleted += 1
        abandoned = await asyncio.to_thread(store.remove_abandoned_uploads, cutoff)
    except (Unavailable, NotFound, OSError):
        log.warning("retention: the evidence store failed in the orphan sweep; the next run goes on")
    if deleted or abandoned:
        log.info("retention: deleted %d blobs no row names, %d abandoned uploads", deleted, abandoned)
    return deleted
