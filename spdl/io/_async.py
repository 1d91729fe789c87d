"""``async_batch_load_image``, generated from ``_batch.batch_load_image_future``.

Its parameters are read from that function when ``spdl.io`` is imported, its arguments
and call-time errors documented from ``batch_load_image``'s docstring.
"""

from __future__ import annotations

from ._batch import batch_load_image, batch_load_image_future
from ._operation import adopt, doc_sections

__all__ = ["async_batch_load_image"]

_BATCH_SYNC = doc_sections(batch_load_image.__doc__ or "")
_BATCH = "\n\n".join(
    [
        "Load images into one batch buffer, decoding them concurrently.",
        "Still images given as paths or bytes (JPEG, PNG, BMP, WebP) are decoded natively\n"
        "in one call; other sources are demuxed and decoded one by one in the shared pools.\n"
        'Each failure is logged with its source (logger ``"spdl.io"``).',
        "Args:\n" + _BATCH_SYNC["Args"],
        "Returns:\n    A ``CPUBuffer`` of shape ``(B, height, width, 3)`` for ``rgb24`` (see the\n"
        "    shape table for others), where ``B`` is ``len(srcs)``, or the number of images\n"
        "    that loaded when ``strict=False``.",
        "Raises:\n" + _BATCH_SYNC["Raises"].replace("AsyncIOFailure: If", "AsyncIOFailure: {if}"),
        "Example:\n"
        "    >>> buffer = await spdl.io.async_batch_load_image(\n"
        '    ...     ["foo.jpg", "bar.png"], width=121, height=121)\n'
        "    >>> spdl.io.to_numpy(buffer).shape\n"
        "    (2, 121, 121, 3)",
    ]
)
async_batch_load_image = adopt(
    "batch_load_image", batch_load_image, batch_load_image_future, _BATCH, __name__
).async_
