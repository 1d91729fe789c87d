"""Names ``_batch`` imports from here; load_media lives in :mod:`._load`, the checks in
:mod:`._options`."""

from ._load import load_media, load_media_future
from ._options import check_options, validate_convert_options

__all__ = ["check_options", "load_media", "load_media_future", "validate_convert_options"]
