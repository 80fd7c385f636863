"""A room's .mjr recordings, one per track, turned into one WebM file per publishing.

Janus writes `videoroom-<room>-user-<feed>-<start µs>-<audio|video|data>-<mindex>.mjr` for
every track a publisher sends, each stamped with the moment its own recorder opened (the
tracks of one publishing differ by microseconds). A publisher who publishes again starts a new
set: a track (media and mindex) seen again starts the next publishing. `janus-pp-rec` turns
each track into a playable file (VP8 into WebM, Opus into Ogg), and ffmpeg copies them,
without re-encoding, into one WebM.
"""

import hashlib
import json
import re
import subprocess
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

TRACK = re.compile(
    r"^(?P<source>videoroom-\d+-user-(?P<feed>\d+)-(?P<started>\d+))-(?P<track>(?P<media>audio|video)-\d+)\.mjr$"
)
# What janus-pp-rec writes for the room's codecs (opus, vp8: see janus.create_room).
OUTPUT_SUFFIX = {"audio": ".opus", "video": ".webm"}
TOOL_SECONDS = 600


class EmptyRecording(Exception):
    """No track of the publisher carried a packet (they joined, and never sent media)."""


@dataclass(frozen=True)
class PublisherRecording:
    source: str
    feed_id: int
    started_at: datetime
    tracks: tuple[Path, ...]


@dataclass(frozen=True)
class Converted:
    path: Path
    duration_seconds: float
    # The raw .mjr files' hashes, by name: what the WebM was made from.
    sources: dict[str, str]


def find(rec_dir: Path) -> list[PublisherRecording]:
    """The publishings recorded in a room's folder, oldest first; each is named by its first
    track's base name, the same at every run."""
    by_feed: dict[int, list[tuple[int, str, Path]]] = defaultdict(list)
    for path in rec_dir.glob("*.mjr") if rec_dir.is_dir() else []:
        match = TRACK.match(path.name)
        if match is None:
            continue  # a data channel's text, or a file that is not Janus's
        by_feed[int(match["feed"])].append((int(match["started"]), match["track"], path))
    recordings = []
    for feed_id, tracks in by_feed.items():
        groups: list[list[tuple[int, str, Path]]] = []
        for track in sorted(tracks):
            if not groups or track[1] in {seen[1] for seen in groups[-1]}:
                groups.append([])
            groups[-1].append(track)
        for group in groups:
            first = TRACK.match(group[0][2].name)
            assert first is not None
            recordings.append(
                PublisherRecording(
                    source=first["source"],
                    feed_id=feed_id,
                    started_at=datetime.fromtimestamp(group[0][0] / 1_000_000, UTC),
                    tracks=tuple(path for _, _, path in group),
                )
            )
    return sorted(recordings, key=lambda r: (r.started_at, r.source))


def _run(command: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, capture_output=True, text=True, timeout=TOOL_SECONDS, check=False)


def to_webm(recording: PublisherRecording, work_dir: Path) -> Converted:
    """Convert each track and mux them; raises EmptyRecording when no track had media."""
    work_dir.mkdir(parents=True, exist_ok=True)
    playable = []
    for track in recording.tracks:
        media = TRACK.match(track.name)
        assert media is not None
        target = work_dir / (track.stem + OUTPUT_SUFFIX[media["media"]])
        target.unlink(missing_ok=True)
        _run(["janus-pp-rec", str(track), str(target)])
        # A track without a packet yields no file (or an empty one): nothing to keep.
        if target.exists() and target.stat().st_size > 0:
            playable.append(target)
    if not playable:
        raise EmptyRecording(recording.source)
    output = work_dir / f"{recording.source}.webm"
    command = ["ffmpeg", "-nostdin", "-loglevel", "error", "-y"]
    for path in playable:
        command += ["-i", str(path)]
    for index in range(len(playable)):
        command += ["-map", str(index)]
    done = _run([*command, "-c", "copy", "-f", "webm", str(output)])
    if done.returncode != 0:
        raise RuntimeError(f"ffmpeg could not mux {recording.source}: {done.stderr.strip()[-200:]}")
    return Converted(output, duration_seconds(output), {t.name: sha256_of(t) for t in recording.tracks})


def duration_seconds(path: Path) -> float:
    done = _run(["ffprobe", "-v", "error", "-show_entries", "format=duration", "-of", "json", str(path)])
    if done.returncode != 0:
        raise RuntimeError(f"ffprobe could not read {path.name}: {done.stderr.strip()[-200:]}")
    return float(json.loads(done.stdout)["format"].get("duration", 0.0))


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as source:
        while chunk := source.read(1024 * 1024):
            digest.update(chunk)
    return digest.hexdigest()
