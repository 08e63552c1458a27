"""Reading a data file's bytes, gzip-compressed or not, with errors that name the problem."""

from __future__ import annotations

import gzip
import os
import zlib
from pathlib import Path


def read_bytes(path, what: str) -> bytes:
    """The (decompressed, where it starts with gzip's magic bytes) contents of ``path``;
    ``what`` names the kind of file in the errors (e.g. ``"alignment file"``)."""
    p = Path(os.fspath(path))
    if not p.exists():
        raise FileNotFoundError(f"no such {what}: {p}")
    if p.is_dir():
        raise IsADirectoryError(f"{p} is a folder, not an {what}" if what[0] in "aeiou"
                                else f"{p} is a folder, not a {what}")
    raw = p.read_bytes()
    if raw[:2] == b"\x1f\x8b":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError, zlib.error) as err:
            raise ValueError(f"{p}: damaged or truncated gzip data ({err})") from None
    return raw
