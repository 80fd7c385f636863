"""A publisher's video track as Janus records it (.mjr, version 2), made without Janus.

For the recording job's tests that need no browser: ffmpeg encodes a VP8 test picture, and
each frame is sent as RTP packets (RFC 7741 payload descriptor) into the file the way
janus_recorder_save_frame writes them: "MJR00002", the JSON header, then per packet "MEET",
milliseconds since the first packet, the length, the RTP packet.
"""

import json
import struct
import subprocess
from pathlib import Path

FPS = 10
_CHUNK = 1000


def vp8_frames(seconds: float) -> list[bytes]:
    command = ["ffmpeg", "-nostdin", "-loglevel", "error", "-f", "lavfi"]
    command += ["-i", f"testsrc=size=160x120:rate={FPS}", "-t", str(seconds)]
    command += ["-c:v", "libvpx", "-f", "ivf", "-"]
    ivf = subprocess.run(command, capture_output=True, check=True).stdout
    frames, offset = [], 32  # the IVF file header
    while offset < len(ivf):
        (size,) = struct.unpack_from("<I", ivf, offset)
        frames.append(ivf[offset + 12 : offset + 12 + size])
        offset += 12 + size
    return frames


def write_video_track(path: Path, seconds: float, started_us: int) -> None:
    """A VP8 track of `seconds` of test picture, as Janus would have recorded it."""
    header = json.dumps({"t": "v", "c": "vp8", "s": started_us, "u": started_us}).encode()
    out = bytearray(b"MJR00002" + struct.pack(">H", len(header)) + header)
    sequence = 0
    for index, frame in enumerate(vp8_frames(seconds)):
        chunks = [frame[i : i + _CHUNK] for i in range(0, len(frame), _CHUNK)]
        for number, chunk in enumerate(chunks):
            marker = 0x80 if number == len(chunks) - 1 else 0
            rtp = struct.pack(">BBHII", 0x80, marker | 96, sequence, index * 90000 // FPS, 0x1234)
            packet = rtp + bytes([0x10 if number == 0 else 0x00]) + chunk
            out += b"MEET" + struct.pack(">IH", index * 1000 // FPS, len(packet)) + packet
            sequence += 1
    path.write_bytes(bytes(out))
