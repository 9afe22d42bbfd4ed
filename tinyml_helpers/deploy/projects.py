"""Generate the Arduino sketch folders (``arduino/``) and Wokwi simulator projects (``wokwi/``)
from the two .tflite models of lesson 06.

Projects (each folder also keeps the .tflite it was generated from):

* ``arduino/hello_world_plain`` — library-free C (:func:`export.plain_c_files`), int8 or float
  chosen by ``USE_INT8`` in the sketch; any board, the Uno included.
* ``arduino/hello_world_tflm`` — TensorFlow Lite Micro on an ESP32 (arduino-esp32 core 3.x,
  whose built-in "TFLite Micro" library needs no install), model.h/model.cpp with the exact
  tensor arena.
* ``wokwi/esp32_hello_world_plain``, ``wokwi/esp32_hello_world_tflm``,
  ``wokwi/uno_hello_world_plain`` — the same sketches as ``sketch.ino`` with a diagram.json
  (board + LED + resistor + serial monitor), libraries.txt and wokwi.toml.
* ``arduino/fan_anomaly``, ``wokwi/esp32_fan_anomaly``, ``wokwi/uno_fan_anomaly`` — an
  anomaly detector on embedded sample windows, printing scores and verdicts. Its C, windows
  and facts come in a :class:`DetectorProject` made by the lesson (lesson 07's fan detector).

:func:`generate` rewrites everything atomically: it builds the new folders beside the old
ones and swaps them in, so a failure leaves the previous projects untouched. Without a
detector project, the fan projects already in place are kept as they are.
"""

from __future__ import annotations

import functools
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import cgen, export, micropython, self_test, tflm, toolchains, wokwi
from .cgen import banner
from .dense import Int8Model, data_bytes, layers_from_tflite
from .files import new_folder_beside, swap_in, write_atomic
from .hello_world import (  # noqa: F401  (int8_predictions: part of this module's interface)
    DELAY_MS,
    ESP32_LED_PIN,
    STEPS,
    UNO_LED_PIN,
    int8_predictions,
    sketch_x,
)

TEMPLATES = Path(__file__).resolve().parent / "templates"
UNO_FAN_LED_PIN = "13"  # LED_BUILTIN: the fan sketch only switches its LED on and off
ESP32_CORE_VERSION = "3.3.7"  # arduino-esp32, ships the "TFLite Micro" library
AVR_CORE_VERSION = "1.8.6"
ESP32_INDEX_URL = "https://espressif.github.io/arduino-esp32/package_esp32_index.json"
FLOAT_NAME, INT8_NAME = "sine_float.tflite", "sine_int8.tflite"
# The TFLM sketch's model: Dense layers quantized per tensor, which every esp-tflite-micro an
# arduino-esp32 3.x core may bundle computes right (ESP-NN before 1.3.4 gets per-channel
# Dense layers wrong: tinyml_helpers.deploy.esp_nn).
TFLM_NAME = "sine_int8_per_tensor.tflite"
FAN_ARDUINO = "fan_anomaly"
FAN_WOKWI = ("esp32_fan_anomaly", "uno_fan_anomaly")
ARDUINO_PROJECTS = ("hello_world_plain", "hello_world_tflm", FAN_ARDUINO)
WOKWI_PROJECTS = ("esp32_hello_world_plain", "esp32_hello_world_tflm", "uno_hello_world_plain",
                  micropython.PROJECT, *FAN_WOKWI)
UNO_WOKWI = ("uno_hello_world_plain", "uno_fan_anomaly")  # compiled by generate()
WOKWI_BUILD = "build"  # firmware folder inside a Wokwi project, named in its wokwi.toml


def render(template: str, **values) -> str:
    """Return project template ``template`` with every ``{{KEY}}`` replaced by its value."""
    return cgen.render(TEMPLATES / cgen.file_name(template, "template"), **values)


# --- the models -----------------------------------------------------------------------------

@dataclass(frozen=True)
class Models:
    """Both .tflite files with what the projects need to know about them."""

    float_tflite: bytes
    int8_tflite: bytes
    float_layers: list
    int8: Int8Model
    arena_size: int  # the TFLM sketch's tensor arena
    arena_note: str = export.ARENA_NOTE  # how arena_size was measured, for model.h and READMEs
    tflm_tflite: bytes = b""  # the TFLM sketch's model (per-tensor Dense), int8_tflite if empty

    @property
    def tflm_model(self) -> bytes:
        """Return the .tflite the TFLM sketch runs."""
        return self.tflm_tflite or self.int8_tflite

    @property
    def tflm_name(self) -> str:
        """Return the file name the TFLM projects keep their model under."""
        return TFLM_NAME if self.tflm_tflite else INT8_NAME

    # The boot self-tests run the TFLM runtime: computed once per Models, not per project.
    @functools.cached_property
    def tflm_int8(self) -> Int8Model:
        """Return the layers of the TFLM sketch's model."""
        return self.int8 if not self.tflm_tflite else layers_from_tflite(self.tflm_tflite)

    @functools.cached_property
    def int8_test(self) -> self_test.SelfTest:
        """Return the int8 plain-C (and MicroPython) self-test: TFLM's outputs for spread
        input codes."""
        return self_test.from_tflm(self.int8_tflite)

    @functools.cached_property
    def float_test(self) -> self_test.SelfTest:
        """Return the float plain-C self-test: the float model's outputs for the x values of
        the int8 cases (their codes dequantized), so both builds check the same points."""
        codes = self.int8_test.inputs.astype(np.float32)
        x = np.float32(self.int8.input_scale) * (codes - np.float32(self.int8.input_zero_point))
        return self_test.from_tflm(self.float_tflite, inputs=x.astype(np.float32))

    @functools.cached_property
    def tflm_test(self) -> self_test.SelfTest:
        """Return the TFLM sketch's self-test: TFLM's outputs for spread input codes."""
        return self_test.from_tflm(self.tflm_model)


def per_channel_layers(tflite: bytes) -> list[int]:
    """Return the (1-based) int8 Dense layers of ``tflite`` quantized per output channel."""
    model = layers_from_tflite(tflite)
    if not isinstance(model, Int8Model):
        raise TypeError("expected a full-int8 model, got a float one")
    return [i for i, layer in enumerate(model.layers, 1) if layer.per_channel]


def load_models(float_tflite: bytes, int8_tflite: bytes, arena_size: int | None = None,
                arena_note: str | None = None, tflm_tflite: bytes | None = None) -> Models:
    """Return :class:`Models` after checking the files are a float and a full-int8 model with
    one input and one output; ``arena_size`` None measures the TFLM arena with the Python
    runtime (~15 s). ``arena_note`` says how a given ``arena_size`` was measured (e.g. on a
    32-bit board: see :func:`tinyml_helpers.deploy.tflm_build.arena_minimum`).

    ``tflm_tflite`` is the TFLM sketch's model: the same network with per-tensor Dense
    quantization (``litert.convert(model, "int8", representative, per_channel=False)``). It
    may be left out only when ``int8_tflite`` is per-tensor itself: a per-channel model gives
    wrong numbers on ESP32 cores whose esp-tflite-micro predates 1.3.4."""
    if arena_note is not None and arena_size is None:
        raise ValueError("arena_note describes a given arena_size; pass both or neither")
    note = cgen.comment_text(arena_note, "arena_note") if arena_note else export.ARENA_NOTE
    tflm.check_arena_size(arena_size, allow_none=True)
    float_layers = layers_from_tflite(float_tflite)
    if isinstance(float_layers, Int8Model):
        raise TypeError("float_tflite is an int8 model; pass the float32 .tflite first")
    int8 = layers_from_tflite(int8_tflite)
    if not isinstance(int8, Int8Model):
        raise TypeError("int8_tflite is a float model; pass the full-int8 .tflite second")
    for name, first, last in (("float", float_layers[0].weights, float_layers[-1].weights),
                              ("int8", int8.layers[0].weights, int8.layers[-1].weights)):
        if first.shape[1] != 1 or last.shape[0] != 1:
            raise ValueError(f"the sketches feed one x and read one y; the {name} model has "
                             f"{first.shape[1]} inputs and {last.shape[0]} outputs")
    tflm_model = int8_tflite if tflm_tflite is None else tflm_tflite
    if not isinstance(tflm_model, (bytes, bytearray)):
        raise TypeError(f"tflm_tflite must be .tflite bytes, got {type(tflm_model).__name__}")
    tflm_int8 = layers_from_tflite(tflm_model)
    if not isinstance(tflm_int8, Int8Model):
        raise TypeError("tflm_tflite is a float model; pass the full-int8, per-tensor .tflite")
    per_channel = [i for i, layer in enumerate(tflm_int8.layers, 1) if layer.per_channel]
    if per_channel:
        raise ValueError(
            f"the TFLM sketch's model has per-channel Dense layers ({per_channel}): ESP32 cores "
            "with esp-tflite-micro before 1.3.4 compute those wrong. Pass tflm_tflite= the same "
            "network converted with litert.convert(model, 'int8', representative, "
            "per_channel=False)")
    if tflm_int8.n_inputs != int8.n_inputs or tflm_int8.n_outputs != int8.n_outputs \
            or len(tflm_int8.layers) != len(int8.layers):
        raise ValueError("tflm_tflite must be the same network as int8_tflite (same layers, "
                         "one input, one output)")
    if arena_size is None:
        arena_size = tflm.arena_size(tflm_model)
    return Models(bytes(float_tflite), bytes(int8_tflite), float_layers, int8, int(arena_size),
                  note, b"" if tflm_tflite is None else bytes(tflm_tflite))


def expected_output(models: Models, lines: int = 5, tflm_sketch: bool = False) -> str:
    """Return the first serial-monitor lines of the int8 sketch (timings shown as ``…``);
    ``tflm_sketch`` for the TFLM sketch's model."""
    if not isinstance(models, Models):
        raise TypeError(f"models must be projects.Models, got {type(models).__name__}")
    if isinstance(lines, bool) or not isinstance(lines, (int, np.integer)):
        raise TypeError(f"lines must be an int, got {type(lines).__name__} {lines!r}")
    if not 0 < lines <= STEPS:
        raise ValueError(f"lines must be in 1..{STEPS}, got {lines}")
    x = sketch_x()[:lines]
    model = models.tflm_int8 if tflm_sketch else models.int8
    y = int8_predictions(model, x)
    rows = [f"x={xi:.3f}, y={yi:.3f}, sin={np.sin(xi):.3f}, us=…"
            for xi, yi in zip(x, y, strict=True)]
    return "\n".join(rows)


# --- file contents --------------------------------------------------------------------------

def _with_banner(name: str, text: str) -> str:
    return banner(name) + text


def _copied(files: dict[str, str], origin: str) -> dict[str, str]:
    """Return hand-written C files with a banner naming the folder they are copied from."""
    return {name: _with_banner(f"{name} (copied from {origin})", text)
            for name, text in files.items()}


def _plain_sources(models: Models) -> dict[str, str]:
    files = {}
    files.update(export.plain_c_files(models.int8, prefix="sine_int8"))
    files.update(export.plain_c_files(models.float_layers, prefix="sine_float"))
    files.update(_copied(export.kernel_files(), export.KERNEL_ORIGIN))
    files["sine_self_test.h"] = self_test.c_header(
        "sine_self_test.h", {"sine_int8": models.int8_test, "sine_float": models.float_test})
    return files


def _facts(models: Models) -> dict[str, str]:
    return {
        "FLOAT_BYTES": f"{len(models.float_tflite):,}",
        "INT8_BYTES": f"{len(models.int8_tflite):,}",
        "INT8_BYTES_INT": str(len(models.int8_tflite)),
        "INT8_DATA_BYTES": f"{data_bytes(models.int8):,}",
        "TFLM_NAME": models.tflm_name,
        "TFLM_BYTES": f"{len(models.tflm_model):,}",
        "TFLM_BYTES_INT": str(len(models.tflm_model)),
        "TFLM_EXPECTED": expected_output(models, tflm_sketch=True),
        "SELF_TEST_OK": models.tflm_test.ok_line(),
        "FLOAT_DATA_BYTES": f"{data_bytes(models.float_layers):,}",
        "ARENA": f"{models.arena_size:,}",
        "ARENA_INT": str(models.arena_size),
        "ARENA_NOTE": models.arena_note,
        "EXPECTED": expected_output(models),
        "STEPS_TEXT": str(STEPS),
        "ESP32_CORE": ESP32_CORE_VERSION,
        "AVR_CORE": AVR_CORE_VERSION,
        "ESP32_INDEX_URL": ESP32_INDEX_URL,
    }


def _readme(template: str, project: str, models: Models) -> str:
    return render(template, BANNER=banner(f"{project}/README.md", "html").rstrip("\n"),
                  PROJECT=project, **_facts(models))


def _stop_running() -> str:
    """Return the sketches' shared stop_running() (a template part)."""
    return render("stop_running.ino.part").rstrip("\n")


def _plain_sketch(name: str, project: str) -> str:
    return render("hello_world_plain.ino", BANNER=banner(name).rstrip("\n"), PROJECT=project,
                  STOP_RUNNING=_stop_running(), SELF_TEST_ADVICE=self_test.advice("C"),
                  STEPS=STEPS)


def _tflm_sketch(name: str, project: str) -> str:
    return render("hello_world_tflm.ino", BANNER=banner(name).rstrip("\n"), PROJECT=project,
                  STEPS=STEPS, LED_PIN=ESP32_LED_PIN, DELAY_MS=DELAY_MS)


def _tflm_model_files(models: Models, project: str) -> dict[str, str]:
    files = export.c_array_files(models.tflm_model, name="g_model",
                                 arena_size=models.arena_size, header="model.h",
                                 arena_note=models.arena_note)
    name = "model_self_test.h"
    guard = cgen.include_guard(f"{project}_{name}")
    files[name] = (banner(f"{project}/{name}") + f"#ifndef {guard}\n#define {guard}\n\n"
                   "#include <stdint.h>\n\n"
                   + self_test.c_arrays(models.tflm_test, "model")
                   + f"\n#endif /* {guard} */\n")
    return files


def _sketch_yaml(project: str, profiles: list[tuple[str, str, str, str]]) -> str:
    lines = [banner(f"{project}/sketch.yaml", "#").rstrip("\n"),
             "# arduino-cli build profiles (reproducible builds with pinned cores):",
             f"#   arduino-cli compile --profile {profiles[0][0]} .", "profiles:"]
    for name, notes, fqbn, platform in profiles:
        lines += [f"  {name}:", f"    notes: {notes}", f"    fqbn: {fqbn}", "    platforms:",
                  f"      - platform: {platform}"]
        if platform.startswith("esp32:"):
            lines.append(f"        platform_index_url: {ESP32_INDEX_URL}")
    lines.append(f"default_profile: {profiles[0][0]}")
    return "\n".join(lines) + "\n"


_UNO_PROFILE = ("uno", "Arduino Uno (ATmega328P, 32 KB flash, 2 KB RAM)", "arduino:avr:uno",
                f"arduino:avr ({AVR_CORE_VERSION})")
_ESP32_PROFILE = ("esp32", "ESP32 DevKit (ESP32-WROOM-32), Espressif core 3.x",
                  "esp32:esp32:esp32", f"esp32:esp32 ({ESP32_CORE_VERSION})")


def arduino_projects(models: Models) -> dict[str, dict[str, str | bytes]]:
    """Return {folder: {file: content}} for every project under ``arduino/``."""
    if not isinstance(models, Models):
        raise TypeError(f"models must be projects.Models (from load_models), got "
                        f"{type(models).__name__}")
    plain = {"hello_world_plain.ino": _plain_sketch("hello_world_plain.ino",
                                                     "hello_world_plain")}
    plain.update(_plain_sources(models))
    plain["sketch.yaml"] = _sketch_yaml("hello_world_plain", [_UNO_PROFILE, _ESP32_PROFILE])
    plain["README.md"] = _readme("arduino_hello_world_plain.md", "hello_world_plain", models)
    plain[INT8_NAME] = models.int8_tflite
    plain[FLOAT_NAME] = models.float_tflite

    tflm = {"hello_world_tflm.ino": _tflm_sketch("hello_world_tflm.ino", "hello_world_tflm")}
    tflm.update(_tflm_model_files(models, "hello_world_tflm"))
    tflm["sketch.yaml"] = _sketch_yaml("hello_world_tflm", [_ESP32_PROFILE])
    tflm["README.md"] = _readme("arduino_hello_world_tflm.md", "hello_world_tflm", models)
    tflm[models.tflm_name] = models.tflm_model
    return {"hello_world_plain": plain, "hello_world_tflm": tflm}


def _wokwi_toml(project: str, firmware: str) -> str:
    return (banner(f"{project}/wokwi.toml", "#")
            + "# Wokwi for VS Code: build the firmware first (see README.md), then\n"
              "# F1 -> \"Wokwi: Start Simulator\". Paths are relative to this file.\n"
              f"[wokwi]\nversion = 1\nfirmware = '{WOKWI_BUILD}/{firmware}'\n"
              f"elf = '{WOKWI_BUILD}/sketch.ino.elf'\n")


def _libraries_txt(project: str, note: str) -> str:
    return banner(f"{project}/libraries.txt", "#") + f"# {note}\n"


def _diagram(project: str, board: str, led_pin: str) -> str:
    author = banner(f"{project}/diagram.json", "#")[2:].rstrip("\n")
    return wokwi.dumps(wokwi.led_diagram(board, led_pin, author=author))


def _plain_wokwi_folder(project: str, board: str, pin: str, sketch: str,
                        sources: dict[str, str], what: str, readme: str,
                        kept: dict[str, bytes]) -> dict[str, str | bytes]:
    """Return the files of a library-free Wokwi project: sketch, C sources, diagram,
    libraries.txt, wokwi.toml, README and the model files it was made from (``kept``)."""
    firmware = "sketch.ino.merged.bin" if board == "esp32" else "sketch.ino.hex"
    return {"sketch.ino": sketch, **sources, "diagram.json": _diagram(project, board, pin),
            "libraries.txt": _libraries_txt(
                project, f"No Library Manager library needed: {what} is plain C in this folder."),
            "wokwi.toml": _wokwi_toml(project, firmware), "README.md": readme, **kept}


def wokwi_projects(models: Models) -> dict[str, dict[str, str | bytes]]:
    """Return {folder: {file: content}} for every project under ``wokwi/``."""
    if not isinstance(models, Models):
        raise TypeError(f"models must be projects.Models (from load_models), got "
                        f"{type(models).__name__}")
    projects = {}
    for project, board, pin in (("esp32_hello_world_plain", "esp32", ESP32_LED_PIN),
                                ("uno_hello_world_plain", "uno", UNO_LED_PIN)):
        projects[project] = _plain_wokwi_folder(
            project, board, pin, _plain_sketch(f"{project}/sketch.ino", project),
            _plain_sources(models), "the model", _readme(f"wokwi_{project}.md", project, models),
            {INT8_NAME: models.int8_tflite, FLOAT_NAME: models.float_tflite})

    project = "esp32_hello_world_tflm"
    files = {"sketch.ino": _tflm_sketch(f"{project}/sketch.ino", project)}
    files.update(_tflm_model_files(models, project))
    files["diagram.json"] = _diagram(project, "esp32", ESP32_LED_PIN)
    files["libraries.txt"] = _libraries_txt(
        project, "No Library Manager library needed: TFLite Micro is built into the "
                 "arduino-esp32 core 3.x.")
    files["wokwi.toml"] = _wokwi_toml(project, "sketch.ino.merged.bin")
    files["README.md"] = _readme(f"wokwi_{project}.md", project, models)
    files[models.tflm_name] = models.tflm_model
    projects[project] = files
    projects[micropython.PROJECT] = {**micropython.wokwi_project(models.int8,
                                                                 test=models.int8_test),
                                     INT8_NAME: models.int8_tflite}
    return projects


# --- an anomaly detector over embedded sample windows (lesson 07's fan) -----------------

@dataclass(frozen=True)
class DetectorProject:
    """What the anomaly-detector sketches are made of, handed over by the lesson that made the
    detector (:func:`tinyml_helpers.fan_detector.project`): nothing here knows about fans."""

    c_files: dict[str, str]  # the detector's C: generated configs, its model, hand-written files
    hand_written: dict[str, str]  # {name in c_files: folder it is copied from}, for the banner
    windows_header: str  # fan_windows.h: the sample windows the sketch classifies
    model_files: dict[str, str | bytes]  # the .tflite and settings kept beside the sketch
    facts: dict[str, str]  # values for the sketch and README templates (EXPECTED, THRESHOLD…)

    def __post_init__(self):
        for what in ("c_files", "hand_written", "model_files", "facts"):
            value = getattr(self, what)
            if not isinstance(value, dict):
                raise TypeError(f"{what} must be a dict, got {type(value).__name__}")
            for name, content in value.items():
                if what != "facts":
                    cgen.file_name(name, f"a {what} name")
                kinds = (str, bytes) if what == "model_files" else (str,)
                if not isinstance(content, kinds):
                    raise TypeError(f"{what}[{name!r}] must be "
                                    f"{' or '.join(k.__name__ for k in kinds)}, got "
                                    f"{type(content).__name__}")
        if not isinstance(self.windows_header, str):
            raise TypeError("windows_header must be the C text of fan_windows.h (a str)")
        missing = [name for name in self.hand_written if name not in self.c_files]
        if missing:
            raise ValueError(f"hand_written names files not in c_files: {missing}")
        needed = {"EXPECTED", "N_WINDOWS", "SAMPLE_RATE"}
        if not needed <= set(self.facts):
            raise ValueError(f"facts must hold {sorted(needed)}, got {sorted(self.facts)}")


def _fan_sources(fan: DetectorProject) -> dict[str, str]:
    files = dict(fan.c_files)
    for name, origin in fan.hand_written.items():
        files.update(_copied({name: files[name]}, origin))
    files.update(_copied(export.kernel_files(), export.KERNEL_ORIGIN))
    files["fan_windows.h"] = fan.windows_header
    return files


def _fan_facts(fan: DetectorProject) -> dict[str, str]:
    return {**fan.facts, "ESP32_LED_PIN": ESP32_LED_PIN, "ESP32_CORE": ESP32_CORE_VERSION,
            "AVR_CORE": AVR_CORE_VERSION, "ESP32_INDEX_URL": ESP32_INDEX_URL}


def _fan_sketch(name: str, project: str, facts: dict[str, str]) -> str:
    return render("fan_anomaly.ino", BANNER=banner(name).rstrip("\n"), PROJECT=project,
                  STOP_RUNNING=_stop_running(), SELF_TEST_ADVICE=self_test.advice("C"),
                  N_WINDOWS=facts["N_WINDOWS"], SAMPLE_RATE=facts["SAMPLE_RATE"],
                  ESP32_LED_PIN=ESP32_LED_PIN)


def _fan_readme(template: str, project: str, facts: dict[str, str]) -> str:
    return render(template, BANNER=banner(f"{project}/README.md", "html").rstrip("\n"),
                  PROJECT=project, **facts)


def fan_projects(fan: DetectorProject) -> tuple[dict, dict]:
    """Return ({arduino folder: files}, {wokwi folder: files}) of the anomaly detector."""
    if not isinstance(fan, DetectorProject):
        raise TypeError(f"fan must be a projects.DetectorProject, got {type(fan).__name__}")
    facts = _fan_facts(fan)
    sources = _fan_sources(fan)
    models = fan.model_files
    arduino = {f"{FAN_ARDUINO}.ino": _fan_sketch(f"{FAN_ARDUINO}.ino", FAN_ARDUINO, facts)}
    arduino.update(sources)
    arduino["sketch.yaml"] = _sketch_yaml(FAN_ARDUINO, [_UNO_PROFILE, _ESP32_PROFILE])
    arduino["README.md"] = _fan_readme("arduino_fan_anomaly.md", FAN_ARDUINO, facts)
    arduino.update(models)
    wokwi_folders = {}
    for project, board, pin in (("esp32_fan_anomaly", "esp32", ESP32_LED_PIN),
                                ("uno_fan_anomaly", "uno", UNO_FAN_LED_PIN)):
        wokwi_folders[project] = _plain_wokwi_folder(
            project, board, pin, _fan_sketch(f"{project}/sketch.ino", project, facts),
            sources, "the detector", _fan_readme(f"wokwi_{project}.md", project, facts),
            models)
    return {FAN_ARDUINO: arduino}, wokwi_folders


# --- writing ----------------------------------------------------------------------------------

def _write_tree(root: Path, projects: dict[str, dict[str, str | bytes]], index: str) -> None:
    write_atomic(root / "README.md", index)
    for folder, files in projects.items():
        cgen.file_name(folder, "project folder")
        (root / folder).mkdir()
        for name, content in files.items():
            write_atomic(root / folder / cgen.file_name(name, f"{folder} file"), content)


def _keep_fan_projects(tree: Path, target: Path, folders) -> None:
    """Copy the fan project folders already in ``target`` into the staged ``tree``."""
    for folder in folders:
        if (target / folder).is_dir():
            shutil.copytree(target / folder, tree / folder)


def _compile_uno_firmware(project_dir: Path) -> None:
    """Compile the Uno Wokwi sketch into ``build/sketch.ino.{hex,elf}`` beside its wokwi.toml."""
    with tempfile.TemporaryDirectory(prefix="uno_build_") as tmp:
        elf = toolchains.compile_uno(project_dir, Path(tmp))
        target = project_dir / WOKWI_BUILD
        target.mkdir(exist_ok=True)
        for source in (elf, elf.with_suffix(".hex")):
            shutil.copyfile(source, target / source.name)


def _index(kind: str) -> str:
    return render(f"{kind}_index.md", BANNER=banner(f"{kind}/README.md", "html").rstrip("\n"))


def generate(float_tflite: bytes, int8_tflite: bytes, arduino_dir, wokwi_dir,
             arena_size: int | None = None, compile_uno: bool = True,
             fan: DetectorProject | None = None, arena_note: str | None = None,
             tflm_tflite: bytes | None = None) -> list[Path]:
    """(Re)write all Arduino and Wokwi projects atomically; return the files written.

    ``fan`` is lesson 07's detector project; without it the fan projects already in the target
    folders are kept unchanged. ``compile_uno`` also builds the Uno Wokwi firmware
    (``build/sketch.ino.hex``/``.elf``) when arduino-builder is installed. ``arena_size``,
    ``arena_note`` and ``tflm_tflite`` (the TFLM sketch's per-tensor model) as for
    :func:`load_models`.
    """
    if fan is not None and not isinstance(fan, DetectorProject):
        raise TypeError(f"fan must be a projects.DetectorProject, got {type(fan).__name__}")
    if not isinstance(compile_uno, bool):
        raise TypeError(f"compile_uno must be True or False, got {compile_uno!r}")
    for name, value in (("arduino_dir", arduino_dir), ("wokwi_dir", wokwi_dir)):
        if isinstance(value, bool) or not isinstance(value, (str, os.PathLike)) \
                or not str(value):
            raise TypeError(f"{name} must be a folder path, got {value!r}")
        if Path(value).exists() and not Path(value).is_dir():
            raise ValueError(f"{name} {value} is a file, not a folder")
    models = load_models(float_tflite, int8_tflite, arena_size, arena_note, tflm_tflite)
    arduino_dir, wokwi_dir = Path(arduino_dir).resolve(), Path(wokwi_dir).resolve()
    if arduino_dir == wokwi_dir:
        raise ValueError("arduino_dir and wokwi_dir must be different folders")
    if arduino_dir in wokwi_dir.parents or wokwi_dir in arduino_dir.parents:
        raise ValueError("arduino_dir and wokwi_dir must not be inside each other (each is "
                         "replaced as a whole)")
    arduino_fan, wokwi_fan = fan_projects(fan) if fan is not None else ({}, {})
    trees = [(arduino_dir, {**arduino_projects(models), **arduino_fan}, "arduino",
              (FAN_ARDUINO,)),
             (wokwi_dir, {**wokwi_projects(models), **wokwi_fan}, "wokwi", FAN_WOKWI)]
    staged: list[tuple[Path, Path]] = []
    try:
        for target, projects, kind, fan_folders in trees:
            new = new_folder_beside(target)
            staged.append((new, target))
            _write_tree(new, projects, _index(kind))
            if fan is None:
                _keep_fan_projects(new, target, fan_folders)
        if compile_uno and toolchains.have("arduino-builder"):
            for project in UNO_WOKWI:
                if (staged[1][0] / project).is_dir():
                    _compile_uno_firmware(staged[1][0] / project)
        swap_in(staged)
    finally:
        for new, _ in staged:
            if new.exists():
                shutil.rmtree(new, ignore_errors=True)
    return sorted(p for target, *_ in trees for p in target.rglob("*") if p.is_file())
