"""NV12 → RGB on the GPU: the colour matrix (plain Python) and the CUDA kernel.

The kernel is CUDA C compiled at run time by CuPy (NVRTC), so building spdl needs no
CUDA toolkit. One thread writes one output pixel: it samples the cropped luma and
chroma planes bilinearly (crop and resize in one pass) and applies the stream's
YCbCr → RGB matrix, writing planar ``(C, H, W)`` output.
"""

from __future__ import annotations

from typing import Any

__all__ = ["KERNEL_SOURCE", "color_coefficients", "nv12_to_planar"]

# (Kr, Kb) of each colour matrix, by FFmpeg's colour-space name.
_KR_KB = {
    "bt709": (0.2126, 0.0722),
    "bt470bg": (0.299, 0.114),
    "smpte170m": (0.299, 0.114),
    "fcc": (0.30, 0.11),
    "smpte240m": (0.212, 0.087),
    "bt2020nc": (0.2627, 0.0593),
    "bt2020c": (0.2627, 0.0593),
}
# Streams that do not say use BT.601, as FFmpeg's swscale does, so that both paths agree.
_DEFAULT_SPACE = "smpte170m"


def color_coefficients(color_space: str, color_range: str, pix_fmt: str = "") -> list[float]:
    """The 12 numbers the kernel uses to turn 8-bit Y, Cb, Cr into R, G, B.

    ``R, G, B = M @ ((Y - y0) * ys, (Cb - 128) * cs, (Cr - 128) * cs)``, returned as
    ``[y0, ys, cs, M00, M01, M02, M10, ..., M22]``.

    Args:
        color_space: FFmpeg's name of the stream's matrix (``"bt709"``,
            ``"smpte170m"``…); unknown or empty means BT.601.
        color_range: ``"pc"`` (full, JPEG) or ``"tv"`` (limited, 16–235); empty means
            limited unless ``pix_fmt`` is a full-range ``yuvj*`` format.
        pix_fmt: The stream's pixel format name, used only to infer the range.

    Returns:
        The coefficients, as Python floats.
    """
    kr, kb = _KR_KB.get(color_space, _KR_KB[_DEFAULT_SPACE])
    kg = 1.0 - kr - kb
    full = color_range == "pc" or (not color_range and pix_fmt.startswith("yuvj"))
    y0, ys, cs = (0.0, 1.0, 1.0) if full else (16.0, 255.0 / 219.0, 255.0 / 224.0)
    matrix = [
        [1.0, 0.0, 2.0 * (1.0 - kr)],
        [1.0, -2.0 * kb * (1.0 - kb) / kg, -2.0 * kr * (1.0 - kr) / kg],
        [1.0, 2.0 * (1.0 - kb), 0.0],
    ]
    return [y0, ys, cs] + [value for row in matrix for value in row]


KERNEL_SOURCE = r"""
__device__ __forceinline__ float bilinear(const unsigned char* plane, long long pitch, int step,
                                          float x, float y, int x0, int x1, int y0, int y1) {
  // Samples stay inside [x0, x1] x [y0, y1]: the crop, so that no pixel outside it
  // bleeds into its edges when it is scaled up (as FFmpeg's crop then scale).
  x = fminf(fmaxf(x, (float)x0), (float)x1);
  y = fminf(fmaxf(y, (float)y0), (float)y1);
  const int xi = (int)floorf(x), yi = (int)floorf(y);
  const int xn = min(xi + 1, x1), yn = min(yi + 1, y1);
  const float fx = x - xi, fy = y - yi;
  const float a = plane[yi * pitch + xi * step], b = plane[yi * pitch + xn * step];
  const float c = plane[yn * pitch + xi * step], d = plane[yn * pitch + xn * step];
  return (a + (b - a) * fx) * (1.0f - fy) + (c + (d - c) * fx) * fy;
}

extern "C" __global__ void nv12_to_planar(
    const unsigned char* luma, long long luma_pitch,
    const unsigned char* chroma, long long chroma_pitch,
    int width, int height, int crop_x, int crop_y, int crop_w, int crop_h,
    unsigned char* out, int out_w, int out_h, int channels,
    const float* k) {
  const int x = blockIdx.x * blockDim.x + threadIdx.x;
  const int y = blockIdx.y * blockDim.y + threadIdx.y;
  if (x >= out_w || y >= out_h) return;
  // Pixel centres of the output mapped onto the crop rectangle.
  const float sx = crop_x + (x + 0.5f) * crop_w / out_w - 0.5f;
  const float sy = crop_y + (y + 0.5f) * crop_h / out_h - 0.5f;
  const int x1 = min(crop_x + crop_w, width) - 1, y1 = min(crop_y + crop_h, height) - 1;
  const float yv = bilinear(luma, luma_pitch, 1, sx, sy, crop_x, x1, crop_y, y1);
  // 4:2:0 chroma: one sample per 2x2 luma block, centred in it.
  const float cx = (sx + 0.5f) * 0.5f - 0.5f, cy = (sy + 0.5f) * 0.5f - 0.5f;
  const int cx0 = crop_x / 2, cy0 = crop_y / 2, cx1 = x1 / 2, cy1 = y1 / 2;
  const float u = bilinear(chroma, chroma_pitch, 2, cx, cy, cx0, cx1, cy0, cy1);
  const float v = bilinear(chroma + 1, chroma_pitch, 2, cx, cy, cx0, cx1, cy0, cy1);
  const float yn = (yv - k[0]) * k[1], un = (u - 128.0f) * k[2], vn = (v - 128.0f) * k[2];
  const long long plane = (long long)out_w * out_h, at = (long long)y * out_w + x;
  for (int c = 0; c < 3; ++c) {
    const float value = k[3 + 3 * c] * yn + k[4 + 3 * c] * un + k[5 + 3 * c] * vn;
    out[c * plane + at] = (unsigned char)fminf(fmaxf(rintf(value), 0.0f), 255.0f);
  }
  if (channels == 4) out[3 * plane + at] = 255;
}
"""

_BLOCK = (32, 8, 1)


def nv12_to_planar(
    cupy: Any,
    kernel: Any,
    luma: Any,
    chroma: Any,
    crop: tuple[int, int, int, int],
    out: Any,
    coefficients: Any,
) -> None:
    """Launches the conversion of one NV12 frame into ``out`` on the current stream.

    Args:
        cupy: The CuPy module.
        kernel: ``cupy.RawKernel`` of :data:`KERNEL_SOURCE`'s ``nv12_to_planar``.
        luma: ``(H, W)`` uint8 CuPy view of the luma plane (row pitch in strides).
        chroma: ``(H/2, W)`` uint8 CuPy view of the interleaved Cb/Cr plane.
        crop: ``(x, y, width, height)`` of the region to convert.
        out: ``(C, out_h, out_w)`` C-contiguous uint8 CuPy array, C = 3 or 4.
        coefficients: float32 CuPy array of :func:`color_coefficients`.
    """
    channels, out_h, out_w = out.shape
    grid = ((out_w + _BLOCK[0] - 1) // _BLOCK[0], (out_h + _BLOCK[1] - 1) // _BLOCK[1], 1)
    i32, i64 = cupy.int32, cupy.int64
    kernel(
        grid,
        _BLOCK,
        (
            luma,
            i64(luma.strides[0]),
            chroma,
            i64(chroma.strides[0]),
            i32(luma.shape[1]),
            i32(luma.shape[0]),
            *(i32(value) for value in crop),
            out,
            i32(out_w),
            i32(out_h),
            i32(channels),
            coefficients,
        ),
    )
