"""Build TensorFlow Lite Micro from source, run TFLM programs on this PC and on a simulated
Cortex-M4F, and measure what TFLM costs next to the plain-C model.

The ``hello_world_tflm`` sketch targets an ESP32 with the arduino-esp32 core 3.x, whose
"TFLite Micro" library is Espressif's esp-tflite-micro component. No ESP32 toolchain is
available offline, so this package proves a sketch the next best way: it compiles the same
TFLM sources (reference kernels, ``-DTF_LITE_STATIC_MEMORY``) into a static library, compiles
the sketch with a small Arduino stand-in (``arduino_shim/``), and runs it on the boards of
:mod:`boards` that carry C++ builds:

* ``"host"`` — this PC (``g++``, 64-bit pointers);
* ``"m4"``   — a Cortex-M4F (``arm-none-eabi-g++``, newlib-nano, semihosting) run by
  ``qemu-system-arm -M mps2-an386 -icount shift=0`` (32-bit pointers, the arena a 32-bit
  board needs). Besides :mod:`firmware`'s packages this needs the C++ headers for
  arm-none-eabi (the few runtime functions are in ``tflm_harness/cxx_runtime.cc``).

Any int8 model :mod:`graph` reads can be built: its operators choose the kernels linked and the
op resolver of the bench program (:mod:`.kernels`). The caller hands over the model as bytes
and names the TFLM tree; the core knows no checkout (the course's folders are in
``tinyml_helpers/tooling/paths.py``).

Modules, by job:

* :mod:`.source`  — the TFLM tree (a checkout, a tarball unpacked once, or ``$TFLM_SRC``), its
  cache, the boards that build C++ and their tools;
* :mod:`.library` — the library's sources and flags, the static library, kernel swaps
  (replacements from the tree or from outside it: ESP-NN, CMSIS-NN), the object cache and the
  link;
* :mod:`.kernels` — a model's operators -> TFLM kernels and ``MicroMutableOpResolver`` calls;
* :mod:`.sketch`  — a sketch built with the Arduino stand-in, run, and its Serial output read;
* :mod:`.bench`   — any int8 model under TFLM inside the firmware harness;
* :mod:`.arena`   — the smallest tensor arena, bisected (and confirmed with a sketch);
* :mod:`.measure` — any int8 model under TFLM (reference or swapped kernels) and any plain-C
  model measured the same way on the same Cortex-M4F, side by side;
* :mod:`.cli`     — ``python -m tinyml_helpers.deploy.tflm_build run|arena|library ...``.
"""

from .arena import Arena, arena_for_tflite, arena_minimum, board_arena_size, probe_arena
from .bench import BenchLine, build_bench, parse_bench_line, random_rows
from .cli import main
from .kernels import (
    INT8_REGISTRATIONS,
    OPS,
    int8_kinds,
    kernels_for,
    model_ops,
    resolver_header,
)
from .library import (
    BUILD_VERSION,
    CXX_FLAGS,
    KernelSwap,
    Library,
    include_flags,
    library,
    library_sources,
)
from .measure import (
    Implementation,
    SideBySide,
    flash_by_origin,
    plain_implementation,
    side_by_side,
    side_by_side_record,
    side_by_side_table,
    tflm_implementation,
)
from .sketch import (
    DEFAULT_LOOPS,
    DEFAULT_TIMEOUT_S,
    SketchRun,
    build_sketch,
    check_sketch,
    compile_sketch,
    expected_rows,
    model_files,
    parse_serial,
    run_sketch,
    sketch_flags,
    sketch_x,
)
from .source import (
    CACHE_ENV,
    JOBS_ENV,
    SOURCE_ENV,
    TARGETS,
    Source,
    TflmBuildError,
    TflmUnavailable,
    cache_dir,
    get_target,
    locate,
    missing_tools,
    require,
    source,
    source_problem,
    unavailable,
    unpack,
)

__all__ = [
    "BUILD_VERSION", "CACHE_ENV", "CXX_FLAGS", "DEFAULT_LOOPS", "DEFAULT_TIMEOUT_S",
    "INT8_REGISTRATIONS", "JOBS_ENV", "OPS", "SOURCE_ENV", "TARGETS", "Arena", "BenchLine",
    "Implementation", "KernelSwap", "Library", "SideBySide", "SketchRun", "Source",
    "TflmBuildError", "TflmUnavailable", "arena_for_tflite", "arena_minimum", "board_arena_size",
    "build_bench", "build_sketch", "cache_dir", "check_sketch", "compile_sketch", "expected_rows",
    "flash_by_origin", "get_target", "include_flags", "int8_kinds", "kernels_for", "library",
    "library_sources", "locate", "main", "missing_tools", "model_files", "model_ops",
    "parse_bench_line", "parse_serial", "plain_implementation", "probe_arena", "random_rows",
    "require", "resolver_header", "run_sketch", "side_by_side", "side_by_side_record",
    "side_by_side_table", "sketch_flags", "sketch_x", "source", "source_problem",
    "tflm_implementation", "unavailable", "unpack",
]
