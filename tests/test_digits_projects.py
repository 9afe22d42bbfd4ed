"""Tests for tinyml_helpers.digits_projects: lesson 08's int8 CNN as an Arduino sketch folder and
three Wokwi projects with an SSD1306 OLED.

A small CNN is trained for a few epochs here (the lesson's real model comes with `make build`).
The projects are valid (the Wokwi validator, the OLED on the board's I2C pins), reproducible byte
for byte, and they print what the TFLM runtime computes: the plain-C sketch compiled for the Uno
with arduino-builder and run in simavr, and for this PC through the ESP32 code path (where the
stand-in display library logs what is drawn); the TFLM sketch built against the vendored
esp-tflite-micro 1.4.0 for this PC and the Cortex-M4F. The display library (U8g2) cannot be
installed offline: every build uses the stand-in ``deploy/arduino_shim/U8x8lib.h``.
"""

import json
import re
import shutil
import subprocess
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from tinyml_helpers import digits_projects as dp
from tinyml_helpers import sine_projects
from tinyml_helpers.deploy import files, self_test, tflm, tflm_build, toolchains, wokwi
from tinyml_helpers.deploy import projects as deploy_projects
from tinyml_helpers.deploy.tflm_build.sketch import parse_serial, split_notes
from tinyml_helpers.tooling import build, paths

SHIM = Path(tflm_build.__file__).resolve().parent.parent / "arduino_shim"
ROOT = Path(__file__).resolve().parents[1]
RUN_ONCE = {"TINYML_DELAY_MS": 0, "TINYML_PASSES": 1}
# Static RAM the real U8g2 2.35.30 (U8x8 mode, with Wire) adds on the Uno to a build with the
# stand-in: measured once (1,444 B against 977 B, arduino/digits_cnn/README.md).
U8X8_RAM = 467
STACK_RESERVE = 512  # RAM the Uno must keep free for the stack with the real library
NEEDS_BUILDER = pytest.mark.skipif(not toolchains.have("arduino-builder"),
                                   reason="arduino-builder not installed")
NEEDS_SIMAVR = pytest.mark.skipif(not toolchains.have("simavr"), reason="simavr not installed")
NEEDS_GXX = pytest.mark.skipif(not (toolchains.have("gcc") and toolchains.have("g++")),
                               reason="gcc/g++ not installed")
DITHER = ((0, 8, 2, 10), (12, 4, 14, 6), (3, 11, 1, 9), (15, 7, 13, 5))


@pytest.fixture(scope="module")
def lesson():
    """A digits CNN trained for 3 epochs, converted per channel (the plain C's) and per tensor
    (the TFLM sketch's), and the first test digit of each class."""
    from tinyml_helpers import digits
    from tinyml_helpers.deploy import litert

    d = digits.load(0)
    model = digits.cnn()
    digits.train(model, d, epochs=3)
    per_channel = litert.convert(model, "int8", d.x_train)
    per_tensor = litert.convert(model, "int8", d.x_train, per_channel=False)
    codes, labels = dp.sample_digits(per_channel, d.x_test, d.y_test)
    first = [int(np.flatnonzero(d.y_test == c)[0]) for c in range(10)]
    return SimpleNamespace(model=per_channel, tflm_model=per_tensor, codes=codes, labels=labels,
                           images=d.x_test[first],
                           value=dp.make_export(per_channel, codes, labels, per_tensor))


@pytest.fixture(scope="module")
def made(lesson):
    """{folder: Project}, the arena measured by default (the TFLM Python runtime + margin)."""
    return {p.folder: p for p in dp.projects(lesson.value)}


@pytest.fixture(scope="module")
def written(made, tmp_path_factory):
    """The projects written into a temporary arduino/ and wokwi/."""
    root = tmp_path_factory.mktemp("digits")
    for project in made.values():
        files.write_files(root / project.tree / project.folder, project.files)
    return root


def _rows(value: dp.Export, tflm_sketch: bool = False) -> list[dict[str, str]]:
    model = value.tflm_model if tflm_sketch else value.graph
    return dp.results(model, value.codes, value.labels)


def _expected(value: dp.Export, tflm_sketch: bool = False) -> list[tuple[str, ...]]:
    return [(r["digit"], r["label"], r["class"], r["confidence"])
            for r in _rows(value, tflm_sketch)]


# --- the projects as values ---------------------------------------------------------------------

def test_four_projects_with_their_files(made, lesson):
    assert list(made) == [dp.ARDUINO_FOLDER, dp.ESP32_FOLDER, dp.UNO_FOLDER, dp.TFLM_FOLDER]
    assert [made[f].tree for f in made] == ["arduino", "wokwi", "wokwi", "wokwi"]
    arduino = made[dp.ARDUINO_FOLDER].files
    assert {"digits_cnn.ino", "digits_cnn.h", "digits_cnn.c", "tinyml_ops.c", "tinyml_ops.h",
            dp.SELF_TEST_NAME, dp.SAMPLES_HEADER, "sketch.yaml", "README.md", dp.EXPORT_NAME,
            dp.SAMPLES_NAME} <= set(arduino)
    for folder in (dp.ESP32_FOLDER, dp.UNO_FOLDER):
        got = made[folder].files
        assert {"sketch.ino", "diagram.json", "libraries.txt", "wokwi.toml"} <= set(got)
        assert not made[folder].uno_firmware  # needs the real U8g2: not compiled offline
        # the same sketch as arduino/digits_cnn, under its project's name
        assert got["sketch.ino"].split("\n", 1)[1].replace(folder, dp.ARDUINO_FOLDER) == \
            arduino["digits_cnn.ino"].split("\n", 1)[1]
        for name in ("digits_cnn.c", dp.SELF_TEST_NAME, dp.SAMPLES_HEADER, dp.EXPORT_NAME):
            assert got[name] == arduino[name]
    tflm_files = made[dp.TFLM_FOLDER].files
    assert {"sketch.ino", "model.h", "model.cpp", "model_self_test.h", "tflm_ops.h",
            dp.SAMPLES_HEADER, dp.TFLM_EXPORT_NAME} <= set(tflm_files)
    assert dp.EXPORT_NAME not in tflm_files and "digits_cnn.c" not in tflm_files
    assert arduino[dp.TFLM_EXPORT_NAME] == lesson.tflm_model
    assert tflm_files[dp.TFLM_EXPORT_NAME] == lesson.tflm_model
    for op in ("AddConv2D", "AddMaxPool2D", "AddFullyConnected", "AddSoftmax", "AddReshape"):
        assert op in tflm_files["tflm_ops.h"]
    for project in made.values():
        for name, content in project.files.items():
            if isinstance(content, str) and not name.endswith(".json"):
                assert "generated by tinyml_helpers" in content.splitlines()[0], (project, name)
                assert "/work/" not in content and "/tmp/" not in content, (project, name)


def test_the_arena_is_measured_with_a_margin(made, lesson):
    measured = tflm.arena_size(lesson.tflm_model)
    arena = measured + dp.ARENA_MARGIN
    header = made[dp.TFLM_FOLDER].files["model.h"]
    assert f"kTensorArenaSize = {arena};" in header
    assert f"({measured:,} bytes) plus {dp.ARENA_MARGIN:,} bytes" in header
    assert made[dp.TFLM_FOLDER].facts["ARENA_INT"] == str(arena)


@pytest.mark.parametrize("folder,board,supply,ground,sda,scl", [
    (dp.UNO_FOLDER, "uno", "5V", "GND", "A4", "A5"),
    (dp.ESP32_FOLDER, "esp", "3V3", "GND", "21", "22"),
    (dp.TFLM_FOLDER, "esp", "3V3", "GND", "21", "22")])
def test_diagrams_wire_the_oled_to_the_boards_i2c_pins(made, folder, board, supply, ground, sda,
                                                       scl):
    doc = json.loads(made[folder].files["diagram.json"])
    wokwi.validate(doc)
    assert {p["type"] for p in doc["parts"]} == {
        "wokwi-arduino-uno" if board == "uno" else "board-esp32-devkit-c-v4", "board-ssd1306"}
    wires = {a: b for a, b, *_ in doc["connections"] if a.startswith("oled1:")}
    assert wires["oled1:VCC"] == f"{board}:{supply}"
    assert wires["oled1:GND"].startswith(f"{board}:{ground}.")
    assert (wires["oled1:SDA"], wires["oled1:SCL"]) == (f"{board}:{sda}", f"{board}:{scl}")
    assert "generated by tinyml_helpers" in doc["author"]


def test_libraries_txt_sketch_yaml_and_wokwi_toml_name_the_display_library(made):
    name, version = dp.DISPLAY_LIBRARY
    for folder in dp.WOKWI_FOLDERS:
        text = made[folder].files["libraries.txt"]
        assert [line for line in text.splitlines() if not line.startswith("#")] == \
            [f"{name}@{version}"]
        toml = made[folder].files["wokwi.toml"]
        firmware = "sketch.ino.hex" if folder.startswith("uno") else "sketch.ino.merged.bin"
        assert f"firmware = 'build/{firmware}'" in toml
    yaml = made[dp.ARDUINO_FOLDER].files["sketch.yaml"]
    assert yaml.count(f"    libraries:\n      - {name} ({version})\n") == 2
    assert "fqbn: arduino:avr:uno" in yaml and "fqbn: esp32:esp32:esp32" in yaml
    assert yaml.endswith("default_profile: uno\n")


def test_readmes_quote_the_tflm_lines_and_the_measured_display_choice(made, lesson):
    readme = made[dp.ARDUINO_FOLDER].files["README.md"]
    for row in _rows(lesson.value):
        assert (f"digit={row['digit']}, label={row['label']}, class={row['class']}, "
                f"confidence={row['confidence']}, us=…") in readme
    assert "U8x8" in readme and "_F_" in readme and "does not link" in readme
    assert "self-test: ok (10/10)" in readme
    tflm_readme = made[dp.TFLM_FOLDER].files["README.md"]
    for row in _rows(lesson.value, tflm_sketch=True):
        assert f"class={row['class']}, confidence={row['confidence']}" in tflm_readme
    for folder in (dp.ESP32_FOLDER, dp.TFLM_FOLDER):
        assert "not a real ESP32's" in made[folder].files["README.md"]
    assert "arduino-cli lib install \"U8g2@" in made[dp.UNO_FOLDER].files["README.md"]


def test_the_same_inputs_give_byte_identical_projects(made, lesson, tmp_path):
    again = dp.projects(dp.make_export(lesson.model, lesson.codes, lesson.labels,
                                       lesson.tflm_model))
    assert {p.folder: p.files for p in again} == {p.folder: p.files for p in made.values()}
    dp.save_export(tmp_path / "a", lesson.model, lesson.codes, lesson.labels, lesson.tflm_model)
    dp.save_export(tmp_path / "b", lesson.model, lesson.codes, lesson.labels, lesson.tflm_model)
    for name in (dp.EXPORT_NAME, dp.SAMPLES_NAME, dp.TFLM_EXPORT_NAME):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()


def test_results_are_tflm_argmax_and_the_sketches_confidence(lesson):
    outputs = tflm.run(lesson.model, lesson.codes)
    rows = _rows(lesson.value)
    assert [int(r["class"]) for r in rows] == list(np.argmax(outputs, axis=1))
    for row, out in zip(rows, outputs, strict=True):
        p = (int(out.max()) + 128) * 1000 / 256  # softmax output: scale 1/256, zero point -128
        assert row["confidence"] == f"{int(p + 0.5) // 10}.{int(p + 0.5) % 10}%"
    # exact ties round half up, as the C cast does (Python's round would go to even)
    assert list(dp.confidence_permille(np.array([-112, 127]), 1 / 256, -128)) == [63, 996]


def test_the_arduino_folder_holds_the_whole_export_it_was_made_from(written, made, lesson):
    back = dp.load(written / "arduino" / dp.ARDUINO_FOLDER)
    assert back.graph.data == lesson.model and back.tflm_model.data == lesson.tflm_model
    assert np.array_equal(back.codes, lesson.codes) and np.array_equal(back.labels, lesson.labels)
    assert {p.folder: p.files for p in dp.projects(back)} == \
        {p.folder: p.files for p in made.values()}


def test_write_projects_writes_the_four_folders_as_sets(made, lesson, tmp_path):
    written = dp.write_projects(lesson.model, lesson.codes, lesson.labels, tmp_path,
                                tflm_model=lesson.tflm_model)
    folders = sorted({p.parent.relative_to(tmp_path).as_posix() for p in written})
    assert folders == ["arduino/digits_cnn", *(f"wokwi/{f}" for f in sorted(dp.WOKWI_FOLDERS))]
    stale = tmp_path / "arduino" / dp.ARDUINO_FOLDER / "stale.txt"
    stale.write_text("from an older run")
    again = dp.write_projects(lesson.model, lesson.codes, lesson.labels, tmp_path,
                              tflm_model=lesson.tflm_model)
    assert again == written and not stale.exists()
    for project in made.values():
        for name, content in project.files.items():
            path = tmp_path / project.tree / project.folder / name
            assert (path.read_bytes() if isinstance(content, bytes)
                    else path.read_text(encoding="utf-8")) == content
    assert not [p for p in tmp_path.rglob(".*")], "no staging folders left"


# --- the export folder -------------------------------------------------------------------------

def test_save_and_load_round_trip(lesson, tmp_path):
    paths_written = dp.save_export(tmp_path, lesson.model, lesson.codes, lesson.labels,
                                   lesson.tflm_model)
    assert sorted(p.name for p in paths_written) == sorted(
        [dp.EXPORT_NAME, dp.SAMPLES_NAME, dp.TFLM_EXPORT_NAME])
    back = dp.load_exported(tmp_path)
    assert back.graph.data == lesson.model and back.tflm_model.data == lesson.tflm_model
    assert np.array_equal(back.codes, lesson.codes) and back.codes.dtype == np.int8
    assert list(back.labels) == list(range(10))
    meta = json.loads((tmp_path / dp.SAMPLES_NAME).read_text(encoding="utf-8"))
    assert meta["model"] == dp.EXPORT_NAME and meta["tflm_model"] == dp.TFLM_EXPORT_NAME
    # a later export whose network is per-tensor itself removes the older TFLM model
    dp.save_export(tmp_path, lesson.tflm_model, lesson.codes, lesson.labels)
    assert not (tmp_path / dp.TFLM_EXPORT_NAME).exists()
    back = dp.load(tmp_path)
    assert back.tflm_graph is None and back.tflm_name == dp.EXPORT_NAME


def test_load_exported_is_none_without_an_export_and_refuses_a_partial_one(lesson, tmp_path):
    assert dp.load_exported(tmp_path) is None
    (tmp_path / dp.EXPORT_NAME).write_bytes(lesson.model)
    with pytest.raises(FileNotFoundError, match="lacks digits_samples.json.*lesson 08"):
        dp.load_exported(tmp_path)
    (tmp_path / dp.SAMPLES_NAME).write_text("{not json", encoding="utf-8")
    with pytest.raises(ValueError, match="not valid JSON"):
        dp.load(tmp_path)
    (tmp_path / dp.SAMPLES_NAME).write_text(json.dumps({"codes": [[0] * 64], "labels": [0],
                                                        "tflm_model": dp.TFLM_EXPORT_NAME}))
    with pytest.raises(FileNotFoundError, match="lacks digits_cnn_int8_per_tensor.tflite"):
        dp.load(tmp_path)


def _bad_calls(lesson, tmp_path):
    m, t, c, y = lesson.model, lesson.tflm_model, lesson.codes, lesson.labels
    return [
        (lambda: dp.make_export("model.tflite", c, y), TypeError, "tflite bytes"),
        (lambda: dp.make_export(m, c.astype(np.float32), y), TypeError, "not the images"),
        (lambda: dp.make_export(m, "codes", y), TypeError, "int8 input codes"),
        (lambda: dp.make_export(m, c[:, :60], y, t), ValueError, "64 codes per digit"),
        (lambda: dp.make_export(m, np.zeros((21, 64), np.int8), np.zeros(21, int), t),
         ValueError, "1 to 20 digits"),
        (lambda: dp.make_export(m, c.astype(np.int32) * 3, y, t), ValueError, "-128..127"),
        (lambda: dp.make_export(m, c, y[:5], t), ValueError, "one label per stored digit"),
        (lambda: dp.make_export(m, c, y + 1, t), ValueError, "labels must lie in 0..9"),
        (lambda: dp.make_export(m, c, y.astype(float), t), TypeError, "integers 0..9"),
        (lambda: dp.make_export(m, c, y), ValueError, "per-channel Dense.*per_channel=False"),
        (lambda: dp.make_export(m, c, y, m), ValueError, "per-channel Dense"),
        (lambda: dp.projects("export"), TypeError, "digits_projects.Export"),
        (lambda: dp.projects(lesson.value, arena_note="by hand"), ValueError, "pass both"),
        (lambda: dp.projects(lesson.value, arena_size=-1), ValueError, "arena"),
        (lambda: dp.save_export(42, m, c, y, t), TypeError, "folder path"),
        (lambda: dp.save_export(tmp_path / "file.txt", m, c, y, t), ValueError, "is a file"),
        (lambda: dp.sample_digits(m, lesson.images, np.zeros(10, int)), ValueError,
         "no image of class 1"),
        (lambda: dp.expected_output(lesson.value, tflm_sketch=1), TypeError, "True or False"),
        (lambda: dp.Export(m, c, y), TypeError, "graph.Graph"),
        (lambda: dp.Export(lesson.value.graph, c.astype(np.int16), y), TypeError, "int8 array"),
        (lambda: dp.write_projects(m, c, y, None, t), TypeError, "folder path"),
    ]


def test_bad_input_is_refused_with_a_clear_error(lesson, tmp_path):
    (tmp_path / "file.txt").write_text("x")
    for call, error, words in _bad_calls(lesson, tmp_path):
        with pytest.raises(error, match=words):
            call()


def test_a_float_model_is_refused(lesson):
    from tinyml_helpers import digits
    from tinyml_helpers.deploy import litert

    float_model = litert.convert(digits.cnn(), "float32")
    with pytest.raises(ValueError, match="full-int8"):
        dp.make_export(float_model, lesson.codes, lesson.labels, lesson.tflm_model)


# --- the plain-C sketch on the Uno (arduino-builder, simavr) -------------------------------------

def _compile_uno(folder: Path, build_dir: Path, defines: dict) -> Path:
    """Compile ``folder``'s sketch for the Uno with arduino-builder, the display library being
    the stand-in; return the .elf. (toolchains.compile_uno takes no library folder.)"""
    libraries = build_dir.parent / f"{build_dir.name}-libraries"
    (libraries / "U8g2").mkdir(parents=True)
    build_dir.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(SHIM / "U8x8lib.h", libraries / "U8g2" / "U8x8lib.h")
    flags = ["-DDECIMAL_DIG=__DECIMAL_DIG__", *(f"-D{k}={v}" for k, v in defines.items())]
    sketch = next(folder.glob("*.ino"))
    run = subprocess.run(
        ["arduino-builder", "-compile", "-hardware", "/usr/share/arduino/hardware",
         "-hardware", "/usr/share/arduino-builder", "-tools", "/usr/bin",
         "-fqbn", toolchains.UNO_FQBN, "-libraries", str(libraries.resolve()),
         "-prefs=compiler.cpp.extra_flags=" + " ".join(flags),
         "-build-path", str(build_dir.resolve()), str(sketch.resolve())],
        capture_output=True, text=True, check=False)
    elf = build_dir / f"{sketch.name}.elf"
    assert run.returncode == 0 and elf.exists(), (run.stdout + run.stderr)[-4000:]
    return elf


@NEEDS_BUILDER
@NEEDS_SIMAVR
def test_plain_sketch_fits_the_uno_and_prints_tflms_classes(written, lesson, tmp_path):
    elf = _compile_uno(written / "arduino" / dp.ARDUINO_FOLDER, tmp_path / "uno", RUN_ONCE)
    sizes = toolchains.avr_size(elf)
    print(f"\nUno, plain-C digits sketch with the stand-in display library: "
          f"{sizes['flash']:,} B flash, {sizes['ram']:,} B static RAM "
          f"(+{U8X8_RAM} B with the real U8g2)")
    assert sizes["flash"] <= toolchains.UNO_FLASH_BYTES
    assert sizes["ram"] + U8X8_RAM <= toolchains.UNO_RAM_BYTES - STACK_RESERVE, sizes
    lines = [line for line in toolchains.run_uno(elf) if not line.startswith("Loaded ")]
    _, rows, other = parse_serial(lines, dp.ROW_KEYS, dp.PASS_LINE)
    assert [(r["digit"], r["label"], r["class"], r["confidence"]) for r in rows] == \
        _expected(lesson.value)
    assert all(10_000 < int(r["us"]) < 2_000_000 for r in rows), rows  # the Uno at 16 MHz
    assert self_test.parse(lines) == self_test.Result(True, 10, 10)
    assert split_notes(lines, dp.PASS_LINE) == [dp.expected_output(lesson.value).splitlines()[-1]]
    assert other == ["digits_cnn: int8 CNN on 8x8 digits (plain C), SSD1306 display", "done"]


# --- the plain-C sketch on this PC, through the ESP32 code path, and what it draws --------------

def _host_sketch(folder: Path, tmp_path: Path, defines: dict) -> subprocess.CompletedProcess:
    """Build ``folder``'s sketch with g++ against deploy/arduino_shim (ARDUINO_ARCH_ESP32, the
    stand-in display logging to stderr) and run it."""
    objects = []
    for source in sorted(folder.glob("*.c")):
        obj = tmp_path / f"{source.stem}.o"
        subprocess.run(["gcc", "-O2", "-std=gnu99", "-Wall", "-Wextra", "-Werror", "-I",
                        str(folder), "-c", str(source), "-o", str(obj)], check=True)
        objects.append(str(obj))
    exe = tmp_path / "sketch"
    flags = ["-O2", "-std=gnu++17", "-Wall", "-Wextra", "-Werror", "-DARDUINO_ARCH_ESP32",
             "-DARDUINO_SHIM_DISPLAY_LOG", *(f"-D{k}={v}" for k, v in defines.items())]
    subprocess.run(["g++", *flags, "-include", str(SHIM / "Arduino.h"), "-I", str(SHIM), "-I",
                    str(folder), "-x", "c++", str(next(folder.glob("*.ino"))), "-x", "none",
                    str(SHIM / "arduino_shim.cpp"), *objects, "-lm", "-o", str(exe)],
                   check=True)
    return subprocess.run([str(exe)], capture_output=True, text=True, timeout=60, check=True)


def _drawn(log: str) -> list[dict]:
    """Return per drawn digit {"tiles": {(col, row): bytes}, "text": {(col, row): str}} from the
    stand-in display's log (a digit starts with its tile at 0 0)."""
    screens = []
    for line in log.splitlines():
        kind, *rest = line.split(" ", 4)[1:]
        if kind == "tile":
            col, row, *data = line.split()[2:]
            if (col, row) == ("0", "0"):
                screens.append({"tiles": {}, "text": {}})
            screens[-1]["tiles"][int(col), int(row)] = bytes(int(b, 16) for b in data)
        elif kind in ("text", "text2x2") and screens:
            col, row, text = rest[0], rest[1], line.split(" ", 4)[4]
            screens[-1]["text"][int(col), int(row)] = text
    return screens


def _tile(level: int) -> bytes:
    return bytes(sum(1 << y for y in range(8) if DITHER[y & 3][x & 3] < level)
                 for x in range(8))


@NEEDS_GXX
def test_plain_sketch_on_this_pc_prints_tflms_classes_and_draws_the_digits(written, lesson,
                                                                          tmp_path):
    run = _host_sketch(written / "arduino" / dp.ARDUINO_FOLDER, tmp_path, RUN_ONCE)
    lines = [line.rstrip("\r") for line in run.stdout.splitlines()]
    _, rows, other = parse_serial(lines, dp.ROW_KEYS, dp.PASS_LINE)
    assert [(r["digit"], r["label"], r["class"], r["confidence"]) for r in rows] == \
        _expected(lesson.value)
    assert lines[1] == "self-test: ok (10/10)" and other[-1] == "done"
    screens = _drawn(run.stderr)
    assert run.stderr.startswith("u8x8 begin\n") and len(screens) == len(rows)
    for screen, image, row in zip(screens, lesson.images, rows, strict=True):
        # each pixel of the 8x8 digit is a tile of dots as bright as its 0-16 grey level
        levels = np.round(image[..., 0] * 16).astype(int)
        assert screen["tiles"] == {(c, r): _tile(levels[r, c]) for r in range(8)
                                   for c in range(8)}
        permille = int(row["confidence"][:-1].replace(".", ""))
        assert screen["text"] == {
            (8, 0): "label", (14, 0): row["label"], (8, 2): "class", (11, 3): row["class"],
            (9, 6): f"{permille // 10:>3}.{permille % 10}%",
            (8, 7): "  right" if row["class"] == row["label"] else "  WRONG"}


@NEEDS_GXX
def test_a_changed_self_test_output_is_reported_at_boot(written, lesson, tmp_path):
    folder = tmp_path / "changed"
    shutil.copytree(written / "arduino" / dp.ARDUINO_FOLDER, folder)
    test = self_test.from_tflm(lesson.model, inputs=lesson.codes)
    outputs = test.outputs.copy()
    outputs[2, 7] = outputs[2, 7] + 1 if outputs[2, 7] < 127 else 126
    changed = self_test.SelfTest(test.inputs, outputs)
    (folder / dp.SELF_TEST_NAME).write_text(
        self_test.c_header(dp.SELF_TEST_NAME, {dp.PREFIX: changed}), encoding="utf-8")
    run = _host_sketch(folder, tmp_path, RUN_ONCE)
    lines = [line.rstrip("\r") for line in run.stdout.splitlines()]
    reported = [line for line in lines if line.startswith(self_test.PREFIX)]
    assert reported == self_test.check(changed, test.outputs) + [self_test.advice("C")]
    assert reported[0].startswith("self-test: FAILED at case 3 of 10, output 7: ")
    assert lines[-1] == "done"  # the digits are read on after a failed self-test


# --- the TFLM sketch against the vendored esp-tflite-micro ------------------------------------

def _tflm_needs(target: str):
    reason = tflm_build.unavailable(target, paths.TFLM_TARBALL)
    if reason:
        pytest.skip(reason)


@pytest.mark.parametrize("target", list(tflm_build.TARGETS))
def test_tflm_sketch_prints_tflms_classes(written, made, lesson, target, tmp_path):
    _tflm_needs(target)
    arena = int(made[dp.TFLM_FOLDER].facts["ARENA_INT"])
    run = tflm_build.check_sketch(
        written / "wokwi" / dp.TFLM_FOLDER, target, tmp_path, tflite=lesson.tflm_model,
        arena_size=arena, keys=dp.ROW_KEYS, expected=_expected(lesson.value, tflm_sketch=True),
        compare=("digit", "label", "class", "confidence"), notes=dp.PASS_LINE,
        defines={"TINYML_DELAY_MS": 0}, loops=len(lesson.codes), src=paths.tflm_source())
    assert run.ok and run.arena == arena and 0 < run.arena_used <= arena
    assert run.self_test == self_test.Result(True, 10, 10)
    assert run.notes == [dp.expected_output(lesson.value, True).splitlines()[-1]]


def test_tflm_sketch_guards_the_esp32_core_version(written):
    _tflm_needs("host")
    src = paths.tflm_source()
    folder = written / "wokwi" / dp.TFLM_FOLDER
    done = tflm_build.compile_sketch(folder, "host", src,
                                     defines={"ESP_ARDUINO_VERSION_MAJOR": 4})
    assert done.returncode != 0 and "core 3.x" in done.stderr


# --- the Arduino stand-in's serial parser, with other sketches' rows ---------------------------

def test_parse_serial_reads_the_rows_of_any_keys_and_sets_notes_apart():
    lines = ["demo: 100-byte model, arena 2048 bytes, 900 used", "self-test: ok (2/2)",
             "digit=0, label=3, class=3, confidence=99.6%, us=12",
             "pass 1: 1 of 1 digits read right", "something else"]
    header, rows, other = parse_serial(lines, dp.ROW_KEYS, dp.PASS_LINE)
    assert header == (2048, 900) and other == ["something else"]
    assert rows == [{"digit": "0", "label": "3", "class": "3", "confidence": "99.6%",
                     "us": "12"}]
    assert split_notes(lines, dp.PASS_LINE) == ["pass 1: 1 of 1 digits read right"]
    # the sine sketch's rows keep their strict number format
    _, rows, other = parse_serial(["x=0.100, y=0.099, sin=0.100, us=3", "x=1, y=2, sin=3, us=4"])
    assert rows == [{"x": "0.100", "y": "0.099", "sin": "0.100", "us": "3"}] and len(other) == 1
    with pytest.raises(ValueError, match="distinct names"):
        parse_serial(lines, ("a", "a"))
    with pytest.raises(TypeError, match="regular expression"):
        parse_serial(lines, dp.ROW_KEYS, notes=3)


# --- the build regenerates them from lesson 08's export, or keeps them ------------------------

def test_generate_writes_or_keeps_the_digits_projects_and_lists_them(made, tmp_path):
    plain = ROOT / "arduino" / "hello_world_plain"
    tflm_dir = ROOT / "arduino" / "hello_world_tflm"
    arena = int(re.search(r"kTensorArenaSize = (\d+);",
                          (tflm_dir / "model.h").read_text()).group(1))
    args = ((plain / sine_projects.FLOAT_NAME).read_bytes(),
            (plain / sine_projects.INT8_NAME).read_bytes(),
            tmp_path / "arduino", tmp_path / "wokwi", arena)
    options = {"compile_uno": False,
               "tflm_tflite": (tflm_dir / sine_projects.TFLM_NAME).read_bytes()}
    sine_projects.generate(*args, digits=list(made.values()), **options)
    for project in made.values():
        assert (tmp_path / project.tree / project.folder / "README.md").read_text(
            encoding="utf-8") == project.files["README.md"]
    index = (tmp_path / "wokwi" / "README.md").read_text(encoding="utf-8")
    assert all(f"[`{folder}`]({folder}/)" in index for folder in dp.WOKWI_FOLDERS)
    assert "[`digits_cnn`](digits_cnn/)" in (tmp_path / "arduino" / "README.md").read_text()
    # without them (lesson 08 did not run), the digits projects in place are kept
    sine_projects.generate(*args, **options)
    for project in made.values():
        kept = tmp_path / project.tree / project.folder
        assert sorted(p.name for p in kept.iterdir()) == sorted(project.files)
    assert (tmp_path / "wokwi" / "README.md").read_text(encoding="utf-8") == index
    # and a tree without them does not list them
    assert "digits" not in sine_projects.index_readme("wokwi")
    # the committed trees hold them, and their index lists them
    assert sine_projects.index_readme("wokwi", digits=True) == (
        ROOT / "wokwi" / "README.md").read_text(encoding="utf-8")


def test_export_projects_generates_them_when_lesson_08_exported(lesson, tmp_path, capsys,
                                                                monkeypatch):
    export_dir = tmp_path / "export"
    plain = ROOT / "arduino" / "hello_world_plain"
    for name in (sine_projects.FLOAT_NAME, sine_projects.INT8_NAME):
        files.write_files(export_dir, {name: (plain / name).read_bytes()})
    files.write_files(export_dir, {sine_projects.TFLM_NAME: (
        ROOT / "arduino" / "hello_world_tflm" / sine_projects.TFLM_NAME).read_bytes()})
    root = tmp_path / "repo"
    for tree in ("arduino", "wokwi"):
        shutil.copytree(ROOT / tree, root / tree)
    monkeypatch.setattr(deploy_projects.toolchains, "have", lambda tool: False)  # no Uno build
    committed = {p.relative_to(ROOT / "arduino" / dp.ARDUINO_FOLDER): p.read_bytes()
                 for p in (ROOT / "arduino" / dp.ARDUINO_FOLDER).rglob("*") if p.is_file()}
    build.export_projects(export_dir, root, tmp_path / "staging", update=True)
    assert "keeping the digits projects" in capsys.readouterr().out
    kept = root / "arduino" / dp.ARDUINO_FOLDER  # lesson 08 did not export: kept as committed
    assert {p.relative_to(kept): p.read_bytes() for p in kept.rglob("*") if p.is_file()} \
        == committed
    dp.save_export(export_dir, lesson.model, lesson.codes, lesson.labels, lesson.tflm_model)
    build.export_projects(export_dir, root, tmp_path / "staging", update=True)
    assert "keeping the digits projects" not in capsys.readouterr().out
    expected = {p.folder: p for p in dp.projects(dp.load(export_dir))}
    for folder, project in expected.items():
        for name, content in project.files.items():
            path = root / project.tree / folder / name
            assert (path.read_bytes() if isinstance(content, bytes)
                    else path.read_text(encoding="utf-8")) == content, path
