"""The end-to-end fixtures of tests/pipeline (emulator, media server, API on loopback)."""

from tests.pipeline.conftest import emulator, media_dir, media_url, stack

__all__ = ["emulator", "media_dir", "media_url", "stack"]
