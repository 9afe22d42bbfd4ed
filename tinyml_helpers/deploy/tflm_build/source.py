"""Where the TensorFlow Lite Micro sources come from, where their builds are cached, and which
boards can build them.

The caller names the tree: a tflite-micro / esp-tflite-micro checkout (a folder) or an
esp-tflite-micro tarball, unpacked once into the cache. ``TFLM_SRC=`` takes the place of
whatever the caller named, so one variable points every build to another checkout. There is
no default tree: without either, :func:`source` says what is missing.

The cache (library, objects, unpacked trees) is ``TFLM_CACHE=`` when set, else the folder the
caller gives, else ``~/.cache/tinyml_helpers/tflm``. A :class:`Source` carries its cache, so
everything built from it lands in the same place.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from .. import boards

# file_digest and locked are part of this module's interface (library.py uses them).
from ..files import file_digest, locked, unpack_tarball  # noqa: F401

SOURCE_ENV, CACHE_ENV, JOBS_ENV = "TFLM_SRC", "TFLM_CACHE", "TFLM_JOBS"

# The boards with C++ builds: this PC and the Cortex-M4F (the rows of boards.TARGETS that
# carry a CxxBuild).
TARGETS = {name: spec for name, spec in boards.TARGETS.items() if spec.cxx is not None}


class TflmUnavailable(boards.ToolchainMissing):
    """The TFLM sources, a compiler or a simulator is missing; the message says which."""


class TflmBuildError(boards.FirmwareError):
    """Compiling or linking failed; the message carries the compiler's output."""


def get_target(name: str) -> boards.Target:
    """Return the board called ``name`` ("host" or "m4"); its ``cxx`` says how it builds C++."""
    if not isinstance(name, str) or name not in TARGETS:
        raise ValueError(f"unknown target {name!r}; TFLM builds for {', '.join(TARGETS)}")
    return TARGETS[name]


@dataclass(frozen=True)
class Source:
    """A TFLM source tree ready to compile, and the cache its builds go to."""

    root: Path
    label: str  # e.g. "esp-tflite-micro 1.4.0"
    origin: str  # the tarball or checkout it came from
    cache: Path


def cache_dir(cache=None) -> Path:
    """Return the build cache: ``$TFLM_CACHE``, else ``cache``, else
    ``~/.cache/tinyml_helpers/tflm``."""
    chosen = os.environ.get(CACHE_ENV) or cache
    if chosen:
        return Path(chosen).expanduser().resolve()
    return Path.home() / ".cache" / "tinyml_helpers" / "tflm"


def third_party(root: Path, name: str) -> Path | None:
    """Return the folder of third-party library ``name`` in an esp-tflite-micro tree
    (third_party/) or a tflite-micro checkout (make's downloads/), or None."""
    for folder in (root / "third_party" / name,
                   root / "tensorflow/lite/micro/tools/make/downloads" / name):
        if folder.is_dir():
            return folder
    return None


def _tree_problem(root: Path) -> str | None:
    if not (root / "tensorflow/lite/micro/micro_interpreter.h").is_file():
        return f"{root} is not a tflite-micro tree (no tensorflow/lite/micro/micro_interpreter.h)"
    flat = third_party(root, "flatbuffers")
    if flat is None or not (flat / "include/flatbuffers/flatbuffers.h").is_file():
        return (f"{root} has no flatbuffers headers (in a tflite-micro checkout run `make -f "
                "tensorflow/lite/micro/tools/make/Makefile third_party_downloads` first)")
    return None


def _label(root: Path, fallback: str) -> str:
    component = root / "idf_component.yml"
    if component.is_file():
        match = re.search(r'^version:\s*"?([\w.]+)"?', component.read_text(), re.MULTILINE)
        if match:
            return f"esp-tflite-micro {match.group(1)}"
    return fallback


def locate(tree=None) -> tuple[str, Path] | None:
    """Return ("checkout", folder) or ("tarball", file) of the TFLM sources: ``$TFLM_SRC`` when
    set, else ``tree`` when it exists, else None."""
    if os.environ.get(SOURCE_ENV):
        return "checkout", Path(os.environ[SOURCE_ENV]).expanduser().resolve()
    if tree is None:
        return None
    path = Path(tree).expanduser().resolve()
    if path.is_dir():
        return "checkout", path
    if path.is_file():
        return "tarball", path
    return None


def _nothing_found(tree) -> str:
    given = f"{tree} is absent" if tree is not None else "no tree was given"
    return (f"no TensorFlow Lite Micro sources: {given} and {SOURCE_ENV} is not set (point "
            "it to a tflite-micro checkout)")


def unpack(tarball: Path, cache=None) -> Path:
    """Return the tree unpacked from ``tarball`` into the cache (once, atomically)."""
    return unpack_tarball(tarball, cache_dir(cache) / "src")


def source(tree=None, *, cache=None) -> Source:
    """Return the TFLM :class:`Source` of ``tree`` (a checkout folder or a tarball, unpacked
    into the cache once; ``$TFLM_SRC`` takes its place when set); raise
    :class:`TflmUnavailable` with one line saying what is missing."""
    found = locate(tree)
    if found is None:
        raise TflmUnavailable(_nothing_found(tree))
    kind, path = found
    if kind == "checkout":
        if not path.is_dir():
            raise TflmUnavailable(f"{SOURCE_ENV}={path} is not a folder")
        root = path
    else:
        root = unpack(path, cache)
    problem = _tree_problem(root)
    if problem:
        raise TflmUnavailable(problem)
    return Source(root, _label(root, f"tflite-micro at {root}"), str(path), cache_dir(cache))


def source_problem(tree=None) -> str | None:
    """Return one line saying why ``tree`` (or ``$TFLM_SRC``) gives no usable TFLM sources, or
    None (a checkout is checked now; a tarball once unpacked)."""
    found = locate(tree)
    if found is None:
        return _nothing_found(tree)
    kind, path = found
    if kind == "checkout":
        return f"{SOURCE_ENV}={path} is not a folder" if not path.is_dir() \
            else _tree_problem(path)
    return None


def missing_tools(target: str) -> list[str]:
    """Return what ``target``'s C++ builds need and this machine lacks (executables, the C++
    headers)."""
    get_target(target)
    return boards.missing_tools(target, cxx=True)


def _tools_line(target: str, missing: list[str]) -> str:
    return (f"{', '.join(missing)} not found; install with: "
            f"{boards.install_hint(target, cxx=True)}")


def unavailable(target: str, tree=None) -> str | None:
    """Return one line saying why TFLM programs cannot be built for ``target`` from ``tree``
    (or ``$TFLM_SRC``), or None."""
    problem = source_problem(tree)
    if problem:
        return problem
    missing = missing_tools(target)
    return _tools_line(target, missing) if missing else None


def require(target: str, src: Source | None = None) -> Source:
    """Return ``src`` (default: :func:`source` of ``$TFLM_SRC``), or raise
    :class:`TflmUnavailable` if the sources or a tool for ``target`` are missing."""
    get_target(target)
    if src is None:
        src = source()
    elif not isinstance(src, Source):
        raise TypeError(f"src must be a tflm_build.Source, got {type(src).__name__}")
    missing = missing_tools(target)
    if missing:
        raise TflmUnavailable(_tools_line(target, missing))
    return src
