"""Pytest plugin with the session media of the concurrent/asyncio API tests.

Test modules load it with ``pytest_plugins = ["_aio_fixtures"]``.
"""

from __future__ import annotations

import pytest
from _media import Media, generate


@pytest.fixture(scope="session")
def aio_media(tmp_path_factory: pytest.TempPathFactory) -> Media:
    """Media generated once per session (see ``_media.Media``)."""
    return generate(tmp_path_factory.mktemp("aio_media"))
