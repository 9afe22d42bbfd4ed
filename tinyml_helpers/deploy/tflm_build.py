"""Build TensorFlow Lite Micro sketches from source, run them on this PC and on a simulated
Cortex-M4F, and measure what TFLM costs next to the plain-C model.

The ``hello_world_tflm`` sketch targets an ESP32 with the arduino-esp32 core 3.x, whose
"TFLite Micro" library is Espressif's esp-tflite-micro component. No ESP32 toolchain is
available offline, so this module proves the sketch the next best way: it compiles the same
TFLM sources (reference kernels, ``-DTF_LITE_STATIC_MEMORY``) into a static library, compiles
the sketch with a small Arduino stand-in (``arduino_shim/``), and runs it

* ``"host"`` — on this PC (``g++``, 64-bit pointers);
* ``"m4"``   — on a Cortex-M4F (``arm-none-eabi-g++``, newlib-nano, semihosting), run by
  ``qemu-system-arm -M mps2-an386 -icount shift=0`` like :mod:`firmware` does (32-bit
  pointers, the arena size a 32-bit board needs). Besides firmware's packages this needs
  the C++ headers for arm-none-eabi (Debian's ``libstdc++-arm-none-eabi-dev``, 1.2 MB; the
  few runtime functions are in ``tflm_harness/cxx_runtime.cc``).

Where the TFLM sources come from (:func:`locate`): ``TFLM_SRC=`` pointing to any tflite-micro
or esp-tflite-micro checkout, else ``../shared/vendor/esp-tflite-micro-1.4.0.tar.xz`` beside the
repository (unpacked once into the cache), else none (:func:`unavailable` says what is
missing). The library is built once per target and flags into the cache (``TFLM_CACHE=``, default
``build/tflm`` in the repository), keyed by a hash of the sources, the flags and the compiler.

:func:`side_by_side` runs TFLM inside the same firmware harness as the plain C
(``deploy/harness/harness.c``) and returns flash, RAM, instructions per inference and the
one-time set-up cost of both.

Command line: ``python -m tinyml_helpers.deploy.tflm_build run host|m4 [SKETCH_DIR]``,
``... arena host|m4``, ``... library host|m4 [--all-kernels]``.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import contextlib
import fcntl
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from . import firmware, self_test, toolchains
from .files import write_files
from .hello_world import int8_predictions, sketch_x

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
SHIM_DIR = HERE / "arduino_shim"
TFLM_HARNESS_DIR = HERE / "tflm_harness"
VENDORED = REPO.parent / "shared" / "vendor" / "esp-tflite-micro-1.4.0.tar.xz"
SOURCE_ENV, CACHE_ENV, JOBS_ENV = "TFLM_SRC", "TFLM_CACHE", "TFLM_JOBS"
SKETCH_DIR = REPO / "arduino" / "hello_world_tflm"
BUILD_VERSION = 2  # bump to invalidate every cached library
DEFAULT_LOOPS = 20  # loop() calls per stand-in run: one sine period of the sketch
DEFAULT_TIMEOUT_S = 60.0
KERNELS_FOR_SINE = ("fully_connected",)  # the one operator the sine model uses

# Flags of the library and the sketch. TF_LITE_STATIC_MEMORY is what the arduino-esp32 core
# builds the library with; the sketch must be compiled with it too (its #error says so).
CXX_FLAGS = ("-std=gnu++17", "-DTF_LITE_STATIC_MEMORY", "-DTF_LITE_DISABLE_X86_NEON",
             "-fno-rtti", "-fno-exceptions", "-fno-threadsafe-statics", "-O2",
             "-ffunction-sections", "-fdata-sections")
M4_ARCH = ("-mcpu=cortex-m4", "-mthumb", "-mfloat-abi=hard", "-mfpu=fpv4-sp-d16")


@dataclass(frozen=True)
class CxxTarget:
    """How to compile and link C++ for one target."""

    name: str
    title: str
    cxx: str
    cc: str
    ar: str
    size_tool: str
    arch: tuple[str, ...]
    link: tuple[str, ...]  # link-only flags ("{harness}" is deploy/harness)
    packages: tuple[str, ...]
    unit: str


TARGETS = {
    "host": CxxTarget("host", "this PC (g++ -O2, 64-bit)", "g++", "gcc", "ar", "size", (),
                      ("-Wl,--gc-sections",), ("g++", "binutils"), "none"),
    "m4": CxxTarget("m4", "Cortex-M4F (mps2-an386) on QEMU", "arm-none-eabi-g++",
                    "arm-none-eabi-gcc", "arm-none-eabi-ar", "arm-none-eabi-size", M4_ARCH,
                    ("-Wl,--gc-sections", "--specs=nano.specs", "--specs=rdimon.specs",
                     "-T{harness}/m4.ld", "-u", "_printf_float"),
                    ("gcc-arm-none-eabi", "libnewlib-arm-none-eabi",
                     "libstdc++-arm-none-eabi-dev", "qemu-system-arm"), "instructions"),
}


class TflmUnavailable(firmware.ToolchainMissing):
    """The TFLM sources, a compiler or a simulator is missing; the message says which."""


class TflmBuildError(firmware.FirmwareError):
    """Compiling or linking failed; the message carries the compiler's output."""


def get_target(name: str) -> CxxTarget:
    """Return the :class:`CxxTarget` called ``name`` ("host" or "m4")."""
    if name not in TARGETS:
        raise ValueError(f"unknown target {name!r}; choose from {', '.join(TARGETS)}")
    return TARGETS[name]


# --- where the sources and the cache are ---------------------------------------------------------

@dataclass(frozen=True)
class Source:
    """A TFLM source tree ready to compile."""

    root: Path
    label: str  # e.g. "esp-tflite-micro 1.4.0"
    origin: str  # the tarball or checkout it came from


def cache_dir() -> Path:
    """Return the build cache: ``$TFLM_CACHE``, else ``build/tflm`` in the repository (or
    ``~/.cache/tinyml_helpers/tflm`` when the package is not run from a checkout)."""
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV]).expanduser().resolve()
    if (REPO / "pyproject.toml").is_file():
        return REPO / "build" / "tflm"
    return Path.home() / ".cache" / "tinyml_helpers" / "tflm"


def _third_party(root: Path, name: str) -> Path | None:
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
    flat = _third_party(root, "flatbuffers")
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


def locate() -> tuple[str, Path] | None:
    """Return ("checkout", path) for ``$TFLM_SRC``, ("tarball", path) for the vendored
    esp-tflite-micro, or None when neither is there."""
    if os.environ.get(SOURCE_ENV):
        return "checkout", Path(os.environ[SOURCE_ENV]).expanduser().resolve()
    if VENDORED.is_file():
        return "tarball", VENDORED
    return None


def _file_digest(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@contextlib.contextmanager
def _locked(path: Path):
    """Hold an exclusive lock on ``path`` (created if needed): one builder at a time."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def unpack(tarball: Path) -> Path:
    """Return the tree unpacked from ``tarball`` into the cache (once, atomically)."""
    tag = f"{tarball.name.split('.tar')[0]}-{_file_digest(tarball)[:12]}"
    target = cache_dir() / "src" / tag
    with _locked(cache_dir() / "src" / f"{tag}.lock"):
        if not (target / ".complete").is_file():
            staging = Path(tempfile.mkdtemp(prefix=f"{tag}-", dir=target.parent))
            try:
                with tarfile.open(tarball) as tar:
                    tar.extractall(staging, filter="data")
                tops = [p for p in staging.iterdir() if p.is_dir()]
                tree = tops[0] if len(tops) == 1 else staging
                (tree / ".complete").write_text(str(tarball) + "\n")
                if target.exists():
                    shutil.rmtree(target)
                os.replace(tree, target)
            finally:
                shutil.rmtree(staging, ignore_errors=True)
    return target


def source() -> Source:
    """Return the TFLM :class:`Source` (unpacking the vendored tarball into the cache once);
    raise :class:`TflmUnavailable` with one line saying what is missing."""
    found = locate()
    if found is None:
        raise TflmUnavailable(f"no TensorFlow Lite Micro sources: {VENDORED} is absent and "
                              f"{SOURCE_ENV} is not set (point it to a tflite-micro checkout)")
    kind, path = found
    if kind == "checkout":
        if not path.is_dir():
            raise TflmUnavailable(f"{SOURCE_ENV}={path} is not a folder")
        root = path
    else:
        root = unpack(path)
    problem = _tree_problem(root)
    if problem:
        raise TflmUnavailable(problem)
    return Source(root, _label(root, f"tflite-micro at {root}"), str(path))


def missing_tools(target: str) -> list[str]:
    """Return what ``target`` needs and this machine lacks (executables, C++ headers)."""
    spec = get_target(target)
    tools = [spec.cxx, spec.cc, spec.ar, spec.size_tool]
    if target == "m4":
        tools.append("qemu-system-arm")
    missing = [tool for tool in tools if shutil.which(tool) is None]
    if target == "m4" and shutil.which(spec.cxx) and not _arm_has_cxx_headers():
        missing.append("the C++ headers for arm-none-eabi")
    return missing


_ARM_HEADERS: dict[str, bool] = {}


def _arm_has_cxx_headers() -> bool:
    if "ok" not in _ARM_HEADERS:
        probe = subprocess.run([TARGETS["m4"].cxx, *M4_ARCH, "-std=gnu++17", "-x", "c++", "-E",
                                "-o", os.devnull, "-"], input="#include <cstdint>\n",
                               capture_output=True, text=True, check=False)
        _ARM_HEADERS["ok"] = probe.returncode == 0
    return _ARM_HEADERS["ok"]


def source_problem() -> str | None:
    """Return one line saying why there are no usable TFLM sources, or None (a checkout named
    by ``TFLM_SRC`` is checked; the vendored tarball is checked once unpacked)."""
    found = locate()
    if found is None:
        return (f"TensorFlow Lite Micro sources absent: no {VENDORED} and no {SOURCE_ENV}= "
                "(point it to a tflite-micro checkout)")
    kind, path = found
    if kind == "checkout":
        return f"{SOURCE_ENV}={path} is not a folder" if not path.is_dir() \
            else _tree_problem(path)
    return None


def unavailable(target: str) -> str | None:
    """Return one line saying why TFLM sketches cannot be built for ``target``, or None."""
    problem = source_problem()
    if problem:
        return problem
    missing = missing_tools(target)
    if missing:
        return (f"{', '.join(missing)} not found; install with: "
                f"{toolchains.install_command(get_target(target).packages)}")
    return None


def require(target: str, src: Source | None = None) -> Source:
    """Return ``src`` (default: :func:`source`), or raise :class:`TflmUnavailable` if the
    sources or a tool for ``target`` are missing."""
    reason = unavailable(target) if src is None else None
    if src is not None and missing_tools(target):
        reason = (f"{', '.join(missing_tools(target))} not found; install with: "
                  f"{toolchains.install_command(get_target(target).packages)}")
    if reason:
        raise TflmUnavailable(reason)
    return src or source()


# --- the library ---------------------------------------------------------------------------------

_SKIP = re.compile(r"(_test|test_helpers?|test_helper_custom_ops|fake_micro_context|"
                   r"mock_micro_graph|kernel_runner)\.cc$")


def library_sources(root: Path, kernels: tuple[str, ...] | None = None) -> list[Path]:
    """Return the .cc files of the TFLM library in ``root`` (relative paths, sorted).

    ``kernels=None`` takes every reference kernel (the whole library, as the Arduino core
    ships it); a tuple such as ``("fully_connected",)`` takes only those kernels (with their
    ``_common.cc``) and the kernel helpers. A program linked against either library gets the
    same object files: the linker only pulls the archive members it references.
    """
    lite = root / "tensorflow/lite"
    micro = lite / "micro"
    files = sorted(micro.glob("*.cc"))
    for folder in ("memory_planner", "arena_allocator", "tflite_bridge"):
        files += sorted((micro / folder).glob("*.cc"))
    all_kernels = sorted((micro / "kernels").glob("*.cc"))
    if kernels is None:
        files += all_kernels
    else:
        wanted = {"kernel_util", "micro_tensor_utils"}
        wanted |= {k for name in kernels for k in (name, f"{name}_common")}
        files += [p for p in all_kernels if p.stem in wanted]
    files += [lite / "core/c/common.cc", lite / "kernels/kernel_util.cc",
              lite / "kernels/internal/reference/portable_tensor_utils.cc"]
    files += sorted((lite / "core/api").glob("*.cc"))
    files += sorted((lite / "kernels/internal").glob("*.cc"))
    for folder in ("schema", "core"):  # older trees keep these two under lite/
        files += sorted((lite / folder).glob("*.cc"))
    mlir = root / "tensorflow/compiler/mlir/lite"
    files += [p for p in (mlir / "core/api/error_reporter.cc", mlir / "schema/schema_utils.cc")
              if p.is_file()]
    unique = sorted({p.relative_to(root) for p in files if p.is_file()})
    return [p for p in unique if not _SKIP.search(p.name)]


def include_flags(root: Path) -> list[str]:
    """Return the -I flags of the TFLM tree and its third-party headers.

    TFLM's error macros embed ``__FILE__``; mapping the tree's path to a fixed name makes the
    firmware the same size wherever the tree was unpacked.
    """
    flags = [f"-fmacro-prefix-map={root}=tflite-micro", "-I", str(root)]
    for name, sub in (("gemmlowp", ""), ("flatbuffers", "include"), ("ruy", ""),
                      ("kissfft", "")):
        folder = _third_party(root, name)
        if folder is not None:
            flags += ["-I", str(folder / sub if sub else folder)]
    return flags


def _tree_digest(root: Path, sources: list[Path]) -> str:
    """Hash of every header and listed source in the tree (contents, not times)."""
    digest = hashlib.sha256()
    headers = sorted(p.relative_to(root) for top in ("tensorflow", "third_party")
                     if (root / top).is_dir() for p in (root / top).rglob("*.h"))
    for rel in [*headers, *sources]:
        digest.update(str(rel).encode() + b"\0")
        digest.update((root / rel).read_bytes())
    return digest.hexdigest()


def _compiler_id(compiler: str) -> str:
    done = subprocess.run([compiler, "--version"], capture_output=True, text=True, check=False)
    return done.stdout.splitlines()[0] if done.stdout else compiler


def _jobs() -> int:
    try:
        return max(1, int(os.environ.get(JOBS_ENV, "0"))) if os.environ.get(JOBS_ENV) \
            else os.cpu_count() or 1
    except ValueError:
        return os.cpu_count() or 1


def _compile(command: list[str], what: str) -> None:
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise TflmBuildError(f"compiling {what} failed:\n$ {' '.join(command)}\n"
                             f"{done.stdout}{done.stderr}"[-8000:])


@dataclass(frozen=True)
class KernelSwap:
    """Kernels built in place of TFLM's reference ones, with the C library they call: what a
    vendor's optimized build does (the ESP32's TFLite Micro runs ESP-NN's kernels)."""

    label: str  # e.g. "ESP-NN FULLY_CONNECTED (esp-nn 1.1.2)"
    replace: tuple[tuple[str, str], ...]  # (reference kernel, its replacement), tree-relative
    cxx_flags: tuple[str, ...]  # for the replacements (defines, include paths)
    c_sources: tuple[Path, ...]  # the library they call (absolute paths)
    c_flags: tuple[str, ...]  # for c_sources
    headers: tuple[Path, ...]  # folders whose headers take part in the cache key


@dataclass(frozen=True)
class Library:
    """A built TFLM static library."""

    path: Path
    target: str
    source: Source
    flags: tuple[str, ...]
    objects: int
    built: bool  # False when it came from the cache
    swap: KernelSwap | None = None


def _swapped(sources: list[Path], root: Path, swap: KernelSwap) -> list[Path]:
    """Return ``sources`` with ``swap``'s replacements in place of the reference kernels."""
    out = list(sources)
    for old, new in swap.replace:
        if Path(old) not in out:
            raise ValueError(f"{swap.label}: {old} is not among the library's sources")
        if not (root / new).is_file():
            raise TflmUnavailable(f"{swap.label}: {new} is not in {root}")
        out[out.index(Path(old))] = Path(new)
    return out


def library(target: str, kernels: tuple[str, ...] | None = KERNELS_FOR_SINE,
            src: Source | None = None, jobs: int | None = None,
            swap: KernelSwap | None = None) -> Library:
    """Return the TFLM static library for ``target``, building it once into the cache.

    The cache key is a hash of the sources and headers, the flags and the compiler's version;
    object files of an interrupted build are reused. ``kernels`` as in :func:`library_sources`;
    ``swap`` builds other kernels in place of reference ones (see :class:`KernelSwap`).
    """
    spec = get_target(target)
    src = src or require(target)
    sources = library_sources(src.root, kernels)
    if swap is not None:
        sources = _swapped(sources, src.root, swap)
    flags = (*spec.arch, *CXX_FLAGS, "-w")
    includes = include_flags(src.root)
    replaced = {Path(new) for _, new in swap.replace} if swap else set()
    # (compiler, flags, source, object name) of every member of the archive
    jobs_list = [(spec.cxx, [*flags, *includes, *(swap.cxx_flags if rel in replaced else ())],
                  src.root / rel, str(rel).replace("/", "__")[:-3])
                 for rel in sources]
    if swap is not None:
        c_flags = [*spec.arch, "-std=gnu99", "-O2", "-ffunction-sections", "-fdata-sections",
                   "-w", *swap.c_flags]
        jobs_list += [(spec.cc, c_flags, path, f"c__{path.parent.name}__{path.stem}")
                      for path in swap.c_sources]
    swap_key = None if swap is None else {
        "label": swap.label, "replace": swap.replace, "cxx": swap.cxx_flags,
        "c": swap.c_flags, "files": [_file_digest(p) for p in swap.c_sources],
        "headers": [_file_digest(h) for folder in swap.headers
                    for h in sorted(Path(folder).rglob("*.h"))]}
    recipe = {"v": BUILD_VERSION, "tree": _tree_digest(src.root, sources), "flags": flags,
              "compiler": _compiler_id(spec.cxx), "sources": [str(s) for s in sources]}
    if swap_key is not None:
        recipe["swap"] = swap_key
    key = hashlib.sha256(json.dumps(recipe).encode()).hexdigest()[:16]
    kind = ("all" if kernels is None else "-".join(kernels)) + ("-swapped" if swap else "")
    out = cache_dir() / "lib" / f"{target}-{kind}-{key}"
    archive = out / "libtflm.a"
    with _locked(out.parent / f"{out.name}.lock"):
        if archive.is_file():
            return Library(archive, target, src, flags, len(jobs_list), False, swap)
        objects = [out / "obj" / f"{name}.o" for *_, name in jobs_list]
        todo = [(job, o) for job, o in zip(jobs_list, objects, strict=True) if not o.is_file()]
        (out / "obj").mkdir(parents=True, exist_ok=True)

        def build_one(item):
            (compiler, job_flags, path, _), obj = item
            tmp = obj.with_suffix(f".{os.getpid()}.tmp")
            _compile([compiler, *job_flags, "-c", str(path), "-o", str(tmp)], str(path))
            os.replace(tmp, obj)

        with concurrent.futures.ThreadPoolExecutor(jobs or _jobs()) as pool:
            for future in [pool.submit(build_one, item) for item in todo]:
                future.result()
        tmp = out / f"libtflm.{os.getpid()}.a"
        _compile([spec.ar, "rcs", str(tmp), *map(str, objects)], "the archive")
        os.replace(tmp, archive)
        (out / "build.json").write_text(json.dumps({
            "target": target, "source": src.label, "origin": src.origin, "flags": flags,
            "kernels": kind, "swap": swap.label if swap else None,
            "objects": len(objects)}, indent=1) + "\n")
    return Library(archive, target, src, flags, len(jobs_list), True, swap)


# --- compiling programs against it (objects cached by content) ---------------------------------

_COMPILER_IDS: dict[str, str] = {}
_TREE_KEYS: dict[Path, str] = {}


def _compiler_key(compiler: str) -> str:
    if compiler not in _COMPILER_IDS:
        _COMPILER_IDS[compiler] = _compiler_id(compiler)
    return _COMPILER_IDS[compiler]


def _tree_key(src: Source) -> str:
    if src.root not in _TREE_KEYS:
        _TREE_KEYS[src.root] = _tree_digest(src.root, [])
    return _TREE_KEYS[src.root]


def _cached_object(compiler: str, flags: list[str], source_file: Path, headers: list[Path],
                   salt: str) -> Path:
    """Return the object of ``source_file`` compiled with ``flags``, from the cache when the
    source, the ``headers`` it may include, the flags and the compiler are unchanged."""
    digest = hashlib.sha256(json.dumps([compiler, _compiler_key(compiler), flags, salt,
                                        BUILD_VERSION]).encode())
    for path in [source_file, *sorted(headers)]:
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    obj = cache_dir() / "obj" / f"{source_file.stem}-{digest.hexdigest()[:20]}.o"
    if not obj.is_file():
        obj.parent.mkdir(parents=True, exist_ok=True)
        tmp = obj.with_suffix(f".{os.getpid()}.tmp")
        language = ["-x", "c++"] if source_file.suffix == ".ino" else []
        _compile([compiler, *flags, "-c", *language, str(source_file), "-o", str(tmp)],
                 source_file.name)
        os.replace(tmp, obj)
    return obj


def _stage(files: dict[str, str]) -> Path:
    """Return a folder in the cache holding ``files``, named by their content: the same
    sources always compile from the same path, so their objects come from the cache."""
    digest = hashlib.sha256(json.dumps(sorted(files.items())).encode()).hexdigest()[:20]
    folder = cache_dir() / "stage" / digest
    if not (folder / ".complete").is_file():
        write_files(folder, files)
        (folder / ".complete").write_text("")
    return folder


def _headers(*folders: Path) -> list[Path]:
    return [p for folder in folders for p in sorted(folder.glob("*.h"))]


def _link(spec: CxxTarget, objects: list[Path], lib: Library, out: Path,
          printf_float: bool) -> Path:
    flags = [f.format(harness=firmware.HARNESS_DIR) for f in spec.link]
    if not printf_float and "_printf_float" in flags:
        at = flags.index("_printf_float")
        del flags[at - 1:at + 1]
    tmp = out.with_name(out.name + ".tmp")
    # The M4 links with the C driver: only the C++ headers are installed there, and
    # tflm_harness/cxx_runtime.cc provides the little of libsupc++ a TFLM program uses.
    driver = spec.cc if spec.name == "m4" else spec.cxx
    _compile([driver, *spec.arch, *flags, f"-Wl,-Map={out}.map", "-o", str(tmp),
              *map(str, objects), str(lib.path), "-lm"], f"the link of {out.name}")
    os.replace(tmp, out)
    return out


_FLASH_SECTIONS = (".text", ".ARM.exidx", ".eh_frame", ".data")  # what `size` counts as flash
_MAP_OUTPUT = re.compile(r"^(\.[\w.]+)\s+0x([0-9a-f]+)\s+0x([0-9a-f]+)|^(\.[\w.]+)$",
                         re.MULTILINE)
_MAP_INPUT = re.compile(r"^ (\.\S+|COMMON)\s*\n?\s+0x([0-9a-f]+)\s+0x([0-9a-f]+) (\S.*)$",
                        re.MULTILINE)


def _origin(path: str) -> str:
    if "libtflm.a" in path:
        return "TFLM library"
    if re.search(r"/model-\w+\.o$", path):
        return "model"
    if re.search(r"lib(c|m|c_nano|g_nano|rdimon\w*|nosys)\.a", path):
        return "C library"
    if "libgcc.a" in path or Path(path.split("(")[0]).name.startswith("crt"):
        return "compiler runtime"
    return "program"


def flash_by_origin(elf) -> dict[str, int]:
    """Return the flash bytes of an ELF built here by where they come from, read from the
    linker map beside it: "TFLM library", "model" (the flatbuffer), "C library" (newlib-nano,
    libm), "compiler runtime" (libgcc: soft double arithmetic...), "program" (the rest).
    Input sections are clipped at the next one's address (merged strings overlap), so the
    parts add up to the flash that ``size`` reports, give or take alignment padding."""
    text = Path(f"{elf}.map").read_text(encoding="utf-8", errors="replace")
    text = text[text.find("Linker script and memory map"):]
    heads = list(_MAP_OUTPUT.finditer(text))
    ranges, pieces = [], []
    for head, after in zip(heads, [*heads[1:], None], strict=True):
        if head.group(1) not in _FLASH_SECTIONS:
            continue
        start = int(head.group(2), 16)
        ranges.append((start, start + int(head.group(3), 16)))
        block = text[head.end():after.start() if after else len(text)]
        pieces += [(int(a, 16), int(s, 16), _origin(path))
                   for _, a, s, path in _MAP_INPUT.findall(block) if int(s, 16)]
    pieces.sort()
    totals: dict[str, int] = {}
    for i, (address, size, kind) in enumerate(pieces):
        limit = next(hi for lo, hi in ranges if lo <= address < hi)
        if i + 1 < len(pieces) and pieces[i + 1][0] < limit:
            limit = pieces[i + 1][0]
        totals[kind] = totals.get(kind, 0) + max(0, min(size, limit - address))
    return totals


def _support_objects(target: str, src: Source) -> list[Path]:
    """Return the objects every M4 program needs: the vector table and start-up of
    deploy/harness/platform_m4.c and the C++ runtime of tflm_harness/cxx_runtime.cc."""
    if target != "m4":
        return []
    spec = get_target(target)
    c_flags = [*spec.arch, "-O2", "-ffunction-sections", "-fdata-sections",
               "--specs=nano.specs", "-I", str(firmware.HARNESS_DIR)]
    cxx_flags = [*spec.arch, *CXX_FLAGS, "--specs=nano.specs"]
    return [
        _cached_object(spec.cc, c_flags, firmware.HARNESS_DIR / "platform_m4.c",
                       _headers(firmware.HARNESS_DIR), ""),
        _cached_object(spec.cxx, cxx_flags, TFLM_HARNESS_DIR / "cxx_runtime.cc", [], ""),
    ]


def _sketch_file(folder: Path) -> Path:
    sketches = sorted(folder.glob("*.ino"))
    if len(sketches) != 1:
        raise ValueError(f"{folder} must hold exactly one .ino sketch, found {len(sketches)}")
    return sketches[0]


def _with_arena(header: str, arena_size: int) -> str:
    new, count = re.subn(r"(constexpr int kTensorArenaSize = )\d+;", rf"\g<1>{arena_size};",
                         header)
    if count != 1:
        raise ValueError("model.h has no `constexpr int kTensorArenaSize = N;` to change")
    return new


def sketch_flags(target: str, src: Source, static_memory: bool = True, esp32: bool = True,
                 defines: dict | None = None, loops: int = DEFAULT_LOOPS) -> list[str]:
    """Return the compiler flags of a sketch built with the Arduino stand-in: the library's
    flags (``static_memory=False`` leaves out -DTF_LITE_STATIC_MEMORY, as a mistaken build
    would), ``ARDUINO_ARCH_ESP32`` when ``esp32``, TFLM's headers as system headers (their
    warnings are TFLM's), and -Wall -Wextra -Werror for the sketch itself."""
    spec = get_target(target)
    flags = [*spec.arch, *(f for f in CXX_FLAGS
                           if static_memory or f != "-DTF_LITE_STATIC_MEMORY"),
             "-Wall", "-Wextra", "-Werror", f"-DARDUINO_SHIM_LOOPS={int(loops)}"]
    if target == "m4":
        flags.append("--specs=nano.specs")
    if esp32:
        flags.append("-DARDUINO_ARCH_ESP32")
    for name, value in (defines or {}).items():
        flags.append(f"-D{name}" if value is None else f"-D{name}={value}")
    includes = include_flags(src.root)
    system = [flag if flag != "-I" else "-isystem" for flag in includes]
    return [*flags, "-I", str(SHIM_DIR), *system]


def build_sketch(folder=SKETCH_DIR, target: str = "host", build_dir=None, *,
                 arena_size: int | None = None, static_memory: bool = True,
                 esp32: bool = True, defines: dict | None = None,
                 loops: int = DEFAULT_LOOPS, src: Source | None = None,
                 swap: KernelSwap | None = None) -> Path:
    """Return the program (host executable or M4 ELF) of the sketch in ``folder`` built with
    the Arduino stand-in against the TFLM library.

    ``arena_size`` replaces kTensorArenaSize in a copy of model.h. The .ino is compiled as
    C++ with ``Arduino.h`` included first, as the Arduino IDE does; every .cpp/.c beside it is
    compiled too. ``src`` and ``swap`` choose the TFLM tree and kernels (default: the reference
    kernels of :func:`source`). Raises :class:`TflmBuildError` with the compiler's output.
    """
    folder = Path(folder)
    src = require(target, src)
    spec = get_target(target)
    sketch = _sketch_file(folder)
    build_dir = Path(build_dir) if build_dir else Path(tempfile.mkdtemp(prefix="tflm-sketch-"))
    build_dir.mkdir(parents=True, exist_ok=True)
    files = {p.name: p.read_text(encoding="utf-8") for p in sorted(folder.iterdir())
             if p.suffix in (".ino", ".h", ".cpp", ".c")}
    if arena_size is not None:
        files["model.h"] = _with_arena(files.get("model.h", ""), int(arena_size))
    staged = _stage(files)
    flags = [*sketch_flags(target, src, static_memory, esp32, defines, loops), "-I",
             str(staged)]
    headers = [*_headers(staged), *_headers(SHIM_DIR)]
    salt = _tree_key(src)
    lib = library(target, src=src, swap=swap)
    objects = [_cached_object(spec.cxx, [*flags, "-include", "Arduino.h"], staged / sketch.name,
                              headers, salt)]
    for extra in sorted(staged.glob("*.cpp")) + sorted(staged.glob("*.c")):
        compiler = spec.cxx if extra.suffix == ".cpp" else spec.cc
        extra_flags = flags if extra.suffix == ".cpp" else [
            f for f in flags
            if not f.startswith(("-std=gnu++", "-fno-rtti", "-fno-threadsafe-statics"))]
        objects.append(_cached_object(compiler, extra_flags, extra, headers, salt))
    objects.append(_cached_object(spec.cxx, flags, SHIM_DIR / "arduino_shim.cpp", headers,
                                  salt))
    objects += _support_objects(target, src)
    suffix = "elf" if target == "m4" else "exe"
    return _link(spec, objects, lib, build_dir / f"{sketch.stem}.{target}.{suffix}",
                 printf_float=True)


def compile_sketch(folder=SKETCH_DIR, target: str = "host",
                   **options) -> subprocess.CompletedProcess:
    """Compile (only) the sketch's .ino with the given options and return the compiler run,
    stopping at the first error: for checking that its ``#error`` guards fire. Options as for
    :func:`sketch_flags`."""
    folder = Path(folder)
    src = require(target)
    spec = get_target(target)
    flags = [*sketch_flags(target, src, **options), "-I", str(folder), "-include", "Arduino.h"]
    # -Wfatal-errors: stop at the first error (an #error comes before the TFLM headers).
    return subprocess.run([spec.cxx, *flags, "-fsyntax-only", "-Wfatal-errors", "-x", "c++",
                           str(_sketch_file(folder))], capture_output=True, text=True,
                          check=False)


# --- running and reading what it prints ----------------------------------------------------------

_ROW = re.compile(r"x=(-?\d+\.\d{3}), y=(-?\d+\.\d{3}), sin=(-?\d+\.\d{3}), us=(\d+)")
_HEADER = re.compile(r"(\w+): (\d+)-byte model, arena (\d+) bytes, (\d+) used")


@dataclass
class SketchRun:
    """What a sketch printed on Serial, parsed."""

    target: str
    lines: list[str]
    rows: list[dict[str, str]]  # {"x", "y", "sin", "us"} as printed
    arena: int | None  # the arena size the sketch reported (None if setup() failed)
    arena_used: int | None
    returncode: int
    stderr: str
    seconds: float
    other: list[str] = field(default_factory=list)  # lines that are neither header nor row
    self_test: self_test.Result | None = None  # what the sketch's boot-time check printed

    @property
    def ok(self) -> bool:
        """True if the run ended normally after setup() succeeded and passed its self-test."""
        return (self.returncode == 0 and self.arena is not None and not self.other
                and self.self_test is not None and self.self_test.ok)

    def printed(self) -> list[tuple[str, str]]:
        """Return the (x, y) pairs exactly as printed."""
        return [(row["x"], row["y"]) for row in self.rows]


def parse_serial(lines: list[str]) -> tuple[tuple[int, int] | None, list[dict[str, str]],
                                             list[str]]:
    """Return ((arena, used) or None, rows, other lines) of the sketch's serial output; the
    self-test lines are none of these (:func:`self_test.parse` reads them)."""
    header, rows, other = None, [], []
    for line in lines:
        if not line.strip() or line.startswith(self_test.PREFIX):
            continue
        if match := _ROW.fullmatch(line):
            rows.append(dict(zip(("x", "y", "sin", "us"), match.groups(), strict=True)))
        elif (match := _HEADER.fullmatch(line)) and header is None and not rows:
            header = (int(match.group(3)), int(match.group(4)))
        else:
            other.append(line)
    return header, rows, other


def _run_command(target: str, program: Path, args: tuple[str, ...] = ()) -> tuple[list, dict]:
    """Return (command, extra environment) that runs ``program`` on ``target``; ``args`` reach
    the program through argv-like means (semihosting command line on QEMU, TFLM_ARENA here)."""
    if target == "host":
        env = dict(os.environ, TFLM_ARENA=" ".join(args)) if args else None
        return [str(program)], env
    command = [part.format(elf=program.resolve()) for part in firmware.TARGETS["m4"].run_command]
    if args:
        at = command.index("enable=on,target=native")
        command[at] = ",".join(["enable=on,target=native", "arg=program",
                                *(f"arg={a}" for a in args)])
    return command, None


def _execute(target: str, program: Path, timeout_s: float, args: tuple[str, ...] = ()):
    """Return (returncode, stdout lines, stderr, seconds); a hang counts as returncode -9."""
    command, env = _run_command(target, Path(program), args)
    started = time.perf_counter()
    try:
        done = toolchains.run_program(command, timeout_s, env)
        code, out, err = done.returncode, done.stdout, done.stderr
    except toolchains.SimulationTimeout as exc:
        code, out, err = -9, exc.stdout, exc.stderr + f"\n(timed out after {timeout_s:g} s)"
    lines = [line.rstrip("\r") for line in out.splitlines()]
    return code, lines, err, time.perf_counter() - started


def run_sketch(program, target: str = "host", timeout_s: float = DEFAULT_TIMEOUT_S) -> SketchRun:
    """Run a program from :func:`build_sketch` (on QEMU for "m4") and return its
    :class:`SketchRun`; a crash or hang shows as a non-zero ``returncode``."""
    get_target(target)
    code, lines, err, seconds = _execute(target, Path(program), timeout_s)
    header, rows, other = parse_serial(lines)
    arena, used = header if header else (None, None)
    return SketchRun(target, lines, rows, arena, used, code, err, seconds, other,
                     self_test.parse(lines))


def expected_rows(tflite: bytes, steps: int = DEFAULT_LOOPS) -> list[tuple[str, str]]:
    """Return the (x, y) pairs the int8 sketch must print, as ``printf("%.3f")`` prints them:
    x quantized as the sketch does (lroundf in float32), the plain-C / TFLM int8 arithmetic
    (:func:`dense.int8_reference`), y = scale * (code - zero_point) in float32."""
    from . import dense

    x = sketch_x(steps)
    y = int8_predictions(dense.int8_layers(tflite), x)
    return [(f"{xi:.3f}", f"{yi:.3f}") for xi, yi in zip(x, y, strict=True)]


def sketch_tflite(folder=SKETCH_DIR) -> bytes:
    """Return the flatbuffer the sketch in ``folder`` runs (the array in its model.cpp)."""
    from . import export

    return export.parse_c_array((Path(folder) / "model.cpp").read_text(encoding="utf-8"))


def check_sketch(folder=SKETCH_DIR, target: str = "host", build_dir=None,
                 timeout_s: float = DEFAULT_TIMEOUT_S, **build_options) -> SketchRun:
    """Build and run the sketch; return its run after checking every printed (x, y) equals
    :func:`expected_rows`. Raises :class:`TflmBuildError` saying what differs."""
    program = build_sketch(folder, target, build_dir, **build_options)
    run = run_sketch(program, target, timeout_s)
    if run.self_test is not None and not run.self_test.ok:
        checks = [line for line in run.lines if line.startswith(self_test.PREFIX)]
        raise TflmBuildError(f"the sketch's self-test failed on {target}:\n" + "\n".join(checks))
    if not run.ok or len(run.rows) != build_options.get("loops", DEFAULT_LOOPS):
        raise TflmBuildError(f"the sketch did not run to its end on {target} (exit "
                             f"{run.returncode}):\n" + "\n".join(run.lines[-20:])
                             + run.stderr[-2000:])
    steps = re.search(r"const int kSteps = (\d+);", _sketch_file(Path(folder)).read_text())
    want = expected_rows(sketch_tflite(folder), int(steps.group(1)) if steps else DEFAULT_LOOPS)
    want = [want[i % len(want)] for i in range(len(run.rows))]
    if run.printed() != want:
        diff = [f"{got} != {exp}" for got, exp in zip(run.printed(), want, strict=True)
                if got != exp]
        raise TflmBuildError(f"{target}: {len(diff)} printed (x, y) differ from the plain-C "
                             f"arithmetic: {diff[:5]}")
    return run


# --- TFLM inside the firmware harness: arena, set-up and inference costs ------------------------

_TFLM_LINE = re.compile(r"TFLM SETUP (\d+) STACK (\d+) (\d+) ARENA (\d+) (\d+)")


@dataclass(frozen=True)
class BenchLine:
    """What tflm_bench.cc printed before the harness's BEGIN line."""

    setup_cost: int  # instructions per set-up on the M4 (0 on the host: no counter)
    setup_stack: int
    invoke_stack: int
    arena: int
    arena_used: int


def parse_bench_line(lines: list[str]) -> BenchLine | None:
    """Return the ``TFLM SETUP ...`` line's values, or None if it is not there."""
    for line in lines:
        if match := _TFLM_LINE.fullmatch(line.strip()):
            return BenchLine(*(int(v) for v in match.groups()))
    return None


def _model_files(tflite: bytes, arena_size: int) -> dict[str, str]:
    from . import export

    return export.c_array_files(tflite, name="g_model", arena_size=arena_size,
                                header="model.h")


def build_bench(target: str, tflite: bytes, inputs, build_dir, *, arena_size: int,
                arena_max: int | None = None, baseline: bool = False,
                src: Source | None = None, swap: KernelSwap | None = None) -> Path:
    """Return the firmware that runs ``tflite`` under TFLM inside deploy/harness/harness.c on
    each row of int8 ``inputs`` (``baseline=True``: the same harness, no TFLM and no model).
    Like the sketch, it registers FULLY_CONNECTED only and reads one output value.

    ``arena_size`` is the default arena (kTensorArenaSize), ``arena_max`` the static buffer
    a run may ask for (default ``arena_size``). The ELF and a .json the harness reader checks
    go to ``build_dir``. ``src`` and ``swap`` as for :func:`build_sketch`.
    """
    src = require(target, src)
    spec = get_target(target)
    rows = np.asarray(inputs)
    if rows.ndim == 1:
        rows = rows.reshape(-1, 1)
    if not np.issubdtype(rows.dtype, np.integer) or rows.min() < -128 or rows.max() > 127:
        raise ValueError("inputs must be int8 codes")
    n_out = 1
    build_dir = Path(build_dir)
    build_dir.mkdir(parents=True, exist_ok=True)
    name = "tflm_baseline" if baseline else f"tflm_bench_{arena_max or arena_size}"
    files = {"harness_cases.h": firmware.cases_header("int8", rows.astype(np.int8), n_out,
                                                      None if baseline else "tflm_model")}
    for harness_file in ("harness.c", "platform.h", f"platform_{target}.c"):
        files[harness_file] = (firmware.HARNESS_DIR / harness_file).read_text(encoding="utf-8")
    for own in ("tflm_model.h", "tflm_bench.cc"):
        files[own] = (TFLM_HARNESS_DIR / own).read_text(encoding="utf-8")
    files.update(_model_files(tflite, arena_size))
    staged = _stage(files)
    headers = _headers(staged)
    salt = _tree_key(src)
    fw = firmware.get_target(target)
    c_flags = [f for f in fw.cflags if not f.startswith(("-Wl,", "-T", "--specs=rdimon"))]
    c_flags += ["-I", str(staged)]
    objects = [_cached_object(spec.cc, c_flags, staged / "harness.c", headers, salt),
               _cached_object(spec.cc, [*c_flags, "-Dplatform_init=platform_base_init"],
                              staged / f"platform_{target}.c", headers, salt)]
    cxx_flags = [*spec.arch, *CXX_FLAGS, "-Wall", "-Wextra", "-Werror", "-I", str(staged),
                 *[f if f != "-I" else "-isystem" for f in include_flags(src.root)],
                 f"-DTFLM_ARENA_MAX={int(arena_max or arena_size)}"]
    if target == "m4":
        cxx_flags.append("--specs=nano.specs")
    if baseline:
        cxx_flags.append("-DTFLM_BENCH_EMPTY")
    objects.append(_cached_object(spec.cxx, cxx_flags, staged / "tflm_bench.cc", headers, salt))
    if not baseline:
        objects.append(_cached_object(spec.cxx, cxx_flags, staged / "model.cpp", headers, salt))
    if target == "m4":
        objects += _support_objects(target, src)[1:]  # platform_m4.c is already in
    out = build_dir / f"{name}.{target}.elf"
    _link(spec, objects, library(target, src=src, swap=swap), out, printf_float=False)
    meta = {"target": target, "kind": "int8", "cases": len(rows), "inputs": rows.shape[1],
            "outputs": n_out, "prefix": "tflm_model", "baseline": baseline}
    (build_dir / f"{name}.{target}.json").write_text(json.dumps(meta, indent=1))
    return out


def probe_arena(target: str, program: Path, size: int,
                timeout_s: float = DEFAULT_TIMEOUT_S) -> BenchLine | None:
    """Run a bench firmware with a ``size``-byte arena in its own process; return what it
    printed if AllocateTensors and Invoke worked, None if it failed, crashed or hung."""
    code, lines, _, _ = _execute(target, program, timeout_s, (str(int(size)),))
    line = parse_bench_line(lines)
    return line if code == 0 and line is not None and line.arena == size else None


@dataclass(frozen=True)
class Arena:
    """The smallest tensor arena a model runs with on one target."""

    size: int  # bytes: works at size, fails (cleanly or not) at size - 1
    used: int  # what arena_used_bytes() reports with that arena
    target: str
    provenance: str  # e.g. "measured on Cortex-M4F (QEMU) with esp-tflite-micro 1.4.0"
    sketch_confirmed: bool  # the sketch itself ran at size and failed at size - 1


_PROVENANCE = {"m4": "Cortex-M4F (QEMU)", "host": "this 64-bit PC"}


def arena_minimum(target: str = "m4", folder=SKETCH_DIR, *, upper: int = 16384,
                  confirm: bool = True, build_dir=None,
                  timeout_s: float = 30.0, src: Source | None = None,
                  swap: KernelSwap | None = None) -> Arena:
    """Return the smallest arena with which the sketch's set-up (GetModel, resolver,
    interpreter, AllocateTensors) and Invoke work on ``target``.

    Bisected with one bench firmware that takes the arena size at run time, each try in its
    own process with a timeout (too small an arena can crash or hang instead of failing);
    with ``confirm`` the sketch itself is then built and run at that size (it must print
    every row right) and one byte below (it must not). ``src`` and ``swap`` choose the TFLM
    tree and kernels, as for :func:`build_sketch`.
    """
    src = require(target, src)
    tflite = sketch_tflite(folder)
    build_dir = Path(build_dir) if build_dir else Path(tempfile.mkdtemp(prefix="tflm-arena-"))
    program = build_bench(target, tflite, np.zeros((1, 1), np.int8), build_dir,
                          arena_size=upper, arena_max=upper, src=src, swap=swap)
    top = probe_arena(target, program, upper, timeout_s)
    if top is None:
        raise TflmBuildError(f"the model does not run on {target} even with a {upper}-byte "
                             "arena")
    low, high, best = 0, upper, top  # fails at low (or low is 0), works at high
    while high - low > 1:
        mid = (low + high) // 2
        line = probe_arena(target, program, mid, timeout_s)
        if line is not None:
            high, best = mid, line
        else:
            low = mid
    confirmed = False
    if confirm:
        try:
            check_sketch(folder, target, build_dir / "at", arena_size=high, loops=2,
                         timeout_s=timeout_s, src=src, swap=swap)
        except TflmBuildError as exc:
            raise TflmBuildError(f"the bench ran with a {high}-byte arena but the sketch did "
                                 f"not: {exc}") from None
        below = run_sketch(build_sketch(folder, target, build_dir / "below",
                                        arena_size=high - 1, loops=2, src=src, swap=swap),
                           target, timeout_s)
        if below.ok and len(below.rows) == 2:
            raise TflmBuildError(f"the sketch also runs with {high - 1} bytes: the bench and "
                                 "the sketch disagree")
        confirmed = True
    provenance = f"measured on {_PROVENANCE[target]} with {src.label}" + (
        f" and {swap.label}" if swap else "")
    return Arena(high, best.arena_used, target, provenance, confirmed)


def board_arena_size(model=SKETCH_DIR) -> tuple[int, str]:
    """Return (bytes, provenance) of the smallest arena on a 32-bit Cortex-M4F: the number
    for model.h's kTensorArenaSize on a 32-bit board. ``model`` is a sketch folder (the result
    is then confirmed with the sketch itself) or the int8 .tflite bytes (bench only)."""
    if isinstance(model, (bytes, bytearray)):
        with tempfile.TemporaryDirectory(prefix="tflm-arena-") as tmp:
            arena = arena_for_tflite("m4", bytes(model), Path(tmp))
    else:
        arena = arena_minimum("m4", model)
    return arena.size, arena.provenance


# --- side by side with the plain C ------------------------------------------------------------

@dataclass(frozen=True)
class Implementation:
    """One way to run the model on the M4, measured in the same harness."""

    name: str
    flash: int  # bytes over the empty harness
    model_bytes: int  # of which: the model's data (flatbuffer / C arrays)
    static_ram: int  # .data + .bss over the empty harness, arena excluded
    arena: int
    stack: int  # deepest stack of one inference
    instructions: float  # mean per inference
    setup_instructions: int  # one-time set-up before the first inference
    outputs_equal_tflm: bool  # all inputs give TFLM's Python-runtime codes
    baseline_flash: int  # flash of the empty harness it is measured over
    flash_parts: dict[str, int] = field(default_factory=dict)  # flash over the baseline by origin

    @property
    def ram(self) -> int:
        """Return static RAM + arena + stack."""
        return self.static_ram + self.arena + self.stack


@dataclass(frozen=True)
class SideBySide:
    """TFLM and the plain C on the same simulated Cortex-M4F."""

    tflm: Implementation
    plain: Implementation
    source: str
    cases: int


def side_by_side(tflite: bytes | None = None, build_dir=None,
                 arena: Arena | None = None) -> SideBySide:
    """Measure the int8 model under TFLM and as plain C on the Cortex-M4F (QEMU), both inside
    deploy/harness/harness.c over every input code: flash and static RAM over each one's empty
    harness, arena, stack, instructions per inference and the one-time set-up."""
    from . import dense, export, tflm

    src = require("m4")
    tflite = tflite if tflite is not None else sketch_tflite(SKETCH_DIR)
    build_dir = Path(build_dir) if build_dir else Path(tempfile.mkdtemp(prefix="tflm-vs-c-"))
    codes = np.arange(-128, 128, dtype=np.int8).reshape(-1, 1)
    want = tflm.run(tflite, codes)
    if arena is None:
        arena = arena_for_tflite("m4", tflite, build_dir / "arena")
    full = build_bench("m4", tflite, codes, build_dir, arena_size=arena.size)
    empty = build_bench("m4", tflite, codes, build_dir, arena_size=arena.size, baseline=True)
    result = firmware.run("m4", full)
    line = parse_bench_line(result.text.splitlines())
    if line is None:
        raise TflmBuildError("the TFLM firmware printed no TFLM SETUP line:\n" + result.text)
    full_size, base_size = firmware.sizes("m4", full), firmware.sizes("m4", empty)
    full_parts, base_parts = flash_by_origin(full), flash_by_origin(empty)
    parts = {kind: size - base_parts.get(kind, 0) for kind, size in full_parts.items()}
    tflm_side = Implementation(
        "TFLM", full_size.flash - base_size.flash, len(tflite),
        full_size.ram - base_size.ram - line.arena, line.arena, line.invoke_stack,
        float(result.cost.mean()), line.setup_cost, bool(np.array_equal(result.outputs, want)),
        base_size.flash, parts)
    model = dense.int8_layers(tflite)
    plain_dir = build_dir / "plain"
    m = firmware.measure("m4", export.plain_c_files(model, "sine_int8"), codes,
                         build_dir=plain_dir)
    plain_base = firmware.sizes("m4", plain_dir / "sine_int8_baseline.m4.elf")
    plain_side = Implementation(
        "plain C", m.flash, dense.data_bytes(model), m.static_ram, 0, m.stack, float(m.cost),
        0, bool(np.array_equal(m.result.outputs, want)), plain_base.flash)
    return SideBySide(tflm_side, plain_side, src.label, len(codes))


def arena_for_tflite(target: str, tflite: bytes, build_dir: Path, src: Source | None = None,
                     swap: KernelSwap | None = None) -> Arena:
    """:func:`arena_minimum` for a model given as bytes (bench only, no sketch)."""
    staged = Path(build_dir) / "model"
    write_files(staged, {**_model_files(tflite, 1), "probe.ino": "// arena probe\n"})
    return arena_minimum(target, staged, confirm=False, build_dir=Path(build_dir), src=src,
                         swap=swap)


def side_by_side_table(record: dict) -> str:
    """Return a :func:`side_by_side_record` as a Markdown table."""
    t, p = record["TFLM"], record["plain C"]
    rows = [
        ("flash over the empty harness (B)", f"{t['flash']:,}", f"{p['flash']:,}"),
        ("  of which the model's data (B)", f"{t['model_bytes']:,} (flatbuffer)",
         f"{p['model_bytes']:,} (C arrays)"),
        ("  TFLM's own code (B)", f"{t['code_bytes']:,}", "—"),
        ("  C library + compiler runtime it pulls in (B)", f"{t['libc_bytes']:,}", "—"),
        ("static RAM, arena excluded (B)", f"{t['static_ram']:,}", f"{p['static_ram']:,}"),
        ("tensor arena (B)", f"{t['arena']:,}", "—"),
        ("stack of one inference (B)", f"{t['stack']:,}", f"{p['stack']:,}"),
        ("RAM in all (B)", f"{t['ram']:,}", f"{p['ram']:,}"),
        ("instructions per inference", f"{t['instructions']:,.0f}", f"{p['instructions']:,.0f}"),
        ("one-time set-up (instructions)", f"{t['setup_instructions']:,}",
         "0 (nothing to set up)"),
        (f"all {record['cases']} input codes = TFLM runtime",
         "yes" if t["outputs_equal_tflm"] else "NO", "yes" if p["outputs_equal_tflm"] else "NO"),
    ]
    width = max(len(r[0]) for r in rows)
    lines = [f"| {record['board']:{width}} | TFLM ({record['tflm']}, reference kernels) "
             "| plain C |", f"|{'-' * (width + 2)}|---|---|"]
    lines += [f"| {a:{width}} | {b} | {c} |" for a, b, c in rows]
    return "\n".join(lines)


def side_by_side_record(result: SideBySide, arenas: dict[str, Arena]) -> dict:
    """Return the measurement as plain data (what ``benchmarks/tflm_vs_plain_c.py --write``
    stores for the lesson and the build): both implementations and the arena minima."""
    def implementation(side: Implementation) -> dict:
        return {"flash": side.flash, "model_bytes": side.model_bytes,
                "code_bytes": side.flash_parts.get("TFLM library", 0),
                "libc_bytes": side.flash_parts.get("C library", 0)
                + side.flash_parts.get("compiler runtime", 0),
                "static_ram": side.static_ram, "arena": side.arena, "stack": side.stack,
                "ram": side.ram, "instructions": round(side.instructions, 1),
                "setup_instructions": side.setup_instructions,
                "outputs_equal_tflm": side.outputs_equal_tflm}

    return {"board": "Cortex-M4F (QEMU mps2-an386, -icount shift=0)", "tflm": result.source,
            "cases": result.cases, "TFLM": implementation(result.tflm),
            "plain C": implementation(result.plain),
            "arena": {target: {"size": a.size, "used": a.used, "provenance": a.provenance}
                      for target, a in sorted(arenas.items())}}


# --- command line ------------------------------------------------------------------------------

def main(argv=None) -> int:
    """Build and run the TFLM sketch, measure its arena, or build the library."""
    parser = argparse.ArgumentParser(prog="python -m tinyml_helpers.deploy.tflm_build",
                                     description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    for name, text in (("run", "build the sketch with the Arduino stand-in and run it"),
                       ("arena", "bisect the smallest arena the sketch runs with"),
                       ("library", "build (or find in the cache) the TFLM library")):
        cmd = sub.add_parser(name, help=text)
        cmd.add_argument("target", choices=list(TARGETS))
        if name != "library":
            cmd.add_argument("sketch", nargs="?", type=Path, default=SKETCH_DIR)
        else:
            cmd.add_argument("--all-kernels", action="store_true",
                             help="every reference kernel, not only FULLY_CONNECTED")
    args = parser.parse_args(argv)
    try:
        if args.command == "library":
            lib = library(args.target, None if args.all_kernels else KERNELS_FOR_SINE)
            print(f"{lib.path} ({lib.objects} objects, {lib.source.label}, "
                  f"{'built' if lib.built else 'cached'})")
        elif args.command == "run":
            run = check_sketch(args.sketch, args.target)
            print("\n".join(run.lines))
            print(f"-- {len(run.rows)} rows, every y as the plain-C arithmetic gives it")
        else:
            arena = arena_minimum(args.target, args.sketch)
            print(f"{arena.size} bytes ({arena.used} used), {arena.provenance}"
                  + ("; confirmed with the sketch" if arena.sketch_confirmed else ""))
    except (firmware.FirmwareError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
