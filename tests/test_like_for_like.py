"""Lesson 06's "TFLM or hand-written C?" measured like with like, checked against a fresh run.

benchmarks/tflm_vs_plain_c.py stores, beside the TFLM (reference kernels) and plain C (fast
paths) rows that tests/test_tflm_sketch.py checks, the rows that make the comparison fair: the
plain C over the course's reference kernels (TFLM's reference loops in C), TFLM with CMSIS-NN's
kernels (the vendored tflm-cmsis-nn tarball), and both plain-C builds on the simulated Uno. This
measures the sine model all those ways again on the same harness: every one gives the TFLM
Python runtime's codes on all 256 inputs, each build runs the kernels its label names, and the
stored rows (instructions under QEMU -icount, cycles under simavr, sizes) equal the fresh ones.

About 5 s with a warm build cache (build/tflm). Cold, the TFLM reference and CMSIS-NN libraries
for the M4 are built first: 70 s on two busy cores (2026-12, TFLM_CACHE set to an empty folder).
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import benchmark_script
import pytest

from tinyml_helpers import measurements
from tinyml_helpers.deploy import cmsis_nn, firmware, tflm_build
from tinyml_helpers.tooling import paths

M = tflm_build.measure
OPTIMIZED = "TFLM + CMSIS-NN"
NEW_KEYS = (M.PLAIN_REFERENCE, OPTIMIZED, "uno", "pairs", "labels", "optimized_kernels")


def _absent() -> str | None:
    return (tflm_build.unavailable("m4", paths.TFLM_TARBALL)
            or cmsis_nn.unavailable("m4", paths.cmsis_vendor())
            or ", ".join(firmware.missing_tools("uno")) or None)


if _absent():
    pytest.skip(_absent(), allow_module_level=True)


@pytest.fixture(scope="module")
def stored() -> dict:
    return measurements.load()


@pytest.fixture(scope="module")
def fresh(stored, tmp_path_factory) -> tuple[M.LikeForLike, dict, Path]:
    """The sine model measured again the benchmark's way (TFLM's reference arena: the stored
    minimum, which tests/test_tflm_sketch.py bisects again), its record and its builds."""
    build = tmp_path_factory.mktemp("like-for-like")
    bench = benchmark_script.load("tflm_vs_plain_c")
    result = bench.like_for_like(paths.TFLM_MODEL.read_bytes(), build,
                                 stored["arena"]["m4"]["size"], paths.tflm_source())
    record = M.like_for_like_record(result, {})
    return result, json.loads(json.dumps(record)), build


def test_every_build_gives_the_tflm_runtime_codes_on_every_input(fresh):
    result, _, _ = fresh
    sides = (result.tflm, result.plain_reference, result.tflm_optimized, result.plain,
             result.uno_reference, result.uno)
    for side in sides:
        assert side.cases == 256 and side.equal_rows == 256, side.name
        assert side.outputs_equal_tflm, side.name


def test_the_stored_like_for_like_rows_are_what_the_boards_measure_now(fresh, stored):
    _, record, _ = fresh
    for key in NEW_KEYS:
        assert stored[key] == record[key], \
            f"stored {key!r} is stale: rerun {measurements.TFLM_VS_PLAIN_C_COMMAND}"
    # the rows test_tflm_sketch.py checks with a bisected arena agree with these too
    for key in ("TFLM", "plain C", "board", "tflm", "cases"):
        assert stored[key] == record[key], key
    assert stored["command"] == measurements.TFLM_VS_PLAIN_C_COMMAND
    assert stored["pairs"] == {M.REFERENCE_PAIR: ["TFLM", M.PLAIN_REFERENCE],
                               M.OPTIMIZED_PAIR: [OPTIMIZED, "plain C"]}


def _disassembly(tool: str, elf) -> str:
    return subprocess.run([tool, "-d", str(elf)], capture_output=True, text=True,
                          check=True).stdout


def _symbols(tool: str, elf) -> str:
    return subprocess.run([tool, str(elf)], capture_output=True, text=True, check=True).stdout


def test_each_build_runs_the_kernels_its_label_names(fresh):
    """Reference means no fast path: no SMLAD in the plain C reference, no gathered AVR
    assembly on the Uno; optimized means CMSIS-NN's fully connected kernel with its SIMD."""
    _, _, build = fresh
    elf = {name: build / sub / f"sine_int8.{target}.elf" for name, sub, target in (
        ("reference", "plain-reference", "m4"), ("fast", "plain", "m4"),
        ("uno reference", "uno-reference", "uno"), ("uno fast", "uno-fast", "uno"))}
    smlad = {name: _disassembly("arm-none-eabi-objdump", elf[name]).count("\tsmlad")
             for name in ("reference", "fast")}
    assert smlad["reference"] == 0 < smlad["fast"]
    avr = {name: "tinyml_avr_dense" in _symbols("avr-nm", elf[name])
           for name in ("uno reference", "uno fast")}
    assert avr == {"uno reference": False, "uno fast": True}
    tflm_elves = sorted((build / "optimized").glob("tflm_bench_*.m4.elf"))
    assert tflm_elves, "the TFLM + CMSIS-NN program was not kept"
    # the glue's file names are the tree's (tflite-micro/...), so flash does not depend on
    # where the build cache is
    assert b"tflm-kernels-cmsis_nn" not in tflm_elves[0].read_bytes()
    linked = tflm_elves[0].with_name(tflm_elves[0].name + ".map").read_text(errors="replace")
    linked = linked[linked.index("Linker script and memory map"):]
    assert "arm_fully_connected_s8" in linked
    assert "\tsmlad" in _disassembly("arm-none-eabi-objdump", tflm_elves[0])
    reference_map = sorted(build.glob("tflm_bench_*.m4.elf.map"))
    assert reference_map and "arm_fully_connected_s8" not in reference_map[0].read_text()


def test_what_lesson_06_says_about_the_numbers(stored):
    """The prose of lesson 06, section 7, in numbers."""
    t, r = stored["TFLM"], stored[M.PLAIN_REFERENCE]
    o, p = stored[OPTIMIZED], stored["plain C"]
    interpreter = (t["instructions"] / r["instructions"], o["instructions"] / p["instructions"])
    tuning = (t["instructions"] / o["instructions"], r["instructions"] / p["instructions"])
    # like with like, TFLM costs about half again as many instructions with reference kernels,
    # less with tuned ones on both sides...
    assert 1.3 < interpreter[0] < 1.8 and 1.2 < interpreter[1] < interpreter[0], interpreter
    # ...because CMSIS-NN saves TFLM more than the fast paths save the plain C (which skip the
    # zero inputs of ReLUs that are off: few, now that every neuron of the model is live)
    assert tuning[0] > tuning[1] > 1.2, tuning
    # TFLM + CMSIS-NN lands where the plain C's reference loops are (within 5 %)
    assert abs(o["instructions"] / r["instructions"] - 1) < 0.05
    # mixing the pairs (TFLM reference against the tuned C) widens the gap beyond both
    assert t["instructions"] / p["instructions"] > max(interpreter) * 1.2
    # flash and RAM: a fraction in both pairs, whatever the kernels
    for a, b in ((t, r), (o, p)):
        assert a["flash"] > 20 * b["flash"] and a["ram"] > 5 * b["ram"]
    # on the Uno the fast paths are several times faster than the reference loops
    uno = stored["uno"]
    assert uno[M.PLAIN_REFERENCE]["cycles"] > 3 * uno["plain C"]["cycles"]
    table = M.like_for_like_table(stored)
    for pair in stored["pairs"]:
        assert f"{pair}, on the Cortex-M4F:" in table
    assert "a lower bound on cycles" in table and "TFLM does not run there" in table


def test_the_cmsis_nn_swap_can_name_its_files_as_the_tree_does():
    vendor = paths.cmsis_vendor()
    default = cmsis_nn.swap(("fully_connected",), vendor)
    tree = cmsis_nn.swap(("fully_connected",), vendor, tree_file_names=True)
    added = [f for f in tree.cxx_flags if f not in default.cxx_flags]
    assert len(added) == 1 and added[0].startswith("-fmacro-prefix-map=/")
    assert added[0].endswith("/tflm-kernels-cmsis_nn=tflite-micro")
    assert (tree.replace, tree.c_sources, tree.c_flags) == \
        (default.replace, default.c_sources, default.c_flags)
    with pytest.raises(TypeError, match="tree_file_names must be True or False"):
        cmsis_nn.swap(("fully_connected",), vendor, tree_file_names="yes")
