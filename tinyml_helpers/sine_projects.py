"""Lesson 06's projects: the sine model as Arduino sketch folders and Wokwi projects.

:func:`load_models` reads the lesson's .tflite files once (a float model, a full-int8 model and
the TFLM sketch's per-tensor model) into :class:`Models`; :func:`arduino_projects` and
:func:`wokwi_projects` turn them into :class:`~tinyml_helpers.deploy.projects.Project` values:

* ``arduino/hello_world_plain`` — library-free C (:func:`export.plain_c_files`), int8 or float
  chosen by ``USE_INT8`` in the sketch; any board, the Uno included.
* ``arduino/hello_world_tflm`` — TensorFlow Lite Micro on an ESP32 (arduino-esp32 core 3.x,
  whose built-in "TFLite Micro" library needs no install), model.h/model.cpp with the tensor
  arena.
* ``wokwi/esp32_hello_world_plain``, ``wokwi/esp32_hello_world_tflm``,
  ``wokwi/uno_hello_world_plain`` — the same sketches as ``sketch.ino`` with a diagram.json
  (board + LED + resistor + serial monitor), libraries.txt and wokwi.toml, and the MicroPython
  project of :mod:`~tinyml_helpers.deploy.micropython`.

:func:`generate` writes them (with lesson 07's fan projects and lesson 08's digits projects
when given, else keeping those in place) through :func:`tinyml_helpers.deploy.projects.write`;
:func:`zip_projects` packs them into one zip, the single download lesson 06 offers.
Templates live in ``project_templates/``.
"""

from __future__ import annotations

import functools
import io
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import digits_projects, fan_detector
from .deploy import cgen, export, firmware, graph, micropython, projects, self_test, tflm
from .deploy.cgen import banner
from .deploy.dense import Int8Model, data_bytes, layers_from_tflite
from .deploy.files import write_atomic
from .deploy.hello_world import (  # noqa: F401  (int8_predictions: part of this module's interface)
    DELAY_MS,
    ESP32_LED_PIN,
    STEPS,
    UNO_LED_PIN,
    int8_predictions,
    sketch_x,
)

TEMPLATES = Path(__file__).resolve().parent / "project_templates"
FLOAT_NAME, INT8_NAME = "sine_float.tflite", "sine_int8.tflite"
# The TFLM sketch's model: Dense layers quantized per tensor, which every esp-tflite-micro an
# arduino-esp32 3.x core may bundle computes right (ESP-NN before 1.3.4 gets per-channel
# Dense layers wrong: tinyml_helpers.deploy.esp_nn).
TFLM_NAME = "sine_int8_per_tensor.tflite"
FAN_FOLDERS = fan_detector.PROJECT_FOLDERS  # kept in place when generate() gets no fan
DIGITS_FOLDERS = digits_projects.PROJECT_FOLDERS  # kept in place when generate() gets no digits
ARDUINO_PROJECTS = ("hello_world_plain", "hello_world_tflm")
WOKWI_PROJECTS = ("esp32_hello_world_plain", "esp32_hello_world_tflm", "uno_hello_world_plain",
                  micropython.PROJECT)


def render(template: str, **values) -> str:
    """Return project template ``template`` with every ``{{KEY}}`` replaced by its value."""
    return cgen.render(TEMPLATES / cgen.file_name(template, "template"), **values)


# --- the models -----------------------------------------------------------------------------

@dataclass(frozen=True)
class Models:
    """The sketches' models, each read once (a :class:`graph.Graph`; .tflite bytes given here
    are read on the spot), with what the projects need to know about them."""

    float_graph: graph.Graph
    int8_graph: graph.Graph
    float_layers: list
    int8: Int8Model
    arena_size: int  # the TFLM sketch's tensor arena
    arena_note: str = export.ARENA_NOTE  # how arena_size was measured, for model.h and READMEs
    tflm_graph: graph.Graph | None = None  # the TFLM sketch's model (per-tensor Dense)

    def __post_init__(self):
        for name in ("float_graph", "int8_graph", "tflm_graph"):
            value = getattr(self, name)
            if value is not None:
                object.__setattr__(self, name, graph.read(value))

    @property
    def float_tflite(self) -> bytes:
        """Return the float model's .tflite bytes."""
        return self.float_graph.data

    @property
    def int8_tflite(self) -> bytes:
        """Return the int8 model's .tflite bytes."""
        return self.int8_graph.data

    @property
    def tflm_model_graph(self) -> graph.Graph:
        """Return the model the TFLM sketch runs (int8_graph unless a TFLM model was given)."""
        return self.tflm_graph or self.int8_graph

    @property
    def tflm_model(self) -> bytes:
        """Return the .tflite the TFLM sketch runs."""
        return self.tflm_model_graph.data

    @property
    def tflm_name(self) -> str:
        """Return the file name the TFLM projects keep their model under."""
        return TFLM_NAME if self.tflm_graph is not None else INT8_NAME

    # The boot self-tests run the TFLM runtime: computed once per Models, not per project.
    @functools.cached_property
    def tflm_int8(self) -> Int8Model:
        """Return the layers of the TFLM sketch's model."""
        return self.int8 if self.tflm_graph is None else layers_from_tflite(self.tflm_graph)

    @functools.cached_property
    def int8_test(self) -> self_test.SelfTest:
        """Return the int8 plain-C (and MicroPython) self-test: TFLM's outputs for spread
        input codes."""
        return self_test.from_tflm(self.int8_graph)

    @functools.cached_property
    def float_test(self) -> self_test.SelfTest:
        """Return the float plain-C self-test: the float model's outputs for the x values of
        the int8 cases (their codes dequantized), so both builds check the same points."""
        codes = self.int8_test.inputs.astype(np.float32)
        x = np.float32(self.int8.input_scale) * (codes - np.float32(self.int8.input_zero_point))
        return self_test.from_tflm(self.float_graph, inputs=x.astype(np.float32))

    @functools.cached_property
    def tflm_test(self) -> self_test.SelfTest:
        """Return the TFLM sketch's self-test: TFLM's outputs for spread input codes."""
        return self_test.from_tflm(self.tflm_model_graph)

    @functools.cached_property
    def plain_sources(self) -> dict[str, str]:
        """Return the plain-C sketch's C files (generated once, shared by three projects)."""
        files = {}
        for model in (export.plain_c_files(self.int8, prefix="sine_int8"),
                      export.plain_c_files(self.float_layers, prefix="sine_float")):
            firmware.check_fits("uno", model)  # the sketch builds for the Uno: before a compiler
            files.update(model)
        files.update(projects.copied(export.kernel_files(), export.KERNEL_ORIGIN))
        files["sine_self_test.h"] = self_test.c_header(
            "sine_self_test.h", {"sine_int8": self.int8_test, "sine_float": self.float_test})
        return files

    @functools.cached_property
    def facts(self) -> dict[str, str]:
        """Return the values the READMEs quote (sizes, arena, expected serial lines)."""
        return _facts(self)


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
    float_graph, int8_graph = graph.read(float_tflite), graph.read(int8_tflite)
    float_layers = layers_from_tflite(float_graph)
    if isinstance(float_layers, Int8Model):
        raise TypeError("float_tflite is an int8 model; pass the float32 .tflite first")
    int8 = layers_from_tflite(int8_graph)
    if not isinstance(int8, Int8Model):
        raise TypeError("int8_tflite is a float model; pass the full-int8 .tflite second")
    for name, first, last in (("float", float_layers[0].weights, float_layers[-1].weights),
                              ("int8", int8.layers[0].weights, int8.layers[-1].weights)):
        if first.shape[1] != 1 or last.shape[0] != 1:
            raise ValueError(f"the sketches feed one x and read one y; the {name} model has "
                             f"{first.shape[1]} inputs and {last.shape[0]} outputs")
    if tflm_tflite is not None and not isinstance(tflm_tflite, (bytes, bytearray, graph.Graph)):
        raise TypeError(f"tflm_tflite must be .tflite bytes, got {type(tflm_tflite).__name__}")
    tflm_graph = None if tflm_tflite is None else graph.read(tflm_tflite)
    tflm_int8 = layers_from_tflite(tflm_graph or int8_graph)
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
        arena_size = tflm.arena_size(tflm_graph or int8_graph)
    return Models(float_graph, int8_graph, float_layers, int8, int(arena_size), note,
                  tflm_graph)


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
        **projects.CORE_FACTS,
    }


def _readme(template: str, project: str, models: Models) -> str:
    return projects.readme(TEMPLATES / cgen.file_name(template, "template"), project,
                           **models.facts)


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
    files = export.c_array_files(models.tflm_model_graph, name="g_model",
                                 arena_size=models.arena_size, header="model.h",
                                 arena_note=models.arena_note)
    name = "model_self_test.h"
    guard = cgen.include_guard(f"{project}_{name}")
    files[name] = (banner(f"{project}/{name}") + f"#ifndef {guard}\n#define {guard}\n\n"
                   "#include <stdint.h>\n\n"
                   + self_test.c_arrays(models.tflm_test, "model")
                   + f"\n#endif /* {guard} */\n")
    return files


def arduino_projects(models: Models) -> list[projects.Project]:
    """Return the projects under ``arduino/``: hello_world_plain and hello_world_tflm."""
    if not isinstance(models, Models):
        raise TypeError(f"models must be sine_projects.Models (from load_models), got "
                        f"{type(models).__name__}")
    plain = {"hello_world_plain.ino": _plain_sketch("hello_world_plain.ino",
                                                     "hello_world_plain")}
    plain.update(models.plain_sources)
    plain["sketch.yaml"] = projects.sketch_yaml("hello_world_plain",
                                                [projects.UNO_PROFILE, projects.ESP32_PROFILE])
    plain["README.md"] = _readme("arduino_hello_world_plain.md", "hello_world_plain", models)
    plain[INT8_NAME] = models.int8_tflite
    plain[FLOAT_NAME] = models.float_tflite

    tflm = {"hello_world_tflm.ino": _tflm_sketch("hello_world_tflm.ino", "hello_world_tflm")}
    tflm.update(_tflm_model_files(models, "hello_world_tflm"))
    tflm["sketch.yaml"] = projects.sketch_yaml("hello_world_tflm", [projects.ESP32_PROFILE])
    tflm["README.md"] = _readme("arduino_hello_world_tflm.md", "hello_world_tflm", models)
    tflm[models.tflm_name] = models.tflm_model
    return [projects.Project("arduino", "hello_world_plain", plain, models.facts),
            projects.Project("arduino", "hello_world_tflm", tflm, models.facts)]


def wokwi_projects(models: Models) -> list[projects.Project]:
    """Return the projects under ``wokwi/``: the plain sketch on an ESP32 and an Uno, the TFLM
    sketch on an ESP32 and the MicroPython project."""
    if not isinstance(models, Models):
        raise TypeError(f"models must be sine_projects.Models (from load_models), got "
                        f"{type(models).__name__}")
    found = []
    for project, board, pin in (("esp32_hello_world_plain", "esp32", ESP32_LED_PIN),
                                ("uno_hello_world_plain", "uno", UNO_LED_PIN)):
        found.append(projects.wokwi_sketch_project(
            project, board, pin, _plain_sketch(f"{project}/sketch.ino", project),
            models.plain_sources, "the model", _readme(f"wokwi_{project}.md", project, models),
            {INT8_NAME: models.int8_tflite, FLOAT_NAME: models.float_tflite}, models.facts))

    project = "esp32_hello_world_tflm"
    files = {"sketch.ino": _tflm_sketch(f"{project}/sketch.ino", project)}
    files.update(_tflm_model_files(models, project))
    files["diagram.json"] = projects.led_diagram_json(project, "esp32", ESP32_LED_PIN)
    files["libraries.txt"] = projects.libraries_txt(
        project, "No Library Manager library needed: TFLite Micro is built into the "
                 "arduino-esp32 core 3.x.")
    files["wokwi.toml"] = projects.wokwi_toml(project, "sketch.ino.merged.bin")
    files["README.md"] = _readme(f"wokwi_{project}.md", project, models)
    files[models.tflm_name] = models.tflm_model
    found.append(projects.Project("wokwi", project, files, models.facts))
    found.append(projects.Project(
        "wokwi", micropython.PROJECT,
        {**micropython.wokwi_project(models.int8, test=models.int8_test),
         INT8_NAME: models.int8_tflite}))
    return found


def index_readme(tree: str, digits: bool = False) -> str:
    """Return the README of the ``arduino/`` or ``wokwi/`` folder (what each project is);
    ``digits``: the tree holds lesson 08's digits projects, list them too."""
    if tree not in projects.TREES:
        raise ValueError(f"tree must be one of {projects.TREES}, got {tree!r}")
    if not isinstance(digits, bool):
        raise TypeError(f"digits must be True or False, got {digits!r}")
    parts = {key: render(f"{tree}_index_digits_{key.split('_')[1].lower()}.md.part")
             if digits else "" for key in ("DIGITS_ROWS", "DIGITS_NOTE")}
    return render(f"{tree}_index.md", BANNER=banner(f"{tree}/README.md", "html").rstrip("\n"),
                  **parts)


def _lists_digits(tree: str, root, digits) -> bool:
    """Return True if the ``tree`` written into ``root`` will hold digits projects: given
    ones, or (none given) those kept from the folder."""
    if digits is not None:
        return any(p.tree == tree for p in digits)
    folders = [f for f in DIGITS_FOLDERS if f != digits_projects.ARDUINO_FOLDER] \
        if tree == "wokwi" else [digits_projects.ARDUINO_FOLDER]
    return any((Path(root) / folder).is_dir() for folder in folders)


def _check_project_list(name: str, value, maker: str) -> None:
    if value is not None and (isinstance(value, (str, bytes))
                              or not isinstance(value, (list, tuple))
                              or not all(isinstance(p, projects.Project) for p in value)):
        raise TypeError(f"{name} must be the list of projects.Project that {maker} returns, "
                        f"got {type(value).__name__}")


def generate(float_tflite, int8_tflite, arduino_dir, wokwi_dir,
             arena_size: int | None = None, compile_uno: bool = True, fan=None,
             arena_note: str | None = None, tflm_tflite=None, digits=None) -> list[Path]:
    """(Re)write all Arduino and Wokwi projects atomically; return the files written.

    ``fan`` is the list of lesson 07's detector projects (:func:`fan_detector.projects`) and
    ``digits`` that of lesson 08's digits projects (:func:`digits_projects.projects`); without
    one of them, those projects already in the target folders are kept unchanged.
    ``compile_uno`` also builds the Uno Wokwi firmware (``build/sketch.ino.hex``/``.elf``)
    when arduino-builder is installed. ``arena_size``, ``arena_note`` and ``tflm_tflite`` (the
    TFLM sketch's per-tensor model) as for :func:`load_models`.
    """
    _check_project_list("fan", fan, "fan_detector.projects")
    _check_project_list("digits", digits, "digits_projects.projects")
    if not isinstance(compile_uno, bool):
        raise TypeError(f"compile_uno must be True or False, got {compile_uno!r}")
    roots = {"arduino": arduino_dir, "wokwi": wokwi_dir}
    projects.check_roots(roots)  # before the models are read: a wrong folder fails at once
    models = load_models(float_tflite, int8_tflite, arena_size, arena_note, tflm_tflite)
    found = [*arduino_projects(models), *wokwi_projects(models), *(fan or []), *(digits or [])]
    keep = (*(() if fan is not None else FAN_FOLDERS),
            *(() if digits is not None else DIGITS_FOLDERS))
    indexes = {tree: index_readme(tree, _lists_digits(tree, root, digits))
               for tree, root in roots.items()}
    return projects.write(found, roots, indexes, keep=keep, compile_uno=compile_uno)


ZIP_NAME = "hello_world_projects.zip"
_ZIP_TIME = (2025, 1, 1, 0, 0, 0)  # every entry's timestamp: the same projects, the same bytes


def zip_projects(arduino_dir, wokwi_dir, path) -> Path:
    """Write lesson 06's project folders (and the two trees' README.md) into one zip at ``path``,
    as ``arduino/<project>/...`` and ``wokwi/<project>/...``; return ``path``.

    The zip is built in memory and written atomically (a temporary file renamed into place), so
    an interrupted run never leaves a half-written zip under the final name."""
    roots = {"arduino": (Path(arduino_dir), ARDUINO_PROJECTS),
             "wokwi": (Path(wokwi_dir), WOKWI_PROJECTS)}
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for tree, (root, names) in roots.items():
            missing = [name for name in names if not (root / name).is_dir()]
            if missing:
                raise FileNotFoundError(f"{root} lacks the project folders {', '.join(missing)}: "
                                        "write them with generate() first")
            found = [root / "README.md"] if (root / "README.md").is_file() else []
            for name in names:
                found += sorted(p for p in (root / name).rglob("*") if p.is_file())
            for file in found:
                info = zipfile.ZipInfo(f"{tree}/{file.relative_to(root).as_posix()}", _ZIP_TIME)
                archive.writestr(info, file.read_bytes(), zipfile.ZIP_DEFLATED)
    return write_atomic(path, buffer.getvalue())
