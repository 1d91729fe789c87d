"""W4 audio: 60 s of 44.1 kHz stereo AAC → float32 ``(channels, samples)``.

A round decodes the whole track ``LOADS_PER_ROUND`` times, T loads at a time in a
ThreadPoolExecutor of T workers. Throughput is "x realtime": seconds of audio
decoded per wall-clock second.

Backends:

* ``spdl``: ``spdl.io.load_audio(path)`` (fltp: float32, ``(channels, samples)``).
  While a core is free, the load demuxes in a helper process beside the decoding
  worker: at one worker on two cores it uses both.
* ``spdl-in-thread``: the same with ``SPDL_DEMUX_PROCESSES=0``: demux and decode in
  the worker thread, one core per worker like the peers (the like-for-like row).
* ``spdl-futures``: the spec's three phases, ``demux_media("audio", path)`` →
  ``decode_packets`` → ``convert_frames``, each a Future (waited on in turn).
* ``torchcodec``: ``AudioDecoder(path).get_all_samples().data`` (float32,
  ``(channels, samples)``).
* ``pyav``: ``av.open`` + ``frame.to_ndarray()`` per frame (fltp) +
  ``np.concatenate(axis=1)``.
* ``ffmpeg-c`` (a reference, not a peer): ``ffmpeg_floor.c`` (``_floor.py``), built against the
  system FFmpeg and called through ctypes, opens, demuxes and decodes the file from C
  and keeps no samples. spdl's native core and torchcodec decode with that same
  system FFmpeg, so this is the most any of them can reach: the W4 goal needs
  ``ffmpeg-c / torchcodec >= 2`` before any loader can meet it.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
from _datasets import AudioSpec, ensure_audio
from _harness import Backend, Context, Run, Workload, main, make_pool, pool_map

SPEC = AudioSpec()
LOADS_PER_ROUND = 8
# AAC frames of 1024 samples; decoders may trim the encoder delay or keep a partial frame.
TOLERANCE_SAMPLES = 2048


def audio_path() -> str:
    return str(ensure_audio(SPEC))


def _check(shape: tuple[int, ...], dtype: object) -> float:
    """Checks one decoded track and returns its duration in seconds."""
    channels, samples = shape
    expected = SPEC.seconds * SPEC.sample_rate
    if channels != SPEC.num_channels or abs(samples - expected) > TOLERANCE_SAMPLES:
        raise RuntimeError(f"expected ({SPEC.num_channels}, ~{expected}), got {tuple(shape)}")
    if str(dtype).rsplit(".", 1)[-1] != "float32":
        raise RuntimeError(f"expected float32 samples, got {dtype}")
    return samples / SPEC.sample_rate


def _loads_round(ctx: Context, load: Callable[[str], float]) -> Run:
    paths = [audio_path()] * LOADS_PER_ROUND
    pool = make_pool(ctx.threads)
    load(paths[0])

    def run() -> float:
        return sum(pool_map(pool, load, paths))

    return run


def setup_spdl(ctx: Context) -> Run:
    import spdl.io

    def load(path: str) -> float:
        array = np.asarray(spdl.io.load_audio(path))
        return _check(array.shape, array.dtype)

    return _loads_round(ctx, load)


def setup_spdl_futures(ctx: Context) -> Run:
    import spdl.io

    def load(path: str) -> float:
        packets = spdl.io.demux_media("audio", path).result()
        frames = spdl.io.decode_packets(packets).result()
        array = np.asarray(spdl.io.convert_frames(frames).result())
        return _check(array.shape, array.dtype)

    return _loads_round(ctx, load)


def setup_torchcodec(ctx: Context) -> Run:
    import torch
    from torchcodec.decoders import AudioDecoder

    torch.set_num_threads(1)

    def load(path: str) -> float:
        data = AudioDecoder(path).get_all_samples().data
        return _check(tuple(data.shape), data.dtype)

    return _loads_round(ctx, load)


def setup_pyav(ctx: Context) -> Run:
    import av

    def load(path: str) -> float:
        with av.open(path) as container:
            stream = container.streams.audio[0]
            chunks = [frame.to_ndarray() for frame in container.decode(stream)]
        array = np.concatenate(chunks, axis=1)
        return _check(array.shape, array.dtype)

    return _loads_round(ctx, load)


def setup_ffmpeg_c(ctx: Context) -> Run:
    import _floor

    def load(path: str) -> float:
        samples = round(_floor.decode_audio(path) * SPEC.sample_rate)
        # The floor keeps no samples: only their count is there to check.
        return _check((SPEC.num_channels, samples), np.dtype(np.float32))

    run = _loads_round(ctx, load)
    run.info = {"libavcodec": _floor.libavcodec_version()}  # type: ignore[attr-defined]
    return run


BACKENDS = (
    Backend(
        "spdl",
        "load_audio(path), T-worker pool; demux in a helper process while a core is free",
        setup_spdl,
        "spdl",
    ),
    Backend(
        "spdl-in-thread",
        "load_audio(path), T-worker pool; SPDL_DEMUX_PROCESSES=0: demux in the worker",
        setup_spdl,
        "spdl",
        env={"SPDL_DEMUX_PROCESSES": "0"},
    ),
    Backend(
        "spdl-futures",
        "demux_media -> decode_packets -> convert_frames futures, T-worker pool",
        setup_spdl_futures,
        "spdl",
    ),
    Backend(
        "torchcodec",
        "AudioDecoder(path).get_all_samples(), T-worker pool",
        setup_torchcodec,
        "torchcodec",
    ),
    Backend(
        "pyav",
        "frame.to_ndarray() per frame + np.concatenate, T-worker pool",
        setup_pyav,
        "av",
    ),
    Backend(
        "ffmpeg-c",
        "reference: the system FFmpeg's demux + decode from C (ctypes), no output array",
        setup_ffmpeg_c,
        "ffmpeg-c",
    ),
)

WORKLOAD = Workload(
    name="w4_audio",
    title=f"W4 audio: {SPEC.seconds} s {SPEC.sample_rate} Hz stereo AAC -> float32",
    unit="x realtime",
    backends=BACKENDS,
    prepare=audio_path,
    rounds=(3, 11),
)

if __name__ == "__main__":
    main(WORKLOAD, str(Path(__file__)))
