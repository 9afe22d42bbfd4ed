"""Tests for tinyml_helpers.deploy.tflm_build: the hello_world_tflm sketch, built with a small
Arduino stand-in against the TFLM sources the arduino-esp32 core 3.x ships
(esp-tflite-micro 1.4.0), runs on this PC and on a Cortex-M4F (QEMU) and prints exactly the
plain-C / TFLM-runtime predictions; its ESP32 core guard fires, and a build without
-DTF_LITE_STATIC_MEMORY still computes right; its smallest arena on a 32-bit board is
measured; TFLM and the plain C are measured side by side on the same M4.

The first run builds the TFLM library for both targets into build/tflm (a few minutes on two
cores); later runs reuse it and the compiled objects.
"""

import json
import os
import re
from pathlib import Path

import numpy as np
import pytest

from tinyml_helpers import measurements, sine_projects
from tinyml_helpers.deploy import (
    dense,
    files,
    firmware,
    self_test,
    tflm,
    tflm_build,
)
from tinyml_helpers.deploy import (
    projects as deploy_projects,
)
from tinyml_helpers.tooling import paths

PLAIN = paths.ARDUINO_DIR / "hello_world_plain"
TFLM_SKETCH = paths.SKETCH_DIR

if tflm_build.source_problem(paths.TFLM_TARBALL):
    pytest.skip(tflm_build.source_problem(paths.TFLM_TARBALL), allow_module_level=True)

# The arena of the host runs: a PC's 8-byte pointers need more than a 32-bit board's number,
# which model.h may hold.
HOST_ARENA = 4096


def _committed_arena() -> int:
    return int(re.search(r"kTensorArenaSize = (\d+);",
                         (TFLM_SKETCH / "model.h").read_text()).group(1))


def _needs(target: str):
    reason = tflm_build.unavailable(target, paths.TFLM_TARBALL)
    if reason:
        pytest.skip(reason)


@pytest.fixture(scope="module")
def src() -> tflm_build.Source:
    """The vendored esp-tflite-micro 1.4.0 (or $TFLM_SRC), unpacked into build/tflm."""
    return paths.tflm_source()


@pytest.fixture(scope="module")
def sketch(tmp_path_factory) -> Path:
    """The hello_world_tflm folder as `make build` generates it from the committed models and
    the current template (the committed copy may predate a template change)."""
    models = sine_projects.load_models(
        (PLAIN / sine_projects.FLOAT_NAME).read_bytes(),
        (PLAIN / sine_projects.INT8_NAME).read_bytes(), _committed_arena(),
        tflm_tflite=(TFLM_SKETCH / sine_projects.TFLM_NAME).read_bytes())
    folder = tmp_path_factory.mktemp("sketch") / "hello_world_tflm"
    folder.mkdir()
    sketches = deploy_projects.by_folder(sine_projects.arduino_projects(models))
    files.write_files(folder, sketches["hello_world_tflm"])
    return folder


@pytest.fixture(scope="module")
def int8_tflite() -> bytes:
    """The model the sketch runs: the committed per-tensor .tflite it is generated from."""
    return (TFLM_SKETCH / sine_projects.TFLM_NAME).read_bytes()


@pytest.fixture(scope="module")
def runs(sketch, int8_tflite, src, tmp_path_factory) -> dict:
    """{target: SketchRun} of the sketch, checked row by row against the plain-C arithmetic;
    on the M4 with the arena the committed model.h declares."""
    out = {}
    for target in tflm_build.TARGETS:
        if tflm_build.unavailable(target, paths.TFLM_TARBALL) is None:
            out[target] = tflm_build.check_sketch(
                sketch, target, tmp_path_factory.mktemp(target), tflite=int8_tflite,
                arena_size=HOST_ARENA if target == "host" else _committed_arena(), src=src)
    return out


@pytest.mark.parametrize("target", list(tflm_build.TARGETS))
def test_sketch_prints_the_plain_c_and_tflm_runtime_predictions(runs, int8_tflite, target):
    _needs(target)
    run = runs[target]
    assert run.ok and len(run.rows) == sine_projects.STEPS
    assert run.self_test == self_test.Result(True, 8, 8)
    assert run.printed() == tflm_build.expected_rows(int8_tflite)
    # What the plain-C sketch's arithmetic gives (sine_projects.int8_predictions)...
    model = dense.int8_layers(int8_tflite)
    x = sine_projects.sketch_x()
    assert np.array_equal(tflm_build.sketch_x(), x)
    plain = sine_projects.int8_predictions(model, x)
    assert [row["y"] for row in run.rows] == [f"{y:.3f}" for y in plain]
    # ...and the TFLM Python runtime on the same int8 codes.
    codes = tflm.run(int8_tflite, model.quantize(x).reshape(-1, 1))
    assert [row["y"] for row in run.rows] == [f"{y:.3f}" for y in model.dequantize(codes)[:, 0]]
    assert run.arena == (HOST_ARENA if target == "host" else _committed_arena())


def test_host_and_m4_print_the_same_lines(runs):
    _needs("host")
    _needs("m4")
    assert runs["host"].printed() == runs["m4"].printed()
    # Pointers are 8 bytes on the PC, 4 on the M4: the M4 uses less arena.
    assert runs["m4"].arena_used < runs["host"].arena_used


@pytest.mark.parametrize("target", list(tflm_build.TARGETS))
def test_tflm_in_the_firmware_harness_equals_the_runtime_on_every_code(int8_tflite, src, target,
                                                                       tmp_path):
    _needs(target)
    codes = np.arange(-128, 128, dtype=np.int8).reshape(-1, 1)
    elf = tflm_build.build_bench(target, int8_tflite, codes, tmp_path, arena_size=4096, src=src)
    result = firmware.run(target, elf)
    assert np.array_equal(result.outputs, tflm.run(int8_tflite, codes))
    line = tflm_build.parse_bench_line(result.text.splitlines())
    assert line is not None and line.arena == 4096 and line.arena_used > 0


@pytest.fixture(scope="module")
def arenas(sketch, int8_tflite, src, tmp_path_factory) -> dict:
    """{target: Arena}, bisected and confirmed with the sketch itself."""
    return {target: tflm_build.arena_minimum(target, int8_tflite, sketch, src=src,
                                             build_dir=tmp_path_factory.mktemp(f"arena-{target}"))
            for target in tflm_build.TARGETS
            if tflm_build.unavailable(target, paths.TFLM_TARBALL) is None}


@pytest.mark.parametrize("target", list(tflm_build.TARGETS))
def test_smallest_arena_is_measured_and_confirmed_with_the_sketch(arenas, target):
    _needs(target)
    arena = arenas[target]
    assert arena.sketch_confirmed and 0 < arena.used <= arena.size
    assert "esp-tflite-micro 1.4.0" in arena.provenance or \
        tflm_build.locate(paths.TFLM_TARBALL)[0] == "checkout"


def test_a_32_bit_board_needs_a_smaller_arena_than_this_pc(arenas):
    _needs("host")
    _needs("m4")
    assert arenas["m4"].size < arenas["host"].size
    assert arenas["m4"].provenance.startswith("measured on Cortex-M4F (QEMU) with ")


def test_a_build_without_tf_lite_static_memory_still_prints_the_right_numbers(sketch, int8_tflite,
                                                                              src, tmp_path):
    # Without the flag the headers would describe another TfLiteTensor than the library's and
    # the sketch would print garbage; the sketch defines it itself before including them.
    _needs("host")
    run = tflm_build.check_sketch(sketch, "host", tmp_path, tflite=int8_tflite,
                                  arena_size=HOST_ARENA, static_memory=False, src=src)
    assert run.ok and len(run.rows) == sine_projects.STEPS


def test_guard_against_an_esp32_core_without_tflite_micro(sketch, src):
    _needs("host")
    done = tflm_build.compile_sketch(sketch, "host", src,
                                     defines={"ESP_ARDUINO_VERSION_MAJOR": 4})
    assert done.returncode != 0
    assert "needs the arduino-esp32 core 3.x" in done.stderr


def test_side_by_side_on_the_same_m4(int8_tflite, arenas, src, tmp_path):
    _needs("m4")
    result = tflm_build.side_by_side(int8_tflite, tmp_path, arena=arenas["m4"], src=src)
    t, p = result.tflm, result.plain
    assert t.outputs_equal_tflm and p.outputs_equal_tflm
    assert t.flash > 10 * p.flash and t.instructions > p.instructions > 0
    assert t.setup_instructions > t.instructions and t.arena == arenas["m4"].size
    assert abs(t.baseline_flash - p.baseline_flash) < 256  # the same empty harness
    assert t.flash_parts["TFLM library"] > 10_000 and t.flash_parts["model"] == len(int8_tflite)
    assert abs(sum(t.flash_parts.values()) - t.flash) < 256  # the parts add up
    record = tflm_build.side_by_side_record(result, arenas)
    table = tflm_build.side_by_side_table(record)
    assert "instructions per inference" in table and f"{t.arena:,}" in table
    # What lesson 06 prints and model.h's arena come from the stored measurement: it must be
    # what this run measured (rerun benchmarks/tflm_vs_plain_c.py --write after a change). The
    # like-with-like rows stored beside these are checked by tests/test_like_for_like.py.
    stored = measurements.load()
    assert {key: stored.get(key) for key in record} == json.loads(json.dumps(record)), \
        "stored measurement is stale"
    assert measurements.board_arena() == (arenas["m4"].size, arenas["m4"].provenance)


def test_library_comes_from_the_cache_the_second_time(int8_tflite, src):
    _needs("host")
    kernels = tflm_build.kernels_for(tflm_build.model_ops(int8_tflite))
    assert kernels == ("fully_connected",)  # the sine model is three FULLY_CONNECTED ops
    first = tflm_build.library("host", kernels, src=src)
    again = tflm_build.library("host", kernels, src=src)
    assert again.path == first.path and not again.built
    assert again.path.is_relative_to(paths.TFLM_CACHE) or tflm_build.CACHE_ENV in os.environ


def test_missing_sources_are_named_in_one_line(monkeypatch, tmp_path):
    monkeypatch.delenv(tflm_build.SOURCE_ENV, raising=False)
    absent = tmp_path / "absent.tar.xz"
    reason = tflm_build.unavailable("host", absent)
    assert reason and "\n" not in reason and "absent.tar.xz" in reason
    with pytest.raises(tflm_build.TflmUnavailable, match="no TensorFlow Lite Micro sources"):
        tflm_build.source(absent)
    with pytest.raises(tflm_build.TflmUnavailable, match="no TensorFlow Lite Micro sources"):
        tflm_build.source()  # the core has no default tree
    monkeypatch.setenv(tflm_build.SOURCE_ENV, str(tmp_path))
    assert "not a tflite-micro tree" in tflm_build.source_problem(absent)
    with pytest.raises(tflm_build.TflmUnavailable, match="not a tflite-micro tree"):
        tflm_build.source()


def test_a_sketch_takes_its_model_and_arena_together(sketch, int8_tflite, src, tmp_path):
    with pytest.raises(ValueError, match="together"):
        tflm_build.build_sketch(sketch, "host", tmp_path, arena_size=HOST_ARENA, src=src)
    with pytest.raises(ValueError, match="together"):
        tflm_build.build_sketch(sketch, "host", tmp_path, tflite=int8_tflite, src=src)
