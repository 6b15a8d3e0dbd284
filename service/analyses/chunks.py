"""How a stored result's bytes are held in its chunk rows: each chunk one LZ4 block, compressed
by us rather than by Postgres.

Serving a large result was bound by Postgres: it decompressed every TOAST value (lz4 or pglz)
and sent four times the bytes over the socket, and our process copied them all in. Compressed
here, a chunk crosses Postgres and the socket at about a quarter of its size, Postgres has
nothing to decompress (the column stores its values as they are: migration 0009), and we
decompress it at a few GB/s. The disk holds what Postgres's lz4 gave. bench/README.md has the
figures.

The block is LZ4's, its uncompressed size in front as 4 bytes little-endian (python-lz4's
`store_size`); cramjam decompresses it into one buffer, with no copy after.
Chunks written before migration 0009 hold the bytes as they are ("identity"); both are read.
"""

from __future__ import annotations

import cramjam


class UnreadableChunk(ValueError):
    """A stored chunk that does not hold what its encoding says (damaged, or of an encoding
    this code does not know)."""


#: One LZ4 block, its uncompressed size in front.
LZ4 = "lz4"
#: The bytes as they are: chunks written before migration 0009.
IDENTITY = "identity"


def encode(data: bytes) -> bytes:
    """`data` as a chunk of encoding LZ4."""
    return bytes(cramjam.lz4.compress_block(data, store_size=True))


def size_of(encoding: str, data: bytes) -> int:
    """How many bytes a chunk holds, without decompressing it."""
    if encoding == LZ4:
        return int.from_bytes(data[:4], "little")
    if encoding == IDENTITY:
        return len(data)
    raise UnreadableChunk(f"unknown encoding {encoding!r}")


def decode(encoding: str, data: bytes) -> memoryview:
    """The bytes a chunk holds, not copied again: a view of the decompressed buffer, or of
    `data` itself."""
    if encoding == LZ4:
        try:
            plain = memoryview(cramjam.lz4.decompress_block(data))
        except cramjam.DecompressionError as error:
            raise UnreadableChunk(f"not an LZ4 block ({error})") from error
        # The prefix only sizes LZ4's buffer: a block holding fewer bytes decompresses without
        # complaint. Readers plan on the prefix (size_of), so a block must hold what it says.
        if len(plain) != (said := size_of(LZ4, data)):
            raise UnreadableChunk(f"an LZ4 block of {len(plain)} bytes, not {said} as it says")
        return plain
    if encoding == IDENTITY:
        return memoryview(data)
    raise UnreadableChunk(f"unknown encoding {encoding!r}")


__all__ = ["IDENTITY", "LZ4", "UnreadableChunk", "decode", "encode", "size_of"]
