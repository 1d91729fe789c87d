"""Videos for the exact-frame tests, and PyAV's decode of every frame of them.

Each clip is small (96x64, 60 frames, a GOP every 15 frames) and made with PyAV's
encoders from ``media.smooth_rgb`` plus seeded noise, so that every frame differs
from its neighbours in detail: a wrong frame cannot pass for the right one.
"""

from __future__ import annotations

import dataclasses
import pathlib
import struct
from collections.abc import Mapping, Sequence
from fractions import Fraction

import av
import numpy as np
from media import write_noisy_clip

WIDTH, HEIGHT = 96, 64
FRAME_RATE = 30
NUM_FRAMES = 60
GOP = 15

# name -> (file name, container format, encoder, encoder options)
CLIPS: dict[str, tuple[str, str | None, str, dict[str, str]]] = {
    # B-frames with x264's b-pyramid: reference and non-reference B-frames.
    "h264_bframes": (
        "bframes.mp4",
        None,
        "libx264",
        {"g": str(GOP), "bf": "3", "x264-params": "scenecut=0"},
    ),
    # Open GOPs: leading B-frames after each I-frame reference the GOP before.
    "h264_open_gop": (
        "open_gop.mp4",
        None,
        "libx264",
        {"g": str(GOP), "bf": "3", "x264-params": "scenecut=0:open-gop=1"},
    ),
    # Open GOPs at x264's own scene cuts, whose I-frames have no leading frames: a
    # decoder started at one holds its frames back as not yet recovered.
    "h264_open_gop_scenecut": (
        "open_gop_scenecut.mp4",
        None,
        "libx264",
        {"g": "25", "bf": "2", "x264-params": "open-gop=1"},
    ),
    # Periodic intra refresh: no IDR after the first frame; FFmpeg flags the recovery
    # points (P-frames) as keyframes, and a decode started there is not whole.
    "h264_intra_refresh": (
        "intra_refresh.mp4",
        None,
        "libx264",
        {"g": "30", "bf": "0", "x264-params": "intra-refresh=1"},
    ),
    "h264_mkv": ("clip.mkv", "matroska", "libx264", {"g": str(GOP), "bf": "2"}),
    # HEVC with x265's open GOPs (CRA keyframes, RASL leading pictures).
    "hevc": (
        "hevc.mp4",
        None,
        "libx265",
        {"x265-params": f"keyint={GOP}:min-keyint={GOP}:bframes=3:scenecut=0:log-level=error"},
    ),
    "vp9_webm": (
        "vp9.webm",
        "webm",
        "libvpx-vp9",
        {"g": str(GOP), "deadline": "realtime", "cpu-used": "8"},
    ),
    # A long GOP: one keyframe for the whole clip.
    "h264_long_gop": (
        "long_gop.mp4",
        None,
        "libx264",
        {"g": "250", "bf": "2", "x264-params": "scenecut=0"},
    ),
}


@dataclasses.dataclass(frozen=True)
class Reference:
    """PyAV's decode of every frame of a clip, in presentation order."""

    path: pathlib.Path
    time_base: Fraction
    pts: list[int]
    keyframes: list[int]  # frame numbers of the key frames
    yuv420p: np.ndarray  # (N, H * 3 // 2, W) uint8, the decoder's own output

    @property
    def seconds(self) -> np.ndarray:
        return np.array([float(p * self.time_base) for p in self.pts])


def write_clip(
    path: pathlib.Path,
    encoder: str,
    options: Mapping[str, str],
    container_format: str | None = None,
    pts_ms: Sequence[int] | None = None,
) -> pathlib.Path:
    """Encodes NUM_FRAMES frames; ``pts_ms`` gives each frame's time in milliseconds
    (a variable frame rate) instead of 1/FRAME_RATE apart."""
    return write_noisy_clip(
        path,
        width=WIDTH,
        height=HEIGHT,
        num_frames=NUM_FRAMES,
        frame_rate=FRAME_RATE,
        seed=0,
        options=options,
        codec=encoder,
        container_format=container_format,
        time_base=None if pts_ms is None else Fraction(1, 1000),
        pts=pts_ms,
    )


def write_named_clip(directory: pathlib.Path, name: str) -> pathlib.Path:
    file_name, container_format, encoder, options = CLIPS[name]
    return write_clip(directory / file_name, encoder, options, container_format)


def variable_rate_pts_ms() -> list[int]:
    """Irregular frame times: 20 to 59 ms apart."""
    steps = np.random.default_rng(1).integers(20, 60, NUM_FRAMES - 1)
    return [0, *np.cumsum(steps).tolist()]


def write_overreporting_avi(directory: pathlib.Path, claimed: int) -> pathlib.Path:
    """An AVI whose headers claim ``claimed`` frames (of NUM_FRAMES in it): the main
    header's total frames and the video stream header's length are rewritten."""
    plain = write_clip(directory / "plain.avi", "libx264", {"g": str(GOP), "bf": "0"}, "avi")
    data = bytearray(plain.read_bytes())
    main, stream = data.find(b"avih"), data.find(b"strh")
    assert data[stream + 8 : stream + 12] == b"vids"
    struct.pack_into("<I", data, main + 8 + 16, claimed)  # dwTotalFrames
    struct.pack_into("<I", data, stream + 8 + 32, claimed)  # dwLength
    path = directory / "overreporting.avi"
    path.write_bytes(bytes(data))
    return path


def write_stream_copy_cut(path: pathlib.Path, source: Reference, keyframe: int, start: int):
    """A cut of ``source`` as ``ffmpeg -ss T -c copy`` writes it into an MP4: the packets
    from frame ``keyframe`` (a keyframe) on, times shifted so that frame ``start`` is at
    0. The muxer writes an edit list that starts there; the demuxer flags the packets
    before it discard (decoded for reference, never shown)."""
    first, zero = source.pts[keyframe], source.pts[start]
    with av.open(str(source.path)) as src, av.open(str(path), "w") as dst:
        stream = src.streams.video[0]
        out = dst.add_stream_from_template(stream)
        for packet in src.demux(stream):
            if packet.dts is None or packet.pts < first:
                continue
            packet.pts, packet.dts = packet.pts - zero, packet.dts - zero
            packet.stream = out
            dst.mux(packet)
    return path


def pyav_reference(path: pathlib.Path) -> Reference:
    """Every frame as PyAV decodes it, with its pts and its packet's key flag (an
    intra-refresh recovery point is a keyframe to the container, not to the decoder)."""
    pts, keyframes, pictures = [], [], []
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        key_pts = {p.pts for p in container.demux(stream) if p.is_keyframe}
        container.seek(0)
        time_base = stream.time_base
        for number, frame in enumerate(container.decode(stream)):
            pts.append(frame.pts)
            if frame.pts in key_pts:
                keyframes.append(number)
            pictures.append(frame.to_ndarray(format="yuv420p"))
    assert pts == sorted(pts), path
    return Reference(path, time_base, pts, keyframes, np.stack(pictures))
