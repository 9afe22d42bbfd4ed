"""Compiling TFLM: the library's sources and flags, the static library built once per target,
kernels and kernel swap, the objects of programs cached by content, and the link.

Every compiler and archiver runs through :func:`toolchains.run_program`, the one runner of the
deploy core. Programs are compiled with the flags the arduino-esp32 core builds its TFLM with:
``-DTF_LITE_STATIC_MEMORY`` (a sketch must use it too; its ``#error`` says so).
"""

from __future__ import annotations

import concurrent.futures
import hashlib
import json
import os
import re
import threading
from dataclasses import dataclass
from pathlib import Path

from .. import boards, firmware, toolchains
from ..files import write_files
from .kernels import INT8_REGISTRATIONS
from .source import (
    JOBS_ENV,
    Source,
    TflmBuildError,
    TflmUnavailable,
    file_digest,
    get_target,
    locked,
    require,
    third_party,
)

DEPLOY_DIR = Path(__file__).resolve().parents[1]
TFLM_HARNESS_DIR = DEPLOY_DIR / "tflm_harness"
BUILD_VERSION = 2  # bump to invalidate every cached library and object
COMPILE_TIMEOUT_S = 900.0  # one compiler run; only a hung compiler gets near it

# Flags of the library and the programs. TF_LITE_STATIC_MEMORY is what the arduino-esp32 core
# builds the library with; a sketch must be compiled with it too (its #error says so).
CXX_FLAGS = ("-std=gnu++17", "-DTF_LITE_STATIC_MEMORY", "-DTF_LITE_DISABLE_X86_NEON",
             "-fno-rtti", "-fno-exceptions", "-fno-threadsafe-statics", "-O2",
             "-ffunction-sections", "-fdata-sections")


def cxx(target: str) -> boards.CxxBuild:
    """Return how ``target`` builds C++ (its row of the board table)."""
    return get_target(target).cxx


# --- running the compilers -----------------------------------------------------------------

def compile_command(command: list[str], what: str) -> None:
    """Run one compiler, archiver or linker command; raise :class:`TflmBuildError` with its
    output if it fails."""
    try:
        done = toolchains.run_program([str(part) for part in command], COMPILE_TIMEOUT_S)
    except toolchains.SimulationTimeout as exc:
        raise TflmBuildError(f"{what}: the compiler did not finish within "
                             f"{COMPILE_TIMEOUT_S:g} s") from exc
    if done.returncode != 0:
        raise TflmBuildError(f"compiling {what} failed:\n$ {' '.join(map(str, command))}\n"
                             f"{done.stdout}{done.stderr}"[-8000:])


_COMPILER_IDS: dict[str, str] = {}


def compiler_id(compiler: str) -> str:
    """Return the first line of ``compiler --version`` (part of every cache key)."""
    if compiler not in _COMPILER_IDS:
        done = toolchains.run_program([compiler, "--version"], 60.0)
        _COMPILER_IDS[compiler] = done.stdout.splitlines()[0] if done.stdout else compiler
    return _COMPILER_IDS[compiler]


def _jobs() -> int:
    try:
        return max(1, int(os.environ.get(JOBS_ENV, "0"))) if os.environ.get(JOBS_ENV) \
            else os.cpu_count() or 1
    except ValueError:
        return os.cpu_count() or 1


# --- the library's sources -------------------------------------------------------------------

# Kernel sources that use another kernel's common file: depthwise_conv_common.cc reads the
# tensor indices (kConvInputTensor...) that conv_common.cc defines.
_NEEDS = {"depthwise_conv": ("conv_common",)}

_SKIP = re.compile(r"(_test|test_helpers?|test_helper_custom_ops|fake_micro_context|"
                   r"mock_micro_graph|kernel_runner)\.cc$")


def library_sources(root: Path, kernels: tuple[str, ...] | None = None) -> list[Path]:
    """Return the .cc files of the TFLM library in ``root`` (relative paths, sorted).

    ``kernels=None`` takes every reference kernel (the whole library, as the Arduino core
    ships it); a tuple of kernel names such as ``("fully_connected",)`` (see
    :func:`kernels.kernels_for`) takes only those kernels (with their ``_common.cc``) and the
    kernel helpers. A program linked against either library gets the same object files: the
    linker only pulls the archive members it references.
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
        wanted |= {k for name in kernels for k in _NEEDS.get(name, ())}
        found = {p.stem for p in all_kernels}
        absent = sorted(set(kernels) - found)
        if absent:
            raise TflmUnavailable(f"{root} has no kernel {', '.join(absent)} "
                                  "(tensorflow/lite/micro/kernels/<name>.cc)")
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
        folder = third_party(root, name)
        if folder is not None:
            flags += ["-I", str(folder / sub if sub else folder)]
    return flags


def system_includes(root: Path) -> list[str]:
    """Return :func:`include_flags` with TFLM's headers as system headers: their warnings are
    TFLM's, not the program's (which is built with -Wall -Wextra -Werror)."""
    return [flag if flag != "-I" else "-isystem" for flag in include_flags(root)]


def _tree_digest(root: Path, sources: list[Path]) -> str:
    """Hash of every header and listed source in the tree (contents, not times)."""
    digest = hashlib.sha256()
    headers = sorted(p.relative_to(root) for top in ("tensorflow", "third_party")
                     if (root / top).is_dir() for p in (root / top).rglob("*.h"))
    for rel in [*headers, *sources]:
        digest.update(str(rel).encode() + b"\0")
        digest.update((root / rel).read_bytes())
    return digest.hexdigest()


# --- the library -------------------------------------------------------------------------------

@dataclass(frozen=True)
class KernelSwap:
    """Kernels built in place of TFLM's reference ones, with the C library they call: what a
    vendor's optimized build does (the ESP32's TFLite Micro runs ESP-NN's kernels, Arm's
    Cortex-M builds run CMSIS-NN's).

    Each replacement is either a path relative to the TFLM tree (ESP-NN's glue ships inside
    esp-tflite-micro) or an absolute path to a file outside it (CMSIS-NN's glue comes from
    another tarball). ``cxx_flags`` apply to the replacements only, ``c_flags`` to
    ``c_sources`` only; the rest of the library is built as without the swap.

    ``int8_registrations`` names the operator kinds (:data:`kernels.INT8_REGISTRATIONS`) whose
    replacement also defines an int8-only registration (CMSIS-NN's glue does, ESP-NN's does
    not); a program registering them must be compiled with ``program_flags``. Neither changes
    the library.
    """

    label: str  # e.g. "ESP-NN FULLY_CONNECTED (esp-nn 1.1.2)"
    replace: tuple[tuple[str, str | Path], ...]  # (reference kernel, tree-relative; replacement)
    cxx_flags: tuple[str, ...]  # for the replacements (defines, include paths)
    c_sources: tuple[Path, ...]  # the library they call (absolute paths)
    c_flags: tuple[str, ...]  # for c_sources
    headers: tuple[Path, ...]  # folders whose headers take part in the cache key
    int8_registrations: tuple[str, ...] = ()  # op kinds with an int8-only registration
    program_flags: tuple[str, ...] = ()  # for a program that registers them (e.g. -DCMSIS_NN)

    def __post_init__(self):
        if not isinstance(self.label, str) or not self.label:
            raise TypeError(f"label must be a non-empty str, got {self.label!r}")
        if not isinstance(self.replace, tuple) or not self.replace:
            raise TypeError("replace must be a non-empty tuple of (reference kernel, "
                            f"replacement) pairs, got {self.replace!r}")
        for pair in self.replace:
            if (not isinstance(pair, tuple) or len(pair) != 2 or not isinstance(pair[0], str)
                    or not isinstance(pair[1], (str, Path))):
                raise TypeError(f"{self.label}: each replacement must be a (str, str | Path) "
                                f"pair, got {pair!r}")
            if Path(pair[0]).is_absolute():
                raise ValueError(f"{self.label}: the reference kernel {pair[0]} must be "
                                 "relative to the TFLM tree")
        for name in ("cxx_flags", "c_sources", "c_flags", "headers", "int8_registrations",
                     "program_flags"):
            if not isinstance(getattr(self, name), tuple):
                raise TypeError(f"{self.label}: {name} must be a tuple, got "
                                f"{type(getattr(self, name)).__name__}")
        for path in self.c_sources:
            if not Path(path).is_absolute():
                raise ValueError(f"{self.label}: C source {path} must be an absolute path")
        unknown = [k for k in self.int8_registrations if k not in INT8_REGISTRATIONS]
        if unknown:
            raise ValueError(f"{self.label}: no int8-only registration known for "
                             f"{', '.join(map(str, unknown))}")
        if self.int8_registrations and not self.program_flags:
            raise ValueError(f"{self.label}: int8-only registrations need the program_flags "
                             "that declare them (e.g. -DCMSIS_NN)")

    @property
    def kernels(self) -> tuple[str, ...]:
        """Return the names of the reference kernels replaced (e.g. ``("conv",)``), sorted."""
        return tuple(sorted(Path(old).stem for old, _ in self.replace))


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
    """Return ``sources`` with ``swap``'s replacements in place of the reference kernels
    (tree-relative paths, or absolute paths for replacements from outside the tree)."""
    out = list(sources)
    for old, new in swap.replace:
        if Path(old) not in out:
            raise ValueError(f"{swap.label}: {old} is not among the library's sources")
        new = Path(new)
        where = new if new.is_absolute() else root / new
        if not where.is_file():
            raise TflmUnavailable(f"{swap.label}: {new} is "
                                  + ("absent" if new.is_absolute() else f"not in {root}"))
        out[out.index(Path(old))] = new
    missing = [str(p) for p in swap.c_sources if not Path(p).is_file()]
    if missing:
        raise TflmUnavailable(f"{swap.label}: absent C source(s) {', '.join(missing[:3])}"
                              + (f" and {len(missing) - 3} more" if len(missing) > 3 else ""))
    return out


def _member_name(rel: Path) -> str:
    """Return the object file name (no suffix) of a library source: tree-relative sources by
    their path, replacements from outside the tree by their folder and name."""
    if rel.is_absolute():
        return f"swap__{rel.parent.name}__{rel.stem}"
    return str(rel).replace("/", "__")[:-3]


def _source_keys(sources: list[Path]) -> list[str]:
    """Return the sources as cache-key entries: tree-relative paths as they are, files from
    outside the tree by name and content (the key must not depend on where they sit)."""
    return [f"{p.name}@{file_digest(p)[:16]}" if p.is_absolute() else str(p) for p in sources]


def _member_object(cache: Path, compiler: str, flags: list[str], path: Path, name: str,
                   headers_key: str) -> Path:
    """Return where the library member ``name`` compiled from ``path`` sits in the shared
    object cache (the file may not exist yet)."""
    digest = hashlib.sha256(json.dumps([compiler_id(compiler), flags, headers_key,
                                        file_digest(path)]).encode()).hexdigest()[:20]
    return Path(cache) / "obj" / "tflm" / f"{name}-{digest}.o"


def library(target: str, kernels: tuple[str, ...] | None, src: Source | None = None,
            jobs: int | None = None, swap: KernelSwap | None = None) -> Library:
    """Return the TFLM static library for ``target``, building it once into the cache.

    ``kernels`` as in :func:`library_sources` (None: every reference kernel; a model's are
    :func:`kernels.kernels_for`). The cache key is a hash of the sources and headers, the
    flags and the compiler's version; object files of an interrupted build are reused.
    ``swap`` builds other kernels in place of reference ones (see :class:`KernelSwap`).
    """
    build = cxx(target)
    src = require(target, src)
    if kernels is not None:
        if isinstance(kernels, str) or not all(isinstance(k, str) for k in kernels):
            raise TypeError(f"kernels must be a tuple of kernel names or None, got {kernels!r}")
        kernels = tuple(kernels)
    sources = library_sources(src.root, kernels)
    if swap is not None:
        sources = _swapped(sources, src.root, swap)
    flags = (*build.arch, *CXX_FLAGS, "-w")
    includes = include_flags(src.root)
    replaced = {Path(new) for _, new in swap.replace} if swap else set()
    replaced_paths = {src.root / rel for rel in replaced}  # absolute paths stay as they are
    # (compiler, flags, source, object name) of every member of the archive
    members = [(build.compiler, [*flags, *includes, *(swap.cxx_flags if rel in replaced else ())],
                src.root / rel, _member_name(rel))
               for rel in sources]
    swap_headers: list[str] = []
    if swap is not None:
        c_compiler = get_target(target).compiler
        c_flags = [*build.arch, "-std=gnu99", "-O2", "-ffunction-sections", "-fdata-sections",
                   "-w", *swap.c_flags]
        swap_headers = [file_digest(h) for folder in swap.headers
                        for h in sorted(Path(folder).rglob("*.h"))]
        members += [(c_compiler, c_flags, path, f"c__{path.parent.name}__{path.stem}")
                    for path in swap.c_sources]
    # Every member is compiled once into an object cache shared by all libraries, named by
    # what makes the object: compiler, flags, source and the headers it may include (a swap's
    # headers only for the swap's own files). Libraries of one tree differ in a few kernels,
    # so a new kernel set or swap compiles only those.
    plain_key = json.dumps([tree_key(src), BUILD_VERSION])
    swap_key = json.dumps([tree_key(src), swap_headers, BUILD_VERSION])
    objects = [_member_object(src.cache, compiler, member_flags, path, name,
                              plain_key if i < len(sources) and path not in replaced_paths
                              else swap_key)
               for i, (compiler, member_flags, path, name) in enumerate(members)]
    in_tree = [rel for rel in sources if not rel.is_absolute()]
    recipe = {"v": BUILD_VERSION, "tree": _tree_digest(src.root, in_tree), "flags": flags,
              "compiler": compiler_id(build.compiler), "sources": _source_keys(sources)}
    if swap is not None:
        recipe["swap"] = {
            "label": swap.label,
            "replace": [[old, *_source_keys([Path(new)])] for old, new in swap.replace],
            "cxx": swap.cxx_flags, "c": swap.c_flags,
            "files": [file_digest(p) for p in swap.c_sources],
            "headers": swap_headers}
    key = hashlib.sha256(json.dumps(recipe).encode()).hexdigest()[:16]
    kind = ("all" if kernels is None else "-".join(kernels) or "none") + \
        ("-swapped" if swap else "")
    out = src.cache / "lib" / f"{target}-{kind}-{key}"
    archive = out / "libtflm.a"
    with locked(out.parent / f"{out.name}.lock"):
        if archive.is_file():
            return Library(archive, target, src, flags, len(members), False, swap)
        todo = [(m, o) for m, o in zip(members, objects, strict=True) if not o.is_file()]
        for folder in {o.parent for o in objects} | {out}:
            folder.mkdir(parents=True, exist_ok=True)

        def build_one(item):
            (compiler, member_flags, path, _), obj = item
            tmp = obj.with_suffix(f".{os.getpid()}.{threading.get_ident()}.tmp")
            compile_command([compiler, *member_flags, "-c", str(path), "-o", str(tmp)],
                            str(path))
            os.replace(tmp, obj)

        with concurrent.futures.ThreadPoolExecutor(jobs or _jobs()) as pool:
            for future in [pool.submit(build_one, item) for item in todo]:
                future.result()
        tmp = out / f"libtflm.{os.getpid()}.a"
        compile_command([build.archiver, "rcs", str(tmp), *map(str, objects)], "the archive")
        os.replace(tmp, archive)
        (out / "build.json").write_text(json.dumps({
            "target": target, "source": src.label, "origin": src.origin, "flags": flags,
            "kernels": kind, "swap": swap.label if swap else None,
            "objects": len(objects)}, indent=1) + "\n")
    return Library(archive, target, src, flags, len(members), True, swap)


# --- compiling programs against it (objects cached by content) ---------------------------------

_TREE_KEYS: dict[Path, str] = {}


def tree_key(src: Source) -> str:
    """Return the hash of every header of ``src`` (computed once per tree)."""
    if src.root not in _TREE_KEYS:
        _TREE_KEYS[src.root] = _tree_digest(src.root, [])
    return _TREE_KEYS[src.root]


def cached_object(cache: Path, compiler: str, flags: list[str], source_file: Path,
                  headers: list[Path], salt: str) -> Path:
    """Return the object of ``source_file`` compiled with ``flags``, from the cache when the
    source, the ``headers`` it may include, the flags and the compiler are unchanged."""
    digest = hashlib.sha256(json.dumps([compiler, compiler_id(compiler), flags, salt,
                                        BUILD_VERSION]).encode())
    for path in [source_file, *sorted(headers)]:
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    obj = Path(cache) / "obj" / f"{source_file.stem}-{digest.hexdigest()[:20]}.o"
    if not obj.is_file():
        obj.parent.mkdir(parents=True, exist_ok=True)
        tmp = obj.with_suffix(f".{os.getpid()}.tmp")
        language = ["-x", "c++"] if source_file.suffix == ".ino" else []
        compile_command([compiler, *flags, "-c", *language, str(source_file), "-o", str(tmp)],
                        source_file.name)
        os.replace(tmp, obj)
    return obj


def stage(cache: Path, files: dict[str, str]) -> Path:
    """Return a folder in the cache holding ``files``, named by their content: the same
    sources always compile from the same path, so their objects come from the cache."""
    digest = hashlib.sha256(json.dumps(sorted(files.items())).encode()).hexdigest()[:20]
    folder = Path(cache) / "stage" / digest
    if not (folder / ".complete").is_file():
        write_files(folder, files)
        (folder / ".complete").write_text("")
    return folder


def headers_in(*folders: Path) -> list[Path]:
    """Return the .h files directly in ``folders``, sorted per folder."""
    return [p for folder in folders for p in sorted(folder.glob("*.h"))]


def link(target: str, objects: list[Path], lib: Library | None, out: Path,
         printf_float: bool) -> Path:
    """Link ``objects`` (and ``lib``, unless None) into the program ``out`` for ``target``,
    with a linker map beside it (``<out>.map``, read by :func:`measure.flash_by_origin`)."""
    build = cxx(target)
    flags = [f.format(templates=firmware.HARNESS_DIR) for f in build.link]
    if not printf_float and "_printf_float" in flags:
        at = flags.index("_printf_float")
        del flags[at - 1:at + 1]
    tmp = out.with_name(out.name + ".tmp")
    archives = [str(lib.path)] if lib is not None else []
    compile_command([build.link_driver, *build.arch, *flags, f"-Wl,-Map={out}.map", "-o",
                     str(tmp), *map(str, objects), *archives, "-lm"],
                    f"the link of {out.name}")
    os.replace(tmp, out)
    return out


def support_objects(target: str, src: Source) -> list[Path]:
    """Return the objects every program on a bare board needs (none on this PC): the vector
    table and start-up of deploy/harness/platform_m4.c and the C++ runtime of
    tflm_harness/cxx_runtime.cc."""
    if target == "host":
        return []
    build = cxx(target)
    c_flags = [*build.arch, "-O2", "-ffunction-sections", "-fdata-sections", *build.compile,
               "-I", str(firmware.HARNESS_DIR)]
    cxx_flags = [*build.arch, *CXX_FLAGS, *build.compile]
    return [
        cached_object(src.cache, get_target(target).compiler, c_flags,
                      firmware.HARNESS_DIR / f"platform_{target}.c",
                      headers_in(firmware.HARNESS_DIR), ""),
        cached_object(src.cache, build.compiler, cxx_flags, TFLM_HARNESS_DIR / "cxx_runtime.cc",
                      [], ""),
    ]
