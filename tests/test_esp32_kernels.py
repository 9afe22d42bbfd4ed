"""Tests for tinyml_helpers.deploy.esp_nn: TFLM as the ESP32's Arduino core builds it (ESP-NN's
FULLY_CONNECTED and esp-nn's portable C), from the vendored esp-tflite-micro 1.3.3 and 1.4.0,
on this PC and on the Cortex-M4F (QEMU).

They prove, against the TFLM Python runtime: the per-channel sine model is wrong with 1.3.3 and
ESP-NN and right elsewhere, the TFLM sketch's per-tensor model is right in every build; the
sketch's self-test says so on boot (and catches a corrupted weight); the stored measurement
lesson 06 prints and the arena the build writes into model.h are what a fresh run gives.

The first run builds six TFLM libraries into build/tflm (a few minutes on two cores).
"""

import json
import platform
import re
from pathlib import Path

import numpy as np
import pytest

from tinyml_helpers import measurements, models, quantization, sine_projects
from tinyml_helpers.deploy import (
    dense,
    env,
    esp_nn,
    files,
    litert,
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
PER_CHANNEL = Path(sine_projects.INT8_NAME).stem
PER_TENSOR = Path(sine_projects.TFLM_NAME).stem
X86_64 = platform.machine().lower() in ("x86_64", "amd64")
VENDOR = paths.esp_vendor()  # ../shared/vendor, built into build/tflm

if esp_nn.unavailable("host", VENDOR):
    pytest.skip(esp_nn.unavailable("host", VENDOR), allow_module_level=True)


def _needs(target: str):
    reason = esp_nn.unavailable(target, VENDOR)
    if reason:
        pytest.skip(reason)


def _committed_arena() -> int:
    return int(re.search(r"kTensorArenaSize = (\d+);",
                         (TFLM_SKETCH / "model.h").read_text()).group(1))


def _build(tflm_version: str, esp_nn_kernel: bool) -> esp_nn.Build:
    return next(b for b in esp_nn.BUILDS if (b.tflm, b.esp_nn) == (tflm_version, esp_nn_kernel))


@pytest.fixture(scope="module")
def stored() -> dict:
    return measurements.load(measurements.ESP32_TFLM)


@pytest.fixture(scope="module")
def int8_models() -> dict[str, bytes]:
    return {PER_CHANNEL: (PLAIN / sine_projects.INT8_NAME).read_bytes(),
            PER_TENSOR: (TFLM_SKETCH / sine_projects.TFLM_NAME).read_bytes()}


@pytest.fixture(scope="module")
def tables(int8_models, tmp_path_factory) -> dict:
    out = {}
    for target in tflm_build.TARGETS:
        if esp_nn.unavailable(target, VENDOR) is None:
            rows = esp_nn.kernel_table(int8_models, tmp_path_factory.mktemp(f"table-{target}"),
                                       target, vendor=VENDOR)
            out[target] = esp_nn.table_record(rows, target)
    return out


@pytest.mark.parametrize("target", list(tflm_build.TARGETS))
def test_only_1_3_3_with_esp_nn_gets_the_per_channel_model_wrong(tables, target):
    _needs(target)
    rows = {(r["tflm"], r["kernel"].startswith("ESP-NN")): r for r in tables[target]["rows"]}
    assert len(rows) == 4 and tables[target]["cases"] == 256
    for (version, espnn), row in rows.items():
        assert row["equal"][PER_TENSOR] == 256, (version, espnn)
        if (version, espnn) == ("1.3.3", True):
            # the bug: one output code for every input
            assert row["equal"][PER_CHANNEL] < 8 and row["distinct"][PER_CHANNEL] == 1
        else:
            assert row["equal"][PER_CHANNEL] == 256, (version, espnn)


@pytest.mark.parametrize("target", list(tflm_build.TARGETS))
def test_the_stored_tables_are_what_a_fresh_run_gives(tables, stored, target):
    _needs(target)
    # Lesson 06 prints the stored tables: rerun benchmarks/esp32_tflm_kernels.py --write after
    # a change of the models or the library builds.
    assert stored["tables"][target] == json.loads(json.dumps(tables[target]))
    # the buggy build's per-channel count is the one the table sets in bold
    buggy = next(r for r in stored["tables"][target]["rows"]
                 if r["tflm"] == "1.3.3" and r["kernel"].startswith("ESP-NN"))
    text = esp_nn.table_markdown(stored["tables"][target])
    assert f"**{buggy['equal'][PER_CHANNEL]}/256**" in text and text.count("**") == 2


@pytest.fixture(scope="module")
def sketch(int8_models, tmp_path_factory) -> Path:
    """The hello_world_tflm folder as the build generates it from the committed models."""
    loaded = sine_projects.load_models((PLAIN / sine_projects.FLOAT_NAME).read_bytes(),
                                       int8_models[PER_CHANNEL], _committed_arena(),
                                       tflm_tflite=int8_models[PER_TENSOR])
    folder = tmp_path_factory.mktemp("sketch") / "hello_world_tflm"
    folder.mkdir()
    sketches = deploy_projects.by_folder(sine_projects.arduino_projects(loaded))
    files.write_files(folder, sketches["hello_world_tflm"])
    return folder


@pytest.mark.parametrize("build", esp_nn.BUILDS, ids=lambda b: f"{b.tflm}-{b.kernel[:6]}")
def test_the_tflm_sketch_passes_its_self_test_and_prints_right_in_every_build(sketch, build,
                                                                               int8_models,
                                                                               tmp_path):
    src, kernels = build.parts(VENDOR)
    # on this PC with a 64-bit arena (8-byte pointers need more than model.h's 32-bit number)
    run = tflm_build.check_sketch(sketch, "host", tmp_path, tflite=int8_models[PER_TENSOR],
                                  arena_size=4096, loops=4, src=src, swap=kernels)
    assert run.self_test == self_test.Result(True, 8, 8)


@pytest.mark.parametrize("build", [b for b in esp_nn.BUILDS if b.esp_nn],
                         ids=lambda b: b.tflm)
def test_on_a_32_bit_board_the_declared_arena_runs_the_esp_nn_builds(sketch, build, int8_models,
                                                                      tmp_path):
    _needs("m4")
    src, kernels = build.parts(VENDOR)
    # the arena model.h declares (checked against the stored plan below)
    run = tflm_build.check_sketch(sketch, "m4", tmp_path, tflite=int8_models[PER_TENSOR],
                                  arena_size=_committed_arena(), loops=3, src=src, swap=kernels)
    assert run.self_test.ok and run.arena == measurements.sketch_arena()[0]
    assert run.arena_used < run.arena


def test_the_per_channel_model_fails_the_self_test_with_1_3_3_and_esp_nn(int8_models, stored,
                                                                        tmp_path):
    models_ = sine_projects.Models((PLAIN / sine_projects.FLOAT_NAME).read_bytes(),
                                   int8_models[PER_CHANNEL],
                                   dense.float_layers_from_tflite(
                                   (PLAIN / sine_projects.FLOAT_NAME).read_bytes()),
                              dense.int8_layers(int8_models[PER_CHANNEL]), 4096,
                              tflm_graph=int8_models[PER_CHANNEL])
    folder = tmp_path / "hello_world_tflm"
    folder.mkdir()
    sketches = deploy_projects.by_folder(sine_projects.arduino_projects(models_))
    files.write_files(folder, sketches["hello_world_tflm"])
    build = _build("1.3.3", True)
    run = esp_nn.sketch_run(folder, build, "host", tmp_path / "b",
                            tflite=int8_models[PER_CHANNEL], arena_size=4096, vendor=VENDOR)
    cases = self_test.from_tflm(int8_models[PER_CHANNEL])
    got = np.full_like(cases.outputs, int(run.self_test.got))  # one code for every input
    assert not run.self_test.ok and run.self_test.failed_case == 1
    assert [line for line in run.lines if line.startswith("self-test:")][0] == \
        self_test.check(cases, got)[0]
    assert any("per-tensor" in line for line in run.self_test.advice)
    checks = [line for line in run.lines if line.startswith("self-test:")]
    assert stored["self_test"][f"{build.tflm} {build.kernel}"][PER_CHANNEL] == checks
    src, kernels = build.parts(VENDOR)
    with pytest.raises(tflm_build.TflmBuildError, match="self-test failed"):
        tflm_build.check_sketch(folder, "host", tmp_path / "c", tflite=int8_models[PER_CHANNEL],
                                arena_size=4096, src=src, swap=kernels)


def _corrupted(tflite: bytes) -> tuple[bytes, int]:
    """Return ``tflite`` with one weight of the last layer negated, and its index."""
    weights = dense.int8_layers(tflite).layers[-1].weights.reshape(-1)
    raw = weights.astype(np.int8).tobytes()
    assert tflite.count(raw) == 1, "the last layer's weights are not unique bytes in the file"
    index = int(np.argmax(np.abs(weights.astype(int))))
    changed = weights.copy()
    changed[index] = -changed[index]
    at = tflite.index(raw)
    return tflite[:at] + changed.astype(np.int8).tobytes() + tflite[at + len(raw):], index


@pytest.mark.parametrize("target", list(tflm_build.TARGETS))
def test_a_corrupted_weight_fails_the_self_test(sketch, int8_models, target, tmp_path):
    _needs(target)
    altered, _ = _corrupted(int8_models[PER_TENSOR])
    cases = self_test.from_tflm(int8_models[PER_TENSOR])
    got = tflm.run(altered, cases.inputs)
    assert not np.array_equal(got, cases.outputs), "the change must matter for some case"
    # the sketch (and its self-test cases) of the right model, built with the altered bytes
    program = tflm_build.build_sketch(sketch, target, tmp_path / "b", tflite=altered,
                                      arena_size=4096 if target == "host" else _committed_arena(),
                                      loops=2, src=paths.tflm_source())
    run = tflm_build.run_sketch(program, target)
    checks = [line for line in run.lines if line.startswith("self-test:")]
    assert checks[0] == self_test.check(cases, got)[0]
    assert not run.self_test.ok and len(run.self_test.advice) >= 1


def test_arena_is_the_smallest_over_the_builds_plus_the_margin(int8_models, stored, tmp_path):
    _needs("m4")
    plan = esp_nn.arena_plan(int8_models[PER_TENSOR], tmp_path, vendor=VENDOR)
    assert len(plan.minima) == 4 and all(0 < plan.used[k] <= v for k, v in plan.minima.items())
    assert plan.size >= max(plan.minima.values()) * (1 + esp_nn.ARENA_MARGIN)
    assert plan.size % 16 == 0 and plan.size < max(plan.minima.values()) * 1.3
    assert stored["arena"] == {"minima": plan.minima, "used": plan.used, "size": plan.size,
                               "margin": esp_nn.ARENA_MARGIN, "note": plan.note}
    header = (TFLM_SKETCH / "model.h").read_text()
    assert f"kTensorArenaSize = {plan.size};" in header
    assert measurements.sketch_arena() == (plan.size, plan.note)


@pytest.mark.skipif(not X86_64, reason="training numerics differ on arm64")
def test_the_stored_accuracy_cost_holds_for_seed_0():
    env.setup(0)
    model, split = models.trained_sine_model(0)
    representative = np.linspace(0, 2 * np.pi, 500, dtype=np.float32).reshape(-1, 1)
    per_channel = litert.convert(model, "int8", representative)
    per_tensor = litert.convert(model, "int8", representative, per_channel=False)
    cost = quantization.per_tensor_cost(per_channel, per_tensor, split.x_test)
    stored = measurements.load(measurements.PER_TENSOR_COST)["seeds"]
    assert json.loads(json.dumps(cost)) == stored["0"]
    assert cost["per_tensor"]["per_channel_layers"] == 0
    assert cost["per_channel"]["per_channel_layers"] == 2  # the last layer has one neuron
    assert per_channel == (PLAIN / sine_projects.INT8_NAME).read_bytes()
    assert per_tensor == (TFLM_SKETCH / sine_projects.TFLM_NAME).read_bytes()


def test_the_tflm_projects_refuse_a_per_channel_model(int8_models):
    float_tflite = (PLAIN / sine_projects.FLOAT_NAME).read_bytes()
    with pytest.raises(ValueError, match="per-channel Dense layers"):
        sine_projects.load_models(float_tflite, int8_models[PER_CHANNEL], 2048)
    with pytest.raises(ValueError, match="per-channel Dense layers"):
        sine_projects.load_models(float_tflite, int8_models[PER_CHANNEL], 2048,
                                  tflm_tflite=int8_models[PER_CHANNEL])
    with pytest.raises(TypeError, match="tflm_tflite"):
        sine_projects.load_models(float_tflite, int8_models[PER_CHANNEL], 2048, tflm_tflite="x")
    with pytest.raises(ValueError, match="per_tensor_tflite has per-channel"):
        quantization.per_tensor_cost(int8_models[PER_CHANNEL], int8_models[PER_CHANNEL],
                                     np.linspace(0, 6, 10))


def test_bad_arguments_are_refused(int8_models, tmp_path):
    with pytest.raises(ValueError, match="unknown esp-tflite-micro version"):
        esp_nn.tflm_source("9.9.9", VENDOR)
    with pytest.raises(ValueError, match="at least one"):
        esp_nn.kernel_table({}, tmp_path, vendor=VENDOR)
    with pytest.raises(ValueError, match="per_channel=False applies to int8"):
        litert.convert(None, "float32", per_channel=False)
    with pytest.raises(TypeError, match="per_channel must be True or False"):
        litert.convert(None, "int8", np.zeros((2, 1)), per_channel="no")


def test_missing_vendored_sources_are_named_in_one_line(monkeypatch, tmp_path):
    monkeypatch.setenv(esp_nn.VENDOR_ENV, str(tmp_path))
    reason = esp_nn.unavailable("host", VENDOR)  # the variable takes the place of the folder
    assert reason and "\n" not in reason and "esp-tflite-micro-1.3.3.tar.xz" in reason
    with pytest.raises(tflm_build.TflmUnavailable, match="is absent"):
        esp_nn.tflm_source("1.3.3", VENDOR)
    monkeypatch.delenv(esp_nn.VENDOR_ENV)
    assert "no folder given" in esp_nn.unavailable("host")  # the core has no default folder
