"""W6 NVDEC: every frame of a 10 s 1080p H.264 clip decoded on the GPU → RGB on the GPU.

Run on a machine with an NVIDIA GPU (not part of ``run_all.py``, which is the CPU
suite)::

    python benchmarks/w6_nvdec.py --threads 1 2 4

Backends, each decoding ``CLIPS_PER_ROUND`` copies of the clip per round on a pool
of T worker threads; throughput is frames per second:

* ``spdl-nvdec``: ``demux_media`` + ``decode_packets_nvdec(packets, 0)`` (planar RGB,
  ``(N, 3, 1080, 1920)`` uint8 on the GPU) + ``convert_frames``.
* ``pynvc-simple``: PyNvVideoCodec's own ``SimpleDecoder(path, gpu_id=0,
  use_device_memory=True, output_color_type=RGBP)``, all frames with
  ``get_batch_frames``: the vendor's high-level path on the same file.
* ``torchcodec-cuda``: ``torchcodec.decoders.VideoDecoder(path, device="cuda")``,
  ``get_frames_in_range(0, N)`` (``(N, 3, H, W)`` on the GPU), when torchcodec's CUDA
  build can be installed beside the machine's torch; otherwise its error is reported.
* ``spdl-cpu``: ``load_video(path)`` on the CPU (rgb24), for scale.

Each backend synchronises the device before a round counts as done.
"""

from __future__ import annotations

from pathlib import Path

from _datasets import ClipSpec, ensure_clip
from _harness import Backend, Context, Run, Workload, main, make_pool, pool_map

SPEC = ClipSpec(width=1920, height=1080, seconds=10, fps=30, gop=60, preset="veryfast")
CLIPS_PER_ROUND = 4


def clip_path() -> str:
    return str(ensure_clip(SPEC))


def _round(ctx: Context, decode) -> Run:
    paths = [clip_path()] * CLIPS_PER_ROUND
    pool = make_pool(ctx.threads)
    first = decode(paths[0])  # also warms up the decoders and compiles kernels
    if first != SPEC.num_frames:
        raise RuntimeError(f"expected {SPEC.num_frames} frames, got {first}")

    def run() -> float:
        return float(sum(pool_map(pool, decode, paths)))

    return run


def setup_spdl_nvdec(ctx: Context) -> Run:
    import spdl.io

    def decode(path: str) -> int:
        packets = spdl.io.demux_media("video", path).result()
        frames = spdl.io.decode_packets_nvdec(packets, 0).result()
        buffer = spdl.io.convert_frames(frames).result()
        return buffer.shape[0]

    return _round(ctx, decode)


def setup_pynvc_simple(ctx: Context) -> Run:
    import cupy
    import PyNvVideoCodec as nvc

    def decode(path: str) -> int:
        decoder = nvc.SimpleDecoder(
            path,
            gpu_id=0,
            use_device_memory=True,
            output_color_type=nvc.OutputColorType.RGBP,
        )
        frames = decoder.get_batch_frames(len(decoder))
        cupy.cuda.Device(0).synchronize()
        return len(frames)

    return _round(ctx, decode)


def setup_torchcodec_cuda(ctx: Context) -> Run:
    import torch
    from torchcodec.decoders import VideoDecoder

    def decode(path: str) -> int:
        decoder = VideoDecoder(path, device="cuda")
        batch = decoder.get_frames_in_range(0, len(decoder)).data
        torch.cuda.synchronize()
        return int(batch.shape[0])

    return _round(ctx, decode)


def setup_spdl_cpu(ctx: Context) -> Run:
    import spdl.io

    spdl.io.set_executor_sizes(decode=ctx.threads)

    def decode(path: str) -> int:
        return spdl.io.load_video(path).shape[0]

    return _round(ctx, decode)


BACKENDS = (
    Backend(
        "spdl-nvdec", "decode_packets_nvdec -> planar RGB on the GPU", setup_spdl_nvdec, "spdl"
    ),
    Backend(
        "pynvc-simple",
        "PyNvVideoCodec SimpleDecoder, RGBP, get_batch_frames",
        setup_pynvc_simple,
        "pynvvideocodec",
    ),
    Backend(
        "torchcodec-cuda",
        'VideoDecoder(path, device="cuda").get_frames_in_range',
        setup_torchcodec_cuda,
        "torchcodec",
    ),
    Backend("spdl-cpu", "load_video(path) rgb24 on the CPU", setup_spdl_cpu, "spdl"),
)

WORKLOAD = Workload(
    name="w6_nvdec",
    title=f"W6 NVDEC: {SPEC.width}x{SPEC.height} H.264, {SPEC.seconds} s -> RGB on the GPU",
    unit="frames/s",
    backends=BACKENDS,
    prepare=clip_path,
    rounds=(3, 7),
    notes=(
        "GPU machine only; run with --threads 1 2 4. Every backend synchronises the "
        "device before a round ends.",
    ),
)

if __name__ == "__main__":
    main(WORKLOAD, str(Path(__file__)))
