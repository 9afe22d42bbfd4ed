"""Writing files safely and checking .tflite bytes: shared by the build and the exporters."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def write_atomic(path, content: str | bytes) -> Path:
    """Write ``content`` to ``path`` through a temporary file and a rename; return the path.

    A crash or an error part-way leaves the previous file untouched, never a half-written one.
    Text is written as UTF-8 with ``\\n`` line ends on every platform.
    """
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        if isinstance(content, (bytes, bytearray)):
            with os.fdopen(fd, "wb") as fh:
                fh.write(content)
        else:
            with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as fh:
                fh.write(content)
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise
    return path


def check_tflite(tflite) -> bytes:
    """Return ``tflite`` as bytes after checking it is a .tflite flatbuffer."""
    if not isinstance(tflite, (bytes, bytearray)):
        raise TypeError(f"expected the .tflite model as bytes, got {type(tflite).__name__}")
    if len(tflite) < 8 or bytes(tflite[4:8]) != b"TFL3":
        raise ValueError("not a .tflite flatbuffer (the file identifier 'TFL3' is missing)")
    return bytes(tflite)
