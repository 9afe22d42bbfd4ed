"""Read a byte array back out of a C source file: for tests of committed and generated files
only (the package itself never parses generated C; its exporters return their facts)."""

from __future__ import annotations

import re


def read_c_array(text: str) -> bytes:
    """Return the bytes of the first ``{ 0x.., ... }`` array in C source ``text``."""
    match = re.search(r"\{([^}]*)\}", text)
    assert match, "no { ... } array initialiser in the C source"
    body = re.sub(r"/\*.*?\*/|//[^\n]*", " ", match.group(1), flags=re.DOTALL)
    items = [item.strip() for item in body.split(",") if item.strip()]
    assert all(re.fullmatch(r"0[xX][0-9a-fA-F]+|\d+", item) for item in items), items[:5]
    return bytes(int(v, 0) for v in items)
