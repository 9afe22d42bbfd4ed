"""Tests for tinyml_helpers.deploy.projects and tinyml_helpers.deploy.toolchains: the committed
arduino/ and wokwi/ folders are exactly what the generator makes from their own .tflite files,
generation is atomic, and the plain-C sketches (sine model, fan anomaly detector) build and run
for the Arduino Uno (arduino-builder, simavr)."""

import dataclasses
import os
import re
import shutil
import subprocess
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from c_array import read_c_array

from tinyml_helpers import digits_projects, fan_detector, measurements, sine_projects
from tinyml_helpers.deploy import (
    cgen,
    dense,
    export,
    files,
    micropython,
    self_test,
    tflm,
    tflm_build,
    toolchains,
)
from tinyml_helpers.deploy import projects as deploy_projects

ROOT = Path(__file__).resolve().parents[1]
ARDUINO, WOKWI = ROOT / "arduino", ROOT / "wokwi"
PLAIN = ARDUINO / "hello_world_plain"
FAN = ARDUINO / fan_detector.ARDUINO_FOLDER
SINE_PROJECTS = [ARDUINO / p for p in sine_projects.ARDUINO_PROJECTS if "hello" in p] + \
    [WOKWI / p for p in sine_projects.WOKWI_PROJECTS if "hello" in p]
FAN_PROJECTS = [FAN] + [WOKWI / p for p in fan_detector.WOKWI_FOLDERS]
NO_BUILDER = not toolchains.have("arduino-builder")
NEEDS_BUILDER = pytest.mark.skipif(
    NO_BUILDER, reason="arduino-builder not installed (apt-get install arduino-builder "
                       "arduino-core-avr gcc-avr avr-libc; or python -m "
                       "tinyml_helpers.deploy.toolchains install as root)")
NEEDS_SIMAVR = pytest.mark.skipif(
    not toolchains.have("simavr"), reason="simavr not installed (apt-get install simavr)")


def _committed_models() -> tuple[bytes, bytes, int, bytes]:
    """Return (float .tflite, int8 .tflite, the TFLM sketch's arena, its per-tensor .tflite)."""
    tflm = ARDUINO / "hello_world_tflm"
    arena = re.search(r"kTensorArenaSize = (\d+);", (tflm / "model.h").read_text(encoding="utf-8"))
    return ((PLAIN / sine_projects.FLOAT_NAME).read_bytes(),
            (PLAIN / sine_projects.INT8_NAME).read_bytes(), int(arena.group(1)),
            (tflm / sine_projects.TFLM_NAME).read_bytes())


def _tree(root: Path) -> dict[str, bytes]:
    """Return {relative path: bytes} of the generated files (firmware binaries excluded)."""
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file() and deploy_projects.WOKWI_BUILD not in p.relative_to(root).parts[1:-1]}


@pytest.fixture(scope="module")
def models():
    return _committed_models()


@pytest.fixture(scope="module")
def committed_fan():
    """The fan detector the committed fan projects were generated from."""
    return fan_detector.load(FAN)


@pytest.fixture(scope="module")
def generated(models, committed_fan, tmp_path_factory):
    out = tmp_path_factory.mktemp("generated")
    float_tflite, int8_tflite, arena, tflm_tflite = models
    digits = digits_projects.projects(
        digits_projects.load(ARDUINO / digits_projects.ARDUINO_FOLDER))
    sine_projects.generate(float_tflite, int8_tflite, out / "arduino", out / "wokwi", arena,
                           compile_uno=False, fan=fan_detector.projects(committed_fan),
                           arena_note=measurements.sketch_arena()[1], tflm_tflite=tflm_tflite,
                           digits=digits)
    return out


def test_model_h_holds_the_arena_measured_on_a_32_bit_board(models):
    # What the build writes (tinyml_helpers/measured, checked by tests/test_tflm_sketch.py).
    assert models[2] == measurements.sketch_arena()[0]
    note = " ".join(measurements.sketch_arena()[1].split())
    assert note in " ".join((ARDUINO / "hello_world_tflm" / "model.h").read_text().replace(
        "//", " ").split())


# --- the committed projects are reproducible ------------------------------------------------------

@pytest.mark.parametrize("kind", ["arduino", "wokwi"])
def test_regenerating_gives_byte_identical_projects(generated, kind):
    committed, fresh = _tree(ROOT / kind), _tree(generated / kind)
    assert sorted(committed) == sorted(fresh)
    changed = [name for name in committed if committed[name] != fresh[name]]
    assert not changed, f"regenerate with `make build`; stale files: {changed}"


ALL_ARDUINO = (*sine_projects.ARDUINO_PROJECTS, fan_detector.ARDUINO_FOLDER,
               digits_projects.ARDUINO_FOLDER)
ALL_WOKWI = (*sine_projects.WOKWI_PROJECTS, *fan_detector.WOKWI_FOLDERS,
             *digits_projects.WOKWI_FOLDERS)


def test_project_folders_and_sketch_names():
    assert sorted(p.name for p in ARDUINO.iterdir() if p.is_dir()) == sorted(ALL_ARDUINO)
    for folder in ALL_ARDUINO:
        inos = [p.name for p in (ARDUINO / folder).glob("*.ino")]
        assert inos == [f"{folder}.ino"], "Arduino needs the .ino named after its folder"
    assert sorted(p.name for p in WOKWI.iterdir() if p.is_dir()) == sorted(ALL_WOKWI)
    for folder in ALL_WOKWI:
        if folder == micropython.PROJECT:  # MicroPython: no sketch, nothing to compile
            for name in ("diagram.json", "main.py", "model_int8.py", "README.md"):
                assert (WOKWI / folder / name).is_file()
            continue
        assert [p.name for p in (WOKWI / folder).glob("*.ino")] == ["sketch.ino"]
        for name in ("diagram.json", "libraries.txt", "wokwi.toml", "README.md"):
            assert (WOKWI / folder / name).is_file()


def test_every_generated_text_file_starts_with_a_banner():
    files = [p for p in sorted(ARDUINO.rglob("*")) + sorted(WOKWI.rglob("*")) if p.is_file()
             and p.suffix not in (".tflite", ".json", ".hex", ".elf")]
    assert len(files) > 40
    for path in files:
        first = path.read_text(encoding="utf-8").splitlines()[0]
        assert "generated by tinyml_helpers" in first and "Change it and try it" in first, path
        if path.suffix == ".md":
            assert first.startswith("<!--") and first.endswith("-->"), path
        elif path.suffix in (".txt", ".toml", ".yaml", ".py"):
            assert first.startswith("# "), path
        else:
            assert first.startswith("// "), path


def test_each_project_keeps_the_models_it_was_made_from(models):
    float_tflite, int8_tflite, arena, tflm_tflite = models
    assert isinstance(dense.layers_from_tflite(int8_tflite), dense.Int8Model)
    assert isinstance(dense.layers_from_tflite(float_tflite), list)
    assert sine_projects.per_channel_layers(tflm_tflite) == [] and \
        sine_projects.per_channel_layers(int8_tflite) == [1, 2]
    for folder in SINE_PROJECTS:
        if "tflm" in folder.name:
            assert (folder / sine_projects.TFLM_NAME).read_bytes() == tflm_tflite
            assert not (folder / sine_projects.INT8_NAME).exists()
        else:
            assert (folder / sine_projects.INT8_NAME).read_bytes() == int8_tflite
        if "plain" in folder.name:
            assert (folder / sine_projects.FLOAT_NAME).read_bytes() == float_tflite
    for folder in (ARDUINO / "hello_world_tflm", WOKWI / "esp32_hello_world_tflm"):
        assert read_c_array((folder / "model.cpp").read_text()) == tflm_tflite
        assert f"kTensorArenaSize = {arena};" in (folder / "model.h").read_text()


def test_fan_projects_keep_the_detector_they_were_made_from(committed_fan):
    for folder in FAN_PROJECTS:
        for name in (fan_detector.TFLITE_NAME, fan_detector.JSON_NAME):
            assert (folder / name).read_bytes() == (FAN / name).read_bytes(), folder / name
    header = (FAN / "fan_detector_config.h").read_text(encoding="utf-8")
    assert f"FAN_DETECTOR_THRESHOLD {cgen.float_literal(committed_fan.threshold)}" in header
    sketch = (FAN / "fan_anomaly.ino").read_text(encoding="utf-8").split("\n", 1)[1]
    for project in fan_detector.WOKWI_FOLDERS:  # the same sketch, under its project's name
        other = (WOKWI / project / "sketch.ino").read_text(encoding="utf-8").split("\n", 1)[1]
        assert other.replace(project, fan_detector.ARDUINO_FOLDER) == sketch


def test_fan_readmes_show_the_reference_output_credit_the_data_and_quote_the_budget(
        fresh, committed_fan):
    """The fan READMEs as the generator writes them now (the committed ones are checked
    against these by test_regenerating_gives_byte_identical_projects)."""
    counts, labels = fan_detector.sample_windows()
    ref = fan_detector.reference(committed_fan, fan_detector.from_counts(counts))
    budget = fan_detector.live_budget()
    uno = next(b for b in budget["boards"] if b["board"] == "uno")
    m4 = next(b for b in budget["boards"] if b["board"] == "m4")
    names = [fan_detector.ARDUINO_FOLDER, *fan_detector.WOKWI_FOLDERS]
    for name in names:
        readme = fresh.readmes[name]
        for i, ((speed, coin), score) in enumerate(zip(labels, ref.score, strict=True)):
            assert (f"window={i}, speed={speed}, coin={'yes' if coin else 'no'}, "
                    f"score={score:.4f}, ") in readme, name
        assert f"{len(labels)} verdicts match the labels" in readme, name
        # stored real windows, not a live sensor; Hymel's data credited with its license
        assert "Shawn Hymel" in readme and "Beerware" in readme, name
        assert "not a live sensor" in readme, name
        assert "simulator" not in readme and "On a real fan" not in readme, name
    arduino = fresh.readmes[fan_detector.ARDUINO_FOLDER]
    assert fan_detector.budget_table(budget, notes=False) in arduino
    arduino, uno_readme = (" ".join(fresh.readmes[n].split())  # prose, line breaks aside
                           for n in (fan_detector.ARDUINO_FOLDER, "uno_fan_anomaly"))
    for name, order in fan_detector.sample_sources():
        assert f"`{name}`, window {order}" in arduino
    assert f"already uses {uno['static_ram']:,} B of the 2,048 B" in arduino
    assert f"stack reaches {uno['stack']:,} B, which leaves {uno['free']:,} B" in arduino
    assert f"≥ {m4['compute_ms']:,.1f} ms per window), not a measured time" in arduino
    assert f"{uno['static_ram']:,} B of static RAM and its stack reaches {uno['stack']:,} B" \
        in uno_readme
    assert f"about {uno['compute_ms']:,.0f} ms in simavr" in uno_readme


def test_wokwi_toml_and_libraries_txt():
    for folder in ALL_WOKWI:
        if folder == micropython.PROJECT:
            continue
        toml = (WOKWI / folder / "wokwi.toml").read_text(encoding="utf-8")
        firmware = "sketch.ino.hex" if folder.startswith("uno") else "sketch.ino.merged.bin"
        assert "[wokwi]\nversion = 1\n" in toml
        assert f"firmware = 'build/{firmware}'" in toml
        assert "elf = 'build/sketch.ino.elf'" in toml
        libraries = (WOKWI / folder / "libraries.txt").read_text(encoding="utf-8")
        needed = [line for line in libraries.splitlines() if not line.startswith("#")]
        if folder in digits_projects.WOKWI_FOLDERS:  # the display library, pinned
            name, version = digits_projects.DISPLAY_LIBRARY
            assert needed == [f"{name}@{version}"], libraries
        else:
            assert needed == [], libraries


def test_readmes_name_boards_cores_and_that_esp32_timings_are_simulated():
    plain = (PLAIN / "README.md").read_text(encoding="utf-8")
    assert "arduino:avr:uno" in plain and "esp32:esp32:esp32" in plain and "115200" in plain
    tflm = (ARDUINO / "hello_world_tflm" / "README.md").read_text(encoding="utf-8")
    assert f"esp32:esp32@{deploy_projects.ESP32_CORE_VERSION}" in tflm and "Chirale" in tflm
    for folder in ("esp32_hello_world_plain", "esp32_hello_world_tflm"):
        text = (WOKWI / folder / "README.md").read_text(encoding="utf-8")
        assert "simulated time, not a real ESP32's" in text and "caps" not in text
    yaml = (ARDUINO / "hello_world_tflm" / "sketch.yaml").read_text(encoding="utf-8")
    assert f"platform: esp32:esp32 ({deploy_projects.ESP32_CORE_VERSION})" in yaml
    assert "fqbn: esp32:esp32:esp32" in yaml


def test_tflm_sketch_registers_only_fully_connected():
    sketch = (ARDUINO / "hello_world_tflm" / "hello_world_tflm.ino").read_text(encoding="utf-8")
    assert "MicroMutableOpResolver<1>" in sketch and "AddFullyConnected()" in sketch
    assert "g_arena[kTensorArenaSize]" in sketch
    assert (WOKWI / "esp32_hello_world_tflm" / "sketch.ino").read_text(
        encoding="utf-8").split("\n", 1)[1] == sketch.split("\n", 1)[1].replace(
        "hello_world_tflm", "esp32_hello_world_tflm")


def test_readme_output_is_what_tflm_computes(models):
    _, int8_tflite, _, _ = models
    model = dense.int8_layers(int8_tflite)
    x = sine_projects.sketch_x()
    assert x.dtype == np.float32 and len(x) == sine_projects.STEPS and x[0] == 0
    codes = np.clip(np.floor(x / np.float32(model.input_scale) + 0.5)
                    + model.input_zero_point, -128, 127).astype(np.int8)
    out = tflm.run(int8_tflite, codes[:, None])[:, 0].astype(np.float32)
    want = np.float32(model.output_scale) * (out - np.float32(model.output_zero_point))
    np.testing.assert_array_equal(sine_projects.int8_predictions(model, x), want)
    assert np.max(np.abs(want - np.sin(x))) < 0.15  # a trained model, not noise


# --- generate(): inputs and atomicity -------------------------------------------------------

def test_generate_refuses_swapped_or_bad_models(models, tmp_path):
    float_tflite, int8_tflite, arena, tflm_tflite = models
    with pytest.raises(TypeError, match="float_tflite is an int8 model"):
        sine_projects.generate(int8_tflite, float_tflite, tmp_path / "a", tmp_path / "w", arena,
                               tflm_tflite=tflm_tflite)
    with pytest.raises(ValueError, match="arena_size must be"):
        sine_projects.generate(float_tflite, int8_tflite, tmp_path / "a", tmp_path / "w", 0,
                               tflm_tflite=tflm_tflite)
    with pytest.raises(ValueError, match="a folder of its own"):
        sine_projects.generate(float_tflite, int8_tflite, tmp_path / "x", tmp_path / "x", arena,
                               tflm_tflite=tflm_tflite)
    with pytest.raises(ValueError, match="not a .tflite"):
        sine_projects.generate(b"not a model", int8_tflite, tmp_path / "a", tmp_path / "w", arena,
                               tflm_tflite=tflm_tflite)
    assert list(tmp_path.iterdir()) == []


def _generate_into(root: Path, models) -> None:
    float_tflite, int8_tflite, arena, tflm_tflite = models
    sine_projects.generate(float_tflite, int8_tflite, root / "arduino", root / "wokwi", arena,
                           compile_uno=False, tflm_tflite=tflm_tflite)


def test_failure_while_writing_leaves_previous_projects_intact(models, tmp_path, monkeypatch):
    _generate_into(tmp_path, models)
    (tmp_path / "arduino" / "hello_world_plain" / "marker.txt").write_text("old")
    before = {kind: _tree(tmp_path / kind) for kind in ("arduino", "wokwi")}
    real_write, calls = deploy_projects.write_atomic, []

    def failing_write(path, content):
        calls.append(path)
        if len(calls) == 30:  # halfway: arduino/ written, wokwi/ begun
            raise OSError("disk full")
        real_write(path, content)

    monkeypatch.setattr(deploy_projects, "write_atomic", failing_write)
    with pytest.raises(OSError, match="disk full"):
        _generate_into(tmp_path, models)
    assert {kind: _tree(tmp_path / kind) for kind in ("arduino", "wokwi")} == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["arduino", "wokwi"]  # no leftovers


def test_failure_while_swapping_puts_the_old_folders_back(models, tmp_path, monkeypatch):
    _generate_into(tmp_path, models)
    (tmp_path / "wokwi" / "marker.txt").write_text("old")
    (tmp_path / "arduino" / "marker.txt").write_text("old")
    before = {kind: _tree(tmp_path / kind) for kind in ("arduino", "wokwi")}
    real_rename, calls = os.rename, []

    def failing_rename(src, dst):
        calls.append(dst)
        if len(calls) == 4:  # arduino/ already swapped; moving the new wokwi/ in fails
            raise OSError("rename failed")
        real_rename(src, dst)

    monkeypatch.setattr(files.os, "rename", failing_rename)
    with pytest.raises(OSError, match="rename failed"):
        _generate_into(tmp_path, models)
    assert {kind: _tree(tmp_path / kind) for kind in ("arduino", "wokwi")} == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["arduino", "wokwi"]


def test_generate_replaces_stale_files(models, tmp_path):
    _generate_into(tmp_path, models)
    stale = tmp_path / "wokwi" / "old_project" / "sketch.ino"
    stale.parent.mkdir()
    stale.write_text("// old")
    _generate_into(tmp_path, models)
    assert not stale.exists()
    assert oct((tmp_path / "arduino").stat().st_mode & 0o777) != oct(0o700)


def test_generate_without_the_fan_detector_keeps_the_fan_projects(models, committed_fan,
                                                                  tmp_path):
    float_tflite, int8_tflite, arena, tflm_tflite = models
    sine_projects.generate(float_tflite, int8_tflite, tmp_path / "arduino", tmp_path / "wokwi",
                           arena, compile_uno=False, fan=fan_detector.projects(committed_fan),
                           tflm_tflite=tflm_tflite)
    before = {kind: _tree(tmp_path / kind) for kind in ("arduino", "wokwi")}
    _generate_into(tmp_path, models)  # lesson 07 not exported: fan folders carried over
    assert {kind: _tree(tmp_path / kind) for kind in ("arduino", "wokwi")} == before
    with pytest.raises(TypeError, match="fan_detector.projects"):
        sine_projects.generate(float_tflite, int8_tflite, tmp_path / "arduino", tmp_path / "wokwi",
                               arena, fan="detector", tflm_tflite=tflm_tflite)


def test_fan_windows_header_refuses_bad_windows():
    counts, labels = fan_detector.sample_windows()
    with pytest.raises(ValueError, match="int16"):
        fan_detector.windows_header(counts.astype(np.float32), labels)
    with pytest.raises(ValueError, match="one \\(speed, coin\\) label per window"):
        fan_detector.windows_header(counts, labels[:-1])


def test_render_and_banner_refuse_mistakes():
    with pytest.raises(ValueError, match=r"no value given for PROJECT"):
        sine_projects.render("hello_world_plain.ino", BANNER="//", STEPS=20)
    with pytest.raises(ValueError, match="banner style"):
        cgen.banner("x", ";")


# --- the Uno build (arduino-builder) and run (simavr) ----------------------------------------

def test_toolchain_helpers_check_their_inputs(tmp_path):
    with pytest.raises(ValueError, match="non-empty executable name"):
        toolchains.have("")
    with pytest.raises(FileNotFoundError, match="does not exist"):
        toolchains.compile_uno(tmp_path / "nope", tmp_path / "build")
    with pytest.raises(FileNotFoundError, match="no firmware at"):
        toolchains.avr_size(tmp_path / "none.elf")
    with pytest.raises(FileNotFoundError, match="no firmware at"):
        toolchains.run_uno(tmp_path / "none.elf")
    assert toolchains.uart_lines("\x1b[32mdone..\n\x1b[0mLoaded 12 .text") == \
        ["done", "Loaded 12 .text"]
    with pytest.raises(ValueError, match="package names"):
        toolchains.install_debian([""])
    assert toolchains.install_command().startswith("apt-get install -y --no-install-recommends")


def test_install_cli_skips_politely_without_root(monkeypatch, capsys):
    monkeypatch.setattr(toolchains, "_installed", lambda package: False)
    monkeypatch.setattr(toolchains.os, "geteuid", lambda: 1000)
    monkeypatch.setattr(toolchains, "have", lambda tool: True)
    assert toolchains.main(["install"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("skipping toolchain install: not root; install with: sudo apt-get")
    assert out.count("\n") == 1


@NEEDS_BUILDER
@pytest.mark.parametrize("use_int8", [1, 0])
def test_plain_sketch_compiles_for_the_uno(tmp_path, use_int8):
    elf = toolchains.compile_uno(PLAIN, tmp_path, {"USE_INT8": use_int8})
    assert elf.name == "hello_world_plain.ino.elf" and elf.with_suffix(".hex").is_file()
    size = toolchains.avr_size(elf)
    assert 2_000 < size["flash"] < 12_000 and size["ram"] < 512  # far inside 32 KB / 2 KB
    print(f"USE_INT8={use_int8}: flash {size['flash']} B, RAM {size['ram']} B")


@NEEDS_BUILDER
def test_compile_errors_carry_the_compiler_output(tmp_path):
    sketch = tmp_path / "broken"
    sketch.mkdir()
    (sketch / "broken.ino").write_text("void setup() { undefined_call(); }\nvoid loop() {}\n")
    with pytest.raises(RuntimeError, match="undefined_call"):
        toolchains.compile_uno(sketch, tmp_path / "build")


@NEEDS_BUILDER
def test_generate_builds_the_uno_wokwi_firmware(models, tmp_path):
    float_tflite, int8_tflite, arena, tflm_tflite = models
    sine_projects.generate(float_tflite, int8_tflite, tmp_path / "arduino", tmp_path / "wokwi",
                           arena, tflm_tflite=tflm_tflite)
    build = tmp_path / "wokwi" / "uno_hello_world_plain" / deploy_projects.WOKWI_BUILD
    assert sorted(p.name for p in build.iterdir()) == ["sketch.ino.elf", "sketch.ino.hex"]
    assert build.joinpath("sketch.ino.hex").read_text().startswith(":")


def _simavr_lines(elf: Path) -> list[str]:
    return [line for line in toolchains.run_uno(elf, timeout_s=60) if "=" in line or
            line.startswith(("hello_world", "done"))]


@NEEDS_BUILDER
@NEEDS_SIMAVR
def test_int8_sketch_prints_the_expected_predictions_on_a_simulated_uno(models, tmp_path):
    elf = toolchains.compile_uno(PLAIN, tmp_path, {"TINYML_DELAY_MS": 0, "TINYML_PASSES": 1})
    lines = _simavr_lines(elf)
    assert lines[0] == "hello_world_plain: int8 model (sine_int8.c)" and lines[-1] == "done"
    rows = [dict(kv.split("=") for kv in line.split(", ")) for line in lines[1:-1]]
    assert len(rows) == sine_projects.STEPS
    model = dense.int8_layers(models[1])
    want = sine_projects.int8_predictions(model, sine_projects.sketch_x())
    assert [row["y"] for row in rows] == [f"{y:.3f}" for y in want]
    for row in rows:  # Timer1's cycle count agrees with micros() at 16 MHz
        cycles, us = int(row["cycles"]), int(row["us"])
        assert cycles > 1_000 and 0.75 < 16 * us / cycles < 1.5, row



@NEEDS_BUILDER
@NEEDS_SIMAVR
def test_fan_sketch_scores_the_stored_windows_on_a_simulated_uno(fresh, committed_fan, tmp_path):
    elf = toolchains.compile_uno(fresh.fan, tmp_path, {"TINYML_DELAY_MS": 0, "TINYML_PASSES": 1})
    sizes = toolchains.avr_size(elf)
    assert sizes["flash"] < 32_256 and sizes["ram"] < 1_400  # fits the Uno with stack to spare
    # the static RAM the READMEs quote (measured/fan_live_budget.json) is this sketch's
    uno = next(b for b in fan_detector.live_budget()["boards"] if b["board"] == "uno")
    assert sizes["ram"] == uno["static_ram"], "rerun benchmarks/fan_detector_report.py --write"
    lines = toolchains.run_uno(elf)
    text = "\n".join(lines)
    rows = [dict(kv.split("=") for kv in line.split(", ")) for line in lines
            if line.startswith("window=")]
    counts, labels = fan_detector.sample_windows()
    ref = fan_detector.reference(committed_fan, fan_detector.from_counts(counts))
    assert len(rows) == len(labels), text[-3000:]
    for row, (speed, coin), score, flag in zip(rows, labels, ref.score, ref.anomaly,
                                                  strict=True):
        assert row["speed"] == speed and row["coin"] == ("yes" if coin else "no")
        assert float(row["score"]) == pytest.approx(score, rel=1e-3, abs=2e-4)
        assert row["verdict"] == ("ANOMALY" if flag else "normal")
        assert 100_000 < int(row["us"]) < 1_000_000  # features + score, within a 1 s window
    agree = sum(bool(flag) == coin for (_, coin), flag in zip(labels, ref.anomaly, strict=True))
    assert f"pass 1: {agree} of {len(labels)} verdicts match the labels" in lines
    assert "done" in lines


# --- the same sketches built for this PC, through the non-AVR (ESP32) code paths -------------

SHIM = Path(__file__).resolve().parent / "arduino_shim"


def _host_sketch(folder: Path, tmp_path: Path, defines: dict | None = None) -> list[str]:
    """Compile ``folder``'s sketch with g++ against tests/arduino_shim (ARDUINO_ARCH_ESP32
    defined, one pass, no delay, and ``defines``), run it, return its lines."""
    objects = []
    for source in sorted(folder.glob("*.c")):
        obj = tmp_path / f"{source.stem}.o"
        subprocess.run(["gcc", "-O2", "-std=gnu99", "-Wall", "-Wextra", "-Werror", "-I",
                        str(folder), "-c", str(source), "-o", str(obj)], check=True)
        objects.append(str(obj))
    exe = tmp_path / "sketch"
    sketch = next(folder.glob("*.ino"))
    subprocess.run(["g++", "-O2", "-std=gnu++17", "-Wall", "-Wextra", "-Werror",
                    "-DARDUINO_ARCH_ESP32", "-DTINYML_DELAY_MS=0", "-DTINYML_PASSES=1",
                    *(f"-D{name}={value}" for name, value in (defines or {}).items()),
                    "-include", str(SHIM / "Arduino.h"), "-I", str(SHIM), "-I", str(folder),
                    "-x", "c++", str(sketch), "-x", "none", str(SHIM / "main.cpp"), *objects,
                    "-lm", "-o", str(exe)], check=True, capture_output=True, text=True)
    run = subprocess.run([str(exe)], check=True, capture_output=True, text=True, timeout=60)
    return [line.rstrip("\r") for line in run.stdout.splitlines()]


@pytest.mark.skipif(not (toolchains.have("gcc") and toolchains.have("g++")),
                    reason="gcc/g++ not installed")
def test_sketches_run_through_the_esp32_code_path_on_this_pc(models, fresh, committed_fan,
                                                            tmp_path):
    lines = _host_sketch(PLAIN, tmp_path)
    rows = [dict(kv.split("=") for kv in line.split(", ")) for line in lines if "=" in line]
    want = sine_projects.int8_predictions(dense.int8_layers(models[1]), sine_projects.sketch_x())
    assert [row["y"] for row in rows] == [f"{y:.3f}" for y in want] and lines[-1] == "done"

    lines = _host_sketch(fresh.fan, tmp_path)
    rows = [dict(kv.split("=") for kv in line.split(", ")) for line in lines
            if line.startswith("window=")]
    counts, labels = fan_detector.sample_windows()
    ref = fan_detector.reference(committed_fan, fan_detector.from_counts(counts))
    assert len(rows) == len(labels) and lines[-1] == "done"
    for row, score, flag in zip(rows, ref.score, ref.anomaly, strict=True):
        assert float(row["score"]) == pytest.approx(score, rel=1e-3, abs=2e-4)
        assert row["verdict"] == ("ANOMALY" if flag else "normal")


@pytest.mark.skipif(not (toolchains.have("gcc") and toolchains.have("g++")),
                    reason="gcc/g++ not installed")
def test_fan_check_build_prints_every_stage_through_the_esp32_code_path(fresh, committed_fan,
                                                                        tmp_path):
    """-DTINYML_PRINT_STAGES=1 (what fan_detector.run_uno builds for the Uno): the printed
    features and codes are NumPy's and TFLM's; no stack line off AVR."""
    lines = _host_sketch(fresh.fan, tmp_path, {"TINYML_PRINT_STAGES": 1})
    stages: dict[str, dict[str, str]] = {}
    for line in lines:
        if line.startswith("stages="):
            pairs = dict(kv.split("=", 1) for kv in line.split(", "))
            stages.setdefault(pairs["stages"], {}).update(pairs)
    counts, _ = fan_detector.sample_windows()
    ref = fan_detector.reference(committed_fan, fan_detector.from_counts(counts))
    assert list(stages) == [str(i) for i in range(len(counts))]
    bits = [np.array([int(w, 16) for w in st["features"].split()], np.uint32) for st in
            stages.values()]
    features = np.stack(bits).view(np.float32).astype(np.float64)
    np.testing.assert_allclose(features, ref.features, rtol=fan_detector.FEATURE_RTOL,
                               atol=fan_detector.FEATURE_ATOL)
    codes_in = np.array([st["in"].split() for st in stages.values()], dtype=np.int8)
    codes_out = np.array([st["out"].split() for st in stages.values()], dtype=np.int8)
    np.testing.assert_array_equal(codes_out, tflm.run(committed_fan.tflite, codes_in))
    score = np.array([int(st["score"], 16) for st in stages.values()], np.uint32).view(np.float32)
    np.testing.assert_allclose(score, ref.score, rtol=1e-3, atol=1e-5)
    assert not any(line.startswith("stack=") for line in lines) and lines[-1] == "done"


# --- the boot self-test: each board checks the model against TFLM's outputs ------------------

RUN_ONCE = {"TINYML_DELAY_MS": 0, "TINYML_PASSES": 1}
NEEDS_GXX = pytest.mark.skipif(not (toolchains.have("gcc") and toolchains.have("g++")),
                               reason="gcc/g++ not installed")


def _float_x(model: dense.Int8Model, codes: np.ndarray) -> np.ndarray:
    """Return the x values of int8 input codes (dequantized in float32)."""
    return (np.float32(model.input_scale) * (codes.astype(np.float32)
                                             - np.float32(model.input_zero_point)))


@pytest.fixture(scope="module")
def fresh(models, committed_fan, tmp_path_factory):
    """The plain sine and fan projects as the generator makes them now (the committed folders
    may predate a change to it), and the self-tests computed here with the TFLM runtime."""
    float_tflite, int8_tflite, arena, tflm_tflite = models
    # Only what the plain sketches need, so these tests do not depend on the TFLM sketch's model.
    sine = sine_projects.Models(float_graph=float_tflite, int8_graph=int8_tflite,
                                float_layers=dense.layers_from_tflite(float_tflite),
                                int8=dense.int8_layers(int8_tflite), arena_size=arena)
    fan = fan_detector.projects(committed_fan)
    arduino_fan = deploy_projects.by_folder(p for p in fan if p.tree == "arduino")
    wokwi_fan = deploy_projects.by_folder(p for p in fan if p.tree == "wokwi")
    wokwi = deploy_projects.by_folder(sine_projects.wokwi_projects(sine))
    root = tmp_path_factory.mktemp("self_test")
    folders = {**deploy_projects.by_folder(sine_projects.arduino_projects(sine)), **arduino_fan}
    for name in ("hello_world_plain", fan_detector.ARDUINO_FOLDER):
        files.write_files(root / name, folders[name])
    int8_test = self_test.from_tflm(int8_tflite)
    counts, _ = fan_detector.sample_windows()
    fan_codes = fan_detector.reference(committed_fan, fan_detector.from_counts(counts)).codes_in
    return SimpleNamespace(
        plain=root / "hello_world_plain", fan=root / fan_detector.ARDUINO_FOLDER, sine=sine,
        int8=int8_test,
        float=self_test.from_tflm(float_tflite, inputs=_float_x(sine.int8, int8_test.inputs)),
        fan_test=self_test.from_tflm(committed_fan.tflite, inputs=fan_codes),
        readmes={name: files_["README.md"] for name, files_ in
                 {**folders, **wokwi, **wokwi_fan}.items() if "README.md" in files_})


def _reported(lines: list[str]) -> list[str]:
    """Return the self-test lines of a board's output."""
    return [line for line in lines if line.startswith(self_test.PREFIX)]


def _one_weight_changed(path: Path, text: str) -> None:
    """Write ``text`` over the generated C file ``path`` after checking that exactly one
    number differs (one weight)."""
    number = r"-?\d+(?:\.\d+)?(?:e[-+]?\d+)?"
    old, new = (re.findall(number, s) for s in (path.read_text(encoding="utf-8"), text))
    assert len(old) == len(new) and sum(a != b for a, b in zip(old, new, strict=True)) == 1
    path.write_text(text, encoding="utf-8")


def _corrupted(folder: Path, tmp: Path, model: dense.Int8Model, prefix: str,
               test: self_test.SelfTest) -> tuple[Path, list[str]]:
    """Return a copy of project ``folder`` with one weight of ``prefix``.c changed (one that
    changes an output of ``test``) and the self-test lines its board must print."""
    altered, _ = self_test.altered_weight(model, test)
    copy = tmp / folder.name
    shutil.copytree(folder, copy)
    _one_weight_changed(copy / f"{prefix}.c", export.plain_c_files(altered, prefix)[f"{prefix}.c"])
    got = dense.int8_reference(altered, test.inputs)
    want = self_test.check(test, got) + [self_test.advice("C")]
    assert want[0].startswith("self-test: FAILED at case ")  # numpy agrees it must fail
    return copy, want


@pytest.fixture(scope="module")
def bad_plain(fresh, tmp_path_factory):
    return _corrupted(fresh.plain, tmp_path_factory.mktemp("bad_plain"), fresh.sine.int8,
                      "sine_int8", fresh.int8)


@pytest.fixture(scope="module")
def bad_fan(fresh, committed_fan, tmp_path_factory):
    return _corrupted(fresh.fan, tmp_path_factory.mktemp("bad_fan"), committed_fan.model,
                      fan_detector.AE_PREFIX, fresh.fan_test)


def test_self_test_headers_hold_the_tflm_cases(fresh):
    assert (fresh.plain / "sine_self_test.h").read_text(encoding="utf-8") == self_test.c_header(
        "sine_self_test.h", {"sine_int8": fresh.int8, "sine_float": fresh.float})
    assert (fresh.fan / fan_detector.SELF_TEST_NAME).read_text(encoding="utf-8") == \
        self_test.c_header(fan_detector.SELF_TEST_NAME, {fan_detector.AE_PREFIX: fresh.fan_test})
    # what the generated C computes (dense's reference) passes its own self-test
    assert self_test.check(fresh.int8, dense.int8_reference(fresh.sine.int8, fresh.int8.inputs)) \
        == [fresh.int8.ok_line()]
    np.testing.assert_allclose(dense.float_reference(fresh.sine.float_layers, fresh.float.inputs),
                               fresh.float.outputs, atol=self_test.FLOAT_TOLERANCE)


def test_readmes_show_and_explain_the_self_test_line(fresh):
    for name, readme in fresh.readmes.items():
        if name == micropython.PROJECT or "tflm" in name:
            continue
        test = fresh.fan_test if "fan" in name else fresh.int8
        assert f"\n{test.ok_line()}\n" in readme, name
        assert "If it says `FAILED`" in readme and "regenerate the project" in readme, name


@NEEDS_GXX
@pytest.mark.parametrize("use_int8", [1, 0])
def test_plain_sketch_self_test_passes_on_this_pc(fresh, tmp_path, use_int8):
    lines = _host_sketch(fresh.plain, tmp_path, {"USE_INT8": use_int8})
    test = fresh.int8 if use_int8 else fresh.float
    assert lines[1] == test.ok_line() and _reported(lines) == self_test.check(test, test.outputs)
    assert lines[-1] == "done"


@NEEDS_GXX
def test_fan_sketch_self_test_passes_on_this_pc(fresh, tmp_path):
    lines = _host_sketch(fresh.fan, tmp_path)
    assert lines[1] == fresh.fan_test.ok_line() == "self-test: ok (7/7)"
    assert _reported(lines) == [fresh.fan_test.ok_line()] and lines[-1] == "done"


@NEEDS_GXX
@pytest.mark.parametrize("which", ["plain", "fan"])
def test_a_changed_weight_fails_the_self_test_on_this_pc(bad_plain, bad_fan, tmp_path, which):
    folder, want = bad_plain if which == "plain" else bad_fan
    lines = _host_sketch(folder, tmp_path)
    assert lines[1:3] == want and _reported(lines) == want
    assert lines[-1] == "done"  # a failed self-test does not stop the sketch


@NEEDS_BUILDER
@NEEDS_SIMAVR
@pytest.mark.parametrize("use_int8", [1, 0])
def test_plain_sketch_self_test_passes_on_a_simulated_uno(fresh, tmp_path, use_int8):
    elf = toolchains.compile_uno(fresh.plain, tmp_path, {**RUN_ONCE, "USE_INT8": use_int8})
    assert toolchains.avr_size(elf)["ram"] < 512  # the cases stay in flash
    lines = toolchains.run_uno(elf, timeout_s=60)
    test = fresh.int8 if use_int8 else fresh.float
    assert _reported(lines) == self_test.check(test, test.outputs) == [test.ok_line()]
    assert "done" in lines


@NEEDS_BUILDER
@NEEDS_SIMAVR
def test_fan_sketch_self_test_passes_on_a_simulated_uno(fresh, tmp_path):
    elf = toolchains.compile_uno(fresh.fan, tmp_path, RUN_ONCE)
    assert toolchains.avr_size(elf)["ram"] < 1_400
    lines = toolchains.run_uno(elf, timeout_s=60)
    assert _reported(lines) == [fresh.fan_test.ok_line()] and "done" in lines


@NEEDS_BUILDER
@NEEDS_SIMAVR
@pytest.mark.parametrize("which", ["plain", "fan"])
def test_a_changed_weight_fails_the_self_test_on_a_simulated_uno(bad_plain, bad_fan, tmp_path,
                                                                  which):
    folder, want = bad_plain if which == "plain" else bad_fan
    lines = toolchains.run_uno(toolchains.compile_uno(folder, tmp_path, RUN_ONCE), timeout_s=60)
    assert _reported(lines) == want and "done" in lines


@pytest.fixture(scope="module")
def m4():
    """Skip without the Cortex-M4F toolchain, QEMU or the TFLM sources tflm_build needs."""
    from tinyml_helpers.tooling import paths

    reason = tflm_build.unavailable("m4", paths.TFLM_TARBALL)
    if reason:
        pytest.skip(reason)


def _on_m4(folder: Path, build_dir: Path, esp32: bool = False, **defines) -> list[str]:
    """Build ``folder``'s sketch with tflm_build's Arduino stand-in for the Cortex-M4F (plain
    C: no TFLM library linked), run it on QEMU and return its lines."""
    from tinyml_helpers.tooling import paths

    program = tflm_build.build_sketch(folder, "m4", build_dir, esp32=esp32,
                                      defines={**RUN_ONCE, **defines}, src=paths.tflm_source())
    run = tflm_build.run_sketch(program, "m4")
    assert run.returncode == 0, run.stderr[-2000:]
    return run.lines


@pytest.mark.parametrize("use_int8, esp32", [(1, False), (1, True), (0, False)])
def test_plain_sketch_self_test_passes_on_a_cortex_m4(m4, fresh, tmp_path, use_int8, esp32):
    lines = _on_m4(fresh.plain, tmp_path, esp32, USE_INT8=use_int8)
    test = fresh.int8 if use_int8 else fresh.float
    assert lines[1] == test.ok_line() and _reported(lines) == self_test.check(test, test.outputs)
    assert lines[-1] == "done"


def test_fan_sketch_self_test_passes_on_a_cortex_m4(m4, fresh, tmp_path):
    lines = _on_m4(fresh.fan, tmp_path, esp32=True)
    assert _reported(lines) == [fresh.fan_test.ok_line()] and lines[-1] == "done"


def test_a_changed_weight_fails_the_self_test_on_a_cortex_m4(m4, bad_plain, tmp_path):
    folder, want = bad_plain
    lines = _on_m4(folder, tmp_path)
    assert lines[1:3] == want and _reported(lines) == want and lines[-1] == "done"


def _altered_float_weight(layers: list, test: self_test.SelfTest) -> list:
    """Return the float layers with one last-layer weight raised by 1, the first such change
    that moves an output of ``test`` beyond the tolerance."""
    last = layers[-1]
    for row, col in np.ndindex(*last.weights.shape):
        weights = last.weights.copy()
        weights[row, col] += 1.0
        altered = [*layers[:-1], dataclasses.replace(last, weights=weights)]
        if self_test.check(test, dense.float_reference(altered, test.inputs)) != \
                [test.ok_line()]:
            return altered
    raise AssertionError("no last-layer weight change moves a self-test output")


@pytest.fixture(scope="module")
def bad_float(fresh, tmp_path_factory):
    """A copy of hello_world_plain with one weight of sine_float.c changed, and the failure
    numpy predicts for it."""
    altered = _altered_float_weight(fresh.sine.float_layers, fresh.float)
    copy = tmp_path_factory.mktemp("bad_float") / fresh.plain.name
    shutil.copytree(fresh.plain, copy)
    _one_weight_changed(copy / "sine_float.c",
                        export.plain_c_files(altered, "sine_float")["sine_float.c"])
    got = dense.float_reference(altered, fresh.float.inputs)
    return copy, self_test.parse(self_test.check(fresh.float, got)), got


def _assert_float_failure(lines: list[str], want: self_test.Result, got: np.ndarray) -> None:
    """The board's float FAILED line names numpy's case and output; its got is numpy's float32
    result and its expected the stored TFLM value, both to the 6 decimals printed."""
    result = self_test.parse(lines)
    assert result.advice == (self_test.advice("C"),)
    assert (result.ok, result.failed_case, result.output, result.cases) == \
        (False, want.failed_case, want.output, want.cases)
    assert float(result.expected) == pytest.approx(float(want.expected), abs=2e-6)
    assert float(result.got) == pytest.approx(
        float(got[want.failed_case - 1, want.output]), abs=self_test.FLOAT_TOLERANCE)


@NEEDS_GXX
def test_a_changed_float_weight_fails_the_self_test_on_this_pc(bad_float, tmp_path):
    folder, want, got = bad_float
    lines = _host_sketch(folder, tmp_path, {"USE_INT8": 0})
    _assert_float_failure(lines, want, got)
    assert lines[-1] == "done"


@NEEDS_BUILDER
@NEEDS_SIMAVR
def test_a_changed_float_weight_fails_the_self_test_on_a_simulated_uno(bad_float, tmp_path):
    folder, want, got = bad_float
    elf = toolchains.compile_uno(folder, tmp_path, {**RUN_ONCE, "USE_INT8": 0})
    lines = toolchains.run_uno(elf, timeout_s=60)
    _assert_float_failure(lines, want, got)
    assert "done" in lines


def test_tflm_readmes_show_what_the_per_tensor_model_prints(models):
    float_tflite, int8_tflite, arena, tflm_tflite = models
    loaded = sine_projects.load_models(float_tflite, int8_tflite, arena, tflm_tflite=tflm_tflite)
    lines = sine_projects.expected_output(loaded, tflm_sketch=True).splitlines()
    model = dense.int8_layers(tflm_tflite)
    x = sine_projects.sketch_x()[:len(lines)]
    codes = tflm.run(tflm_tflite, model.quantize(x).reshape(-1, 1))
    want = [f"y={y:.3f}" for y in model.dequantize(codes)[:, 0]]
    assert [line.split(", ")[1] for line in lines] == want
    assert lines != sine_projects.expected_output(loaded).splitlines()  # another model, other codes
    ok = self_test.from_tflm(tflm_tflite).ok_line()
    for folder in (ARDUINO / "hello_world_tflm", WOKWI / "esp32_hello_world_tflm"):
        readme = (folder / "README.md").read_text()
        assert "\n".join(lines) in readme and ok in readme
        assert "Not checked" in readme or "What was verified" in readme
        assert sine_projects.TFLM_NAME in readme
