"""Execute every lesson notebook once with papermill and print a table of wall-clock times.

Target: < 60 s per notebook on 2 CPU cores. Run with `make benchmark` (or
`.venv/bin/python benchmarks/notebook_times.py [LESSON ...]`). Nothing is written to the repo:
outputs go to a temporary folder.
"""

from __future__ import annotations

import os
import platform
import sys
import tempfile
from pathlib import Path

from tinyml_helpers.tooling import build

TARGET_S = 60.0


def main(argv: list[str]) -> int:
    """Time each selected lesson; return 1 if any notebook failed, else 0."""
    lessons = build.select(argv or None)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for path in lessons:
            seconds = build.execute(path, Path(tmp) / path.name)
            rows.append((path.name, seconds))
    print(f"\nnotebook execution times ({os.cpu_count()} CPU cores, "
          f"{platform.processor() or platform.machine()}, Python {platform.python_version()})")
    print(f"| {'notebook':<28} | {'seconds':>7} | {'target':>6} | {'ok':<3} |")
    print(f"|{'-' * 30}|{'-' * 9}|{'-' * 8}|{'-' * 5}|")
    for name, seconds in rows:
        ok = "yes" if seconds < TARGET_S else "NO"
        print(f"| {name:<28} | {seconds:7.1f} | {TARGET_S:6.0f} | {ok:<3} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
