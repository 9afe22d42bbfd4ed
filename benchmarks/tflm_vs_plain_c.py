"""TensorFlow Lite Micro vs the hand-written (plain) C, side by side on the same simulated
Cortex-M4F: the measured answer to "what trade-offs exist when choosing a manual
implementation over TF Lite?".

Both run lesson 01's int8 sine model inside the same firmware harness
(tinyml_helpers/deploy/harness/harness.c) on QEMU's mps2-an386 with ``-icount shift=0``, over
all 256 input codes: flash and static RAM over the empty harness, TFLM's tensor arena (the
smallest that works on this 32-bit core, bisected, and confirmed with the hello_world_tflm
sketch itself), stack, instructions per inference, and TFLM's one-time set-up (GetModel +
resolver + interpreter + AllocateTensors). TFLM is esp-tflite-micro 1.4.0 (what the
arduino-esp32 core 3.x ships) with its reference kernels, built from
../shared/vendor/ (or ``TFLM_SRC=``; tooling/paths.py) by tinyml_helpers.deploy.tflm_build.

Run: ``.venv/bin/python benchmarks/tflm_vs_plain_c.py [--model F.tflite]
[--sketch arduino/hello_world_tflm] [--no-host]``: the model defaults to the .tflite the
committed sketch is generated from (the lesson's per-tensor export). The first run builds the
TFLM library (a few minutes on two cores, cached in build/tflm). With ``--write`` the
measurement is stored in tinyml_helpers/measured/tflm_vs_plain_c.json, which lesson 06 prints
and the build reads for model.h's arena (tests/test_tflm_sketch.py checks it against a fresh
measurement).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

from tinyml_helpers import measurements
from tinyml_helpers.deploy import files, firmware, tflm_build
from tinyml_helpers.tooling import paths

REFERENCE = ("TFLM's own hello_world on QEMU, measured by hand: +22.3 KB flash, ~1.07 KB "
             "arena, ~5,200 instructions per Invoke (reference kernels)")


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
    reason = tflm_build.unavailable("m4", paths.TFLM_TARBALL)
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
            result = tflm_build.side_by_side(tflite, Path(tmp) / "m4", arena=arena, src=src)
    except firmware.FirmwareError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    arenas = {"m4": arena, **({"host": host} if host is not None else {})}
    record = tflm_build.side_by_side_record(result, arenas)
    print(tflm_build.side_by_side_table(record))
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
    t, p = result.tflm, result.plain
    print(f"\nTFLM costs {t.flash - p.flash:,} B more flash, {t.ram - p.ram:,} B more RAM and "
          f"{t.instructions / p.instructions:.1f}x the instructions per inference, plus "
          f"{t.setup_instructions:,} instructions once at start-up; in exchange the same "
          "interpreter runs any model made of the ops it registers, read from a flatbuffer.")
    return 0 if t.outputs_equal_tflm and p.outputs_equal_tflm else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
