"""TensorFlow Lite Micro vs the hand-written (plain) C, like with like, on the same simulated
Cortex-M4F: the measured answer to "what trade-offs exist when choosing a manual
implementation over TF Lite?".

Lesson 01's int8 sine model runs four ways inside the same firmware harness
(tinyml_helpers/deploy/harness/harness.c) on QEMU's mps2-an386 with ``-icount shift=0``, over
all 256 input codes, every output equal to the TFLM Python runtime's:

- reference vs reference: TFLM with its reference kernels against the plain C over the course's
  reference kernels (``export.plain_c_files(..., kernels="reference")``, c/tinyml_ops.c: TFLM's
  reference loops in C, no SMLAD, no skipped inputs): the same loops with and without the
  interpreter;
- optimized vs optimized: TFLM with Arm's CMSIS-NN kernels (``deploy/cmsis_nn``, from
  ../shared/vendor/tflm-cmsis-nn-2026-08.tar.xz, the DSP paths of the M4) against the plain C's
  fast paths (c/tinyml_kernels.c: SMLAD, inputs at the zero point skipped), the course's kernel
  that the sketches use.

For each: flash and static RAM over the empty harness, the tensor arena (the smallest that works,
bisected; TFLM reference's is also confirmed with the hello_world_tflm sketch itself), stack,
instructions per inference (QEMU counts instructions: a lower bound on cycles), and TFLM's
one-time set-up (GetModel + resolver + interpreter + AllocateTensors). Both plain-C builds also
run on the simulated Uno (simavr, exact cycles); TFLM does not run there. TFLM is
esp-tflite-micro 1.4.0 (what the arduino-esp32 core 3.x ships), built from ../shared/vendor/ (or
``TFLM_SRC=``; tooling/paths.py) by tinyml_helpers.deploy.tflm_build.

Run: ``.venv/bin/python benchmarks/tflm_vs_plain_c.py [--model F.tflite]
[--sketch arduino/hello_world_tflm] [--no-host] [--write]``: the model defaults to the .tflite
the committed sketch is generated from (the lesson's per-tensor export). The first run builds
the TFLM libraries (about 4.5 minutes on two busy cores, cached in build/tflm); later runs take
about 10 s. With ``--write`` the measurement is stored (atomically) in
tinyml_helpers/measured/tflm_vs_plain_c.json, which lesson 06 prints and the build reads for
model.h's arena (tests/test_tflm_sketch.py and tests/test_like_for_like.py check it against a
fresh measurement).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

from tinyml_helpers import measurements
from tinyml_helpers.deploy import cmsis_nn, files, firmware, tflm_build
from tinyml_helpers.tooling import paths

OPTIMIZED = "TFLM + CMSIS-NN"  # the optimized TFLM's row in the record
REFERENCE = ("TFLM's own hello_world on QEMU, measured by hand: +22.3 KB flash, ~1.07 KB "
             "arena, ~5,200 instructions per Invoke (reference kernels)")


def like_for_like(tflite: bytes, build_dir: Path, arena, src) -> tflm_build.measure.LikeForLike:
    """Return the four M4 implementations and the two Uno builds of ``tflite``
    (:func:`tflm_build.measure.like_for_like`), TFLM's reference arena ``arena`` (an Arena or a
    byte count); the optimized TFLM is CMSIS-NN's from the vendored tarball."""
    vendor = paths.cmsis_vendor()
    # the glue's __FILE__ names as in a build inside a TFLM checkout, not this cache's path
    swap = cmsis_nn.swap_for(tflite, vendor, tree_file_names=True)
    return tflm_build.measure.like_for_like(
        tflite, build_dir, swap=swap, swap_src=cmsis_nn.tflm_source(vendor), arena=arena,
        src=src, optimized_name=OPTIMIZED,
        optimized_kernels=f"CMSIS-NN with TFLM's cmsis_nn kernels ({', '.join(swap.kernels)}) "
                          f"from {cmsis_nn.TARBALL}")


def main(argv: list[str]) -> int:
    """Measure and print the table; return 1 if something is missing or a check failed."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", type=Path, default=paths.TFLM_MODEL,
                        help="the int8 .tflite measured")
    parser.add_argument("--sketch", type=Path, default=paths.SKETCH_DIR,
                        help="the TFLM sketch folder that confirms the arena (built with "
                             "the model)")
    parser.add_argument("--no-host", action="store_true",
                        help="skip the 64-bit host arena (saves ~20 s)")
    parser.add_argument("--write", action="store_true",
                        help=f"store the result in {measurements.TFLM_VS_PLAIN_C}")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    vendor = paths.cmsis_vendor()
    missing_uno = firmware.missing_tools("uno")
    reason = (tflm_build.unavailable("m4", paths.TFLM_TARBALL) or cmsis_nn.unavailable("m4", vendor)
              or (f"{', '.join(missing_uno)} not found; {firmware.install_hint('uno')}"
                  if missing_uno else None))
    if reason:
        print(f"cannot measure: {reason}", file=sys.stderr)
        return 1
    tflite = args.model.read_bytes()
    try:
        src = paths.tflm_source()
        with tempfile.TemporaryDirectory(prefix="tflm-vs-c-") as tmp:
            arena = tflm_build.arena_minimum("m4", tflite, args.sketch, src=src,
                                             build_dir=Path(tmp) / "arena")
            host = None if args.no_host or tflm_build.unavailable("host", paths.TFLM_TARBALL) \
                else tflm_build.arena_minimum("host", tflite, args.sketch, src=src,
                                              build_dir=Path(tmp) / "host")
            result = like_for_like(tflite, Path(tmp) / "m4", arena, src)
    except (firmware.FirmwareError, tflm_build.TflmUnavailable) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    arenas = {"m4": arena, **({"host": host} if host is not None else {})}
    record = tflm_build.measure.like_for_like_record(result, arenas)
    record["command"] = measurements.TFLM_VS_PLAIN_C_COMMAND
    print(tflm_build.measure.like_for_like_table(record))
    if args.write:
        if host is None:
            parser.error("--write needs the host arena too (drop --no-host)")
        text = json.dumps(record, indent=1, ensure_ascii=False) + "\n"
        files.write_files(measurements.FOLDER, {measurements.TFLM_VS_PLAIN_C.name: text})
        print(f"wrote {measurements.TFLM_VS_PLAIN_C}")
    print(f"\nSmallest arena: {arena.size:,} B on the Cortex-M4F ({arena.used:,} B used), "
          f"{arena.provenance}" + ("; the sketch runs with it and fails one byte below"
                                   if arena.sketch_confirmed else ""))
    if host is not None:
        print(f"                {host.size:,} B on this 64-bit PC ({host.used:,} B used), "
              f"{host.provenance}")
    print(f"Reference: {REFERENCE}.")
    t, r = result.tflm, result.plain_reference
    o, p = result.tflm_optimized, result.plain
    print("\nWhere the instructions go (per inference, on the M4):")
    print(f"- the interpreter: TFLM runs the same reference loops as the plain C in "
          f"{t.instructions - r.instructions:,.0f} more instructions "
          f"({t.instructions / r.instructions:.2f}x); with tuned kernels on both sides "
          f"{o.instructions - p.instructions:,.0f} more ({o.instructions / p.instructions:.2f}x)")
    print(f"- the kernels: CMSIS-NN takes TFLM from {t.instructions:,.0f} to "
          f"{o.instructions:,.0f} ({t.instructions / o.instructions:.2f}x), the fast paths take "
          f"the plain C from {r.instructions:,.0f} to {p.instructions:,.0f} "
          f"({r.instructions / p.instructions:.2f}x)")
    if result.uno is not None:
        u, ur = result.uno, result.uno_reference
        print(f"- on the Uno the fast paths (inputs at the zero point skipped, AVR assembly "
              f"multiply-accumulate) take the plain C from {ur.instructions:,.0f} to "
              f"{u.instructions:,.0f} cycles ({ur.instructions / u.instructions:.2f}x); both "
              "requantize with the course's tinyml_requantize, whose 32x32-bit multiply is "
              "AVR assembly")
    print(f"TFLM also costs {t.setup_instructions:,} (reference) / {o.setup_instructions:,} "
          "(CMSIS-NN) instructions once at start-up; in exchange the same interpreter runs any "
          "model made of the ops it registers, read from a flatbuffer.")
    print(f"total {time.perf_counter() - start:.0f} s")
    ok = [side.outputs_equal_tflm for side in (t, r, o, p, result.uno, result.uno_reference)
          if side is not None]
    return 0 if all(ok) else 1

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
