"""Lesson 08's projects: the int8 digits CNN on boards that show what they read on an OLED.

Lesson 08 picks a few test digits (:func:`sample_digits`: the first of each class, as input
codes) and hands them over with its full-int8 CNN through :func:`save_export`
(``digits_cnn_int8.tflite`` and ``digits_samples.json`` in the build's export folder, and the
TFLM sketch's per-tensor model when it is another file); :func:`load_exported` reads them back
as one :class:`Export` (:func:`make_export` checks one), and :func:`projects` turns that into
four :class:`~tinyml_helpers.deploy.projects.Project` values, which the build writes into the
course's trees (:func:`write_projects` writes them anywhere else):

* ``arduino/digits_cnn`` — the network as library-free C (:func:`export.plain_c_files`) in a
  sketch for the Arduino Uno or an ESP32 (arduino-cli profiles for both);
* ``wokwi/uno_digits_cnn`` and ``wokwi/esp32_digits_cnn`` — the same sketch on Wokwi's Uno and
  ESP32 DevKitC;
* ``wokwi/esp32_digits_cnn_tflm`` — the .tflite interpreted by TensorFlow Lite Micro (the
  arduino-esp32 core 3.x's built-in library) on the ESP32.

Every sketch classifies the stored digits, prints ``digit=…, label=…, class=…, confidence=…%,
us=…`` on Serial (:data:`ROW_KEYS`), checks the network at boot against the outputs the TFLM
runtime computed for the same digits (:mod:`~tinyml_helpers.deploy.self_test`), and draws each
digit with its class and confidence on a 128x64 SSD1306 OLED on I2C (Wokwi's ``board-ssd1306``).
The display is driven by the Library Manager library U8g2 (:data:`DISPLAY_LIBRARY`) in its U8x8
mode, which writes 8x8-pixel tiles straight to the display and keeps no frame buffer: the Uno's
2 KB of RAM hold the network's buffers, Serial and Wire, and a 1,024-byte frame buffer on top
would not fit (the README of ``arduino/digits_cnn`` gives the numbers). Each of the 64 pixels of
a digit becomes one tile, its 17 grey levels a 4x4 ordered-dither pattern.

No display library can be installed offline, so the tests compile the sketches against a
stand-in of the U8x8 calls (``deploy/arduino_shim/U8x8lib.h``). The Wokwi Uno project therefore
ships without compiled firmware (wokwi.com compiles it with U8g2 from ``libraries.txt``).
"""

from __future__ import annotations

import json
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from . import checks
from .deploy import cgen, export, firmware, graph, self_test, tflm, wokwi
from .deploy import projects as deploy_projects
from .deploy.files import new_folder_beside, swap_in, write_files
from .deploy.projects import Project

EXPORT_NAME = "digits_cnn_int8.tflite"  # the network lesson 08 exports (plain C and TFLM)
# The TFLM sketch's model when the lesson exports one apart: the same network with one weight
# scale per Dense layer (see :func:`make_export`).
TFLM_EXPORT_NAME = "digits_cnn_int8_per_tensor.tflite"
SAMPLES_NAME = "digits_samples.json"  # the stored test digits (input codes) and labels
SAMPLES_HEADER = "digits_samples.h"
PREFIX = "digits_cnn"  # of the generated C: digits_cnn.h, digits_cnn_invoke, DIGITS_CNN_*
SELF_TEST_NAME = "digits_cnn_self_test.h"
ARDUINO_FOLDER = "digits_cnn"
UNO_FOLDER, ESP32_FOLDER = "uno_digits_cnn", "esp32_digits_cnn"
TFLM_FOLDER = "esp32_digits_cnn_tflm"
WOKWI_FOLDERS = (ESP32_FOLDER, UNO_FOLDER, TFLM_FOLDER)
PROJECT_FOLDERS = (ARDUINO_FOLDER, *WOKWI_FOLDERS)
TEMPLATES = Path(__file__).resolve().parent / "project_templates"
IMAGE_SIDE = 8
PIXELS = IMAGE_SIDE * IMAGE_SIDE
CLASSES = 10
MAX_SAMPLES = 20  # stored digits: each costs 64 + 64 + 10 bytes of the Uno's flash
# The display library, as libraries.txt and sketch.yaml pin it (Library Manager name, release).
DISPLAY_LIBRARY = ("U8g2", "2.35.30")
DELAY_MS = 2000  # pause after each digit on a board, so that the display can be read
# Added to the arena the TFLM Python runtime measures on this 64-bit PC (already more than a
# 32-bit board needs): room for kernels that take scratch memory from the arena, such as
# ESP-NN's softmax on the ESP32, and for other TFLM versions.
ARENA_MARGIN = 1024
# What each sketch prints per digit, and the line after each pass over the stored digits.
ROW_KEYS = ("digit", "label", "class", "confidence", "us")
PASS_LINE = re.compile(r"pass \d+: \d+ of \d+ digits read right")


@dataclass(frozen=True)
class Export:
    """What lesson 08 hands over: the int8 network, the stored digits (int8 input codes, one
    row of 64 per digit) and their labels, and the TFLM sketch's model when it differs."""

    graph: graph.Graph
    codes: np.ndarray  # (n, 64) int8
    labels: np.ndarray  # (n,) int64 in 0..9
    tflm_graph: graph.Graph | None = field(default=None)

    def __post_init__(self):
        for name in ("graph", "tflm_graph"):
            value = getattr(self, name)
            if not (isinstance(value, graph.Graph) or name == "tflm_graph" and value is None):
                raise TypeError(f"{name} must be a graph.Graph; make an Export with make_export")
        if not isinstance(self.codes, np.ndarray) or self.codes.dtype != np.int8 \
                or self.codes.ndim != 2 or self.codes.shape[1] != PIXELS:
            raise TypeError("codes must be an int8 array (n, 64); make an Export with "
                            "make_export")
        if not isinstance(self.labels, np.ndarray) or self.labels.shape != (len(self.codes),):
            raise TypeError("labels must be an array of one label per digit; make an Export "
                            "with make_export")

    @property
    def tflm_model(self) -> graph.Graph:
        """Return the model the TFLM sketch runs (``graph`` unless another one was given)."""
        return self.tflm_graph if self.tflm_graph is not None else self.graph

    @property
    def tflm_name(self) -> str:
        """Return the file name the TFLM project keeps its model under."""
        return EXPORT_NAME if self.tflm_graph is None else TFLM_EXPORT_NAME


# --- checking what the lesson hands over ------------------------------------------------------

def _read_model(value, name: str) -> graph.Graph:
    if not isinstance(value, (bytes, bytearray, memoryview, graph.Graph)):
        raise TypeError(f"{name} must be .tflite bytes or a graph.Graph (graph.read), got "
                        f"{type(value).__name__}")
    g = graph.read(value)
    if not g.is_int8:
        raise ValueError(f"{name} must be a full-int8 model (litert.convert(model, 'int8', "
                         "representative)); this one computes in float")
    n_in = g.tensors[g.inputs[0]].size if len(g.inputs) == 1 else 0
    n_out = g.tensors[g.outputs[0]].size if len(g.outputs) == 1 else 0
    if (n_in, n_out) != (PIXELS, CLASSES):
        raise ValueError(f"{name} must take one 8x8 digit (64 input values) and give 10 class "
                         f"scores; it has {len(g.inputs)} input(s) of {n_in} values and "
                         f"{len(g.outputs)} output(s) of {n_out}")
    return g


def per_channel_dense(g: graph.Graph) -> list[int]:
    """Return the (0-based) operators of ``g`` that are FULLY_CONNECTED with one weight scale per
    output neuron: what esp-tflite-micro's ESP-NN kernel before 1.3.4 computes wrong."""
    found = []
    for i, op in enumerate(graph.read(g).ops):
        if op.kind == "FULLY_CONNECTED":
            q = g.tensors[op.inputs[1]].quantization
            if q is not None and q.per_channel:
                found.append(i)
    return found


def _check_codes(codes) -> np.ndarray:
    if isinstance(codes, (str, bytes)) or codes is None:
        raise TypeError(f"codes must be an array of int8 input codes, got {type(codes).__name__}")
    array = np.asarray(codes)
    if array.dtype == np.bool_ or not np.issubdtype(array.dtype, np.integer):
        raise TypeError(f"codes must be int8 input codes (digits.input_codes), got dtype "
                        f"{array.dtype}: pass the codes, not the images")
    if array.ndim == 4 and array.shape[1:] == (IMAGE_SIDE, IMAGE_SIDE, 1):
        array = array.reshape(len(array), PIXELS)
    if array.ndim != 2 or array.shape[1] != PIXELS:
        raise ValueError(f"codes must have one row of {PIXELS} codes per digit, got shape "
                         f"{array.shape}")
    if not 1 <= len(array) <= MAX_SAMPLES:
        raise ValueError(f"store 1 to {MAX_SAMPLES} digits (they go into the Uno's flash), got "
                         f"{len(array)}")
    if array.min() < -128 or array.max() > 127:
        raise ValueError(f"codes must lie in -128..127, got {array.min()}..{array.max()}")
    return array.astype(np.int8)


def _check_labels(labels, n: int) -> np.ndarray:
    if isinstance(labels, (str, bytes)) or labels is None:
        raise TypeError(f"labels must be an array of class numbers, got {type(labels).__name__}")
    array = np.asarray(labels)
    if array.dtype == np.bool_ or not np.issubdtype(array.dtype, np.integer):
        raise TypeError(f"labels must be integers 0..{CLASSES - 1}, got dtype {array.dtype}")
    if array.shape != (n,):
        raise ValueError(f"need one label per stored digit ({n}), got shape {array.shape}")
    if array.min() < 0 or array.max() >= CLASSES:
        raise ValueError(f"labels must lie in 0..{CLASSES - 1}, got {array.min()}..{array.max()}")
    return array.astype(np.int64)


def make_export(model, codes, labels, tflm_model=None) -> Export:
    """Return the :class:`Export` of a full-int8 digits network (.tflite bytes or a
    :class:`graph.Graph`), the input ``codes`` of the digits to store (``digits.input_codes``;
    shape (n, 64) or (n, 8, 8, 1), 1 to :data:`MAX_SAMPLES` digits) and their ``labels``.

    The TFLM sketch runs ``tflm_model`` when given, else ``model``. That model must quantize
    its Dense layer per tensor (``litert.convert(model, 'int8', representative,
    per_channel=False)``): the ESP-NN kernel of esp-tflite-micro before 1.3.4, which ESP32 cores
    may ship, computes per-channel Dense layers wrong (ValueError otherwise). Every model is
    checked to run in the TFLM runtime and as plain C."""
    g = _read_model(model, "model")
    codes = _check_codes(codes)
    labels = _check_labels(labels, len(codes))
    tflm_graph = None if tflm_model is None else _read_model(tflm_model, "tflm_model")
    if tflm_graph is not None and tflm_graph.data == g.data:
        tflm_graph = None
    runs = tflm_graph if tflm_graph is not None else g
    per_channel = per_channel_dense(runs)
    if per_channel:
        which = "tflm_model" if tflm_graph is not None else "model"
        raise ValueError(
            f"the TFLM sketch's model ({which}) has a per-channel Dense layer (operator "
            f"{per_channel[0]}): ESP32 cores whose esp-tflite-micro predates 1.3.4 compute it "
            "wrong. Pass tflm_model= the same network converted with litert.convert(model, "
            "'int8', representative, per_channel=False)")
    if tflm_graph is not None:
        kinds = [op.kind for op in g.ops], [op.kind for op in tflm_graph.ops]
        if kinds[0] != kinds[1]:
            raise ValueError(f"tflm_model must be the same network as model; its operators "
                             f"{kinds[1]} differ from {kinds[0]}")
    return Export(g, codes, labels, tflm_graph)


def sample_digits(model, images, labels) -> tuple[np.ndarray, np.ndarray]:
    """Return (input codes (10, 64) int8, labels 0..9): the first image of each class among
    ``images`` (n, 8, 8, 1 floats in [0, 1], e.g. the test split) as ``model``'s input codes."""
    from . import digits  # the lesson module: scikit-learn's data, TensorFlow's models

    g = graph.read(model)
    labels = np.asarray(labels)
    if labels.dtype == np.bool_ or not np.issubdtype(labels.dtype, np.integer) \
            or labels.ndim != 1:
        raise TypeError(f"labels must be a 1-D array of class numbers, got {labels.dtype} "
                        f"of shape {labels.shape}")
    first = []
    for c in range(CLASSES):
        where = np.flatnonzero(labels == c)
        if not len(where):
            raise ValueError(f"no image of class {c} among the {len(labels)} given")
        first.append(int(where[0]))
    images = checks.check_array("images", images)
    if len(images) != len(labels):
        raise ValueError(f"{len(images)} images but {len(labels)} labels")
    return digits.input_codes(g, images[first]), np.arange(CLASSES, dtype=np.int64)


# --- the export folder ------------------------------------------------------------------------

def saved_files(value: Export) -> dict[str, str | bytes]:
    """Return {file name: content} of what :func:`save_export` writes."""
    value = _check_export(value)
    meta = {"model": EXPORT_NAME,
            "tflm_model": value.tflm_name,
            "pixels": PIXELS,
            "labels": [int(v) for v in value.labels],
            "codes": [[int(v) for v in row] for row in value.codes]}
    text = json.dumps(meta, indent=1)
    # one digit per line: readable, and diffs show which digit changed
    text = re.sub(r"\[\n\s+(-?\d+(?:,\n\s+-?\d+)*)\n\s+\]",
                  lambda m: "[" + re.sub(r",\n\s+", ", ", m.group(1)) + "]", text)
    files: dict[str, str | bytes] = {EXPORT_NAME: value.graph.data, SAMPLES_NAME: text + "\n"}
    if value.tflm_graph is not None:
        files[TFLM_EXPORT_NAME] = value.tflm_graph.data
    return files


def save_export(export_dir, model, codes, labels, tflm_model=None) -> list[Path]:
    """Write lesson 08's network and stored digits into ``export_dir`` (all files or none):
    ``digits_cnn_int8.tflite``, ``digits_samples.json`` and, when ``tflm_model`` is another
    model, ``digits_cnn_int8_per_tensor.tflite``. Arguments as for :func:`make_export`;
    returns the paths written."""
    directory = _check_directory(export_dir, "export_dir")
    value = make_export(model, codes, labels, tflm_model)
    stale = directory / TFLM_EXPORT_NAME
    paths = write_files(directory, saved_files(value))
    if value.tflm_graph is None and stale.is_file():
        stale.unlink()  # an older export's TFLM model would not match the new network
    return paths


def load_exported(export_dir) -> Export | None:
    """Return the :class:`Export` lesson 08 saved in ``export_dir``, or None if it saved none
    there (neither of its files); a partial or foreign export raises as :func:`load`."""
    directory = _check_directory(export_dir, "export_dir")
    if not (directory / EXPORT_NAME).exists() and not (directory / SAMPLES_NAME).exists():
        return None
    return load(directory)


def load(export_dir) -> Export:
    """Return the :class:`Export` that :func:`save_export` wrote into ``export_dir``."""
    directory = _check_directory(export_dir, "export_dir")
    missing = [name for name in (EXPORT_NAME, SAMPLES_NAME) if not (directory / name).is_file()]
    if missing:
        raise FileNotFoundError(f"{directory} lacks {', '.join(missing)}: run lesson 08 "
                                "(make build) to export the digits network")
    path = directory / SAMPLES_NAME
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ValueError(f"{path} is not valid JSON ({err}): export it again with lesson "
                         "08") from None
    if not isinstance(meta, dict) or not {"codes", "labels", "tflm_model"} <= set(meta):
        raise ValueError(f"{path} must hold an object with codes, labels and tflm_model: "
                         "export it again with lesson 08")
    if meta["tflm_model"] not in (EXPORT_NAME, TFLM_EXPORT_NAME):
        raise ValueError(f"{path} names an unknown TFLM model {meta['tflm_model']!r}")
    tflm_model = None
    if meta["tflm_model"] == TFLM_EXPORT_NAME:
        if not (directory / TFLM_EXPORT_NAME).is_file():
            raise FileNotFoundError(f"{directory} lacks {TFLM_EXPORT_NAME}, which "
                                    f"{SAMPLES_NAME} names: export again with lesson 08")
        tflm_model = (directory / TFLM_EXPORT_NAME).read_bytes()
    try:
        codes = np.array(meta["codes"], dtype=np.int64)
        labels = np.array(meta["labels"], dtype=np.int64)
    except (TypeError, ValueError, OverflowError):
        raise ValueError(f"{path}: codes and labels must be lists of integers") from None
    return make_export((directory / EXPORT_NAME).read_bytes(), codes, labels, tflm_model)


def _check_directory(value, name: str) -> Path:
    if isinstance(value, bool) or not isinstance(value, (str, Path)) or not str(value):
        raise TypeError(f"{name} must be a folder path (str or Path), got "
                        f"{type(value).__name__} {value!r}")
    path = Path(value)
    if path.exists() and not path.is_dir():
        raise ValueError(f"{name} {path} is a file, not a folder")
    return path


def _check_export(value) -> Export:
    if not isinstance(value, Export):
        raise TypeError(f"expected a digits_projects.Export (from make_export or load), got "
                        f"{type(value).__name__}")
    return value


# --- what the sketches print --------------------------------------------------------------------

def confidence_permille(codes, scale: float, zero_point: int) -> np.ndarray:
    """Return int8 softmax output ``codes`` as tenths of a percent, computed as the sketches do:
    float32 ``scale * (code - zero_point) * 1000 + 0.5``, truncated."""
    x = np.asarray(codes).astype(np.int32) - np.int32(zero_point)
    value = np.float32(scale) * x.astype(np.float32) * np.float32(1000.0) + np.float32(0.5)
    return np.floor(value).astype(np.int64)


def results(model, codes, labels) -> list[dict[str, str]]:
    """Return the rows a sketch prints for the stored digits ``codes`` with the int8 network
    ``model``, from the TFLM runtime's outputs: {"digit", "label", "class", "confidence"} as
    printed (the class is the first largest output code)."""
    g = graph.read(model)
    codes = _check_codes(codes)
    labels = _check_labels(labels, len(codes))
    outputs = np.asarray(tflm.run(g, codes)).reshape(len(codes), -1)
    q = g.tensors[g.outputs[0]].quantization
    classes = np.argmax(outputs, axis=1)
    permille = confidence_permille(outputs[np.arange(len(codes)), classes], float(q.scale[0]),
                                   int(q.zero_point[0]))
    return [{"digit": str(i), "label": str(int(label)), "class": str(int(c)),
             "confidence": f"{p // 10}.{p % 10}%"}
            for i, (label, c, p) in enumerate(zip(labels, classes, permille, strict=True))]


def _row_text(row: dict[str, str]) -> str:
    return (f"digit={row['digit']}, label={row['label']}, class={row['class']}, "
            f"confidence={row['confidence']}, us=…")


def _pass_text(rows: list[dict[str, str]]) -> str:
    right = sum(row["class"] == row["label"] for row in rows)
    return f"pass 1: {right} of {len(rows)} digits read right"


def expected_output(value: Export, tflm_sketch: bool = False) -> str:
    """Return the serial lines of one pass of the plain-C sketch (or, with ``tflm_sketch``, the
    TFLM sketch) after its first lines, timings shown as ``…``."""
    value = _check_export(value)
    checks.check_bool("tflm_sketch", tflm_sketch)
    rows = results(value.tflm_model if tflm_sketch else value.graph, value.codes, value.labels)
    return "\n".join([*map(_row_text, rows), _pass_text(rows)])


# --- file contents ----------------------------------------------------------------------------

def samples_header(codes, labels) -> str:
    """Return ``digits_samples.h``: the stored digits' input codes and labels, in flash on AVR."""
    codes = _check_codes(codes)
    labels = _check_labels(labels, len(codes))
    rows = []
    for i, (row, label) in enumerate(zip(codes, labels, strict=True)):
        values = cgen.initializer(row, per_line=IMAGE_SIDE).replace("\n", "\n    ")
        rows.append(f"    /* {i}: label {int(label)} */\n    {values},")
    return cgen.render(TEMPLATES / SAMPLES_HEADER,
                       BANNER=cgen.banner(SAMPLES_HEADER).rstrip("\n"), N=str(len(codes)),
                       PIXELS=str(PIXELS), ROWS="\n".join(rows),
                       LABELS=", ".join(str(int(v)) for v in labels))


def sketch_yaml(project: str, profiles) -> str:
    """Return the arduino-cli ``sketch.yaml`` of ``project`` whose profiles also install the
    display library (:data:`DISPLAY_LIBRARY`) at its pinned release."""
    name, version = DISPLAY_LIBRARY
    lines, out = deploy_projects.sketch_yaml(project, profiles).split("\n"), []
    names = {p[0] for p in profiles}
    in_profile = False
    for line in lines:
        starts = line.startswith("default_profile:") or (
            line.startswith("  ") and not line.startswith("   ") and line.strip()[:-1] in names)
        if starts and in_profile:
            out += ["    libraries:", f"      - {name} ({version})"]
        in_profile = in_profile or starts
        out.append(line)
    return "\n".join(out)


def libraries_txt(project: str) -> str:
    """Return the Wokwi ``libraries.txt`` of a digits project: the display library, pinned."""
    name, version = DISPLAY_LIBRARY
    return (deploy_projects.libraries_txt(
        project, f"Library Manager libraries wokwi.com installs before it compiles: {name} "
                 "drives the SSD1306 OLED (U8x8 mode, no frame buffer).") + f"{name}@{version}\n")


def diagram_json(project: str, board: str) -> str:
    """Return the checked ``diagram.json`` of ``board`` with the SSD1306 OLED on I2C."""
    author = cgen.banner(f"{project}/diagram.json", "#")[2:].rstrip("\n")
    return wokwi.dumps(wokwi.display_diagram(board, author=author))


def _render(template: str, name: str, project: str, **values: str) -> str:
    display = cgen.render(TEMPLATES / "digits_display.ino.part").rstrip("\n")
    return cgen.render(TEMPLATES / template, BANNER=cgen.banner(name).rstrip("\n"),
                       PROJECT=project, DISPLAY=display, DELAY_MS=str(DELAY_MS), **values)


def _plain_sketch(name: str, project: str, n_digits: int) -> str:
    stop = cgen.render(TEMPLATES / "stop_running.ino.part").rstrip("\n")
    return _render("digits_cnn.ino", name, project, STOP_RUNNING=stop,
                   SELF_TEST_ADVICE=self_test.advice("C"), N_DIGITS=str(n_digits))


def _tflm_sketch(name: str, project: str, n_digits: int) -> str:
    return _render("digits_cnn_tflm.ino", name, project, N_DIGITS=str(n_digits))


def _readme(template: str, project: str, facts: dict[str, str]) -> str:
    return deploy_projects.readme(TEMPLATES / template, project, **facts)


def _tflm_files(value: Export, project: str, arena_size: int, arena_note: str,
                test: self_test.SelfTest) -> dict[str, str]:
    from .deploy.tflm_build.kernels import model_ops, resolver_header  # no TFLM tree needed

    files = export.c_array_files(value.tflm_model, name="g_model", arena_size=arena_size,
                                 header="model.h", arena_note=arena_note)
    name = "model_self_test.h"
    guard = cgen.include_guard(f"{project}_{name}")
    files[name] = (cgen.banner(f"{project}/{name}") + f"#ifndef {guard}\n#define {guard}\n\n"
                   "#include <stdint.h>\n\n" + self_test.c_arrays(test, "model")
                   + f"\n#endif /* {guard} */\n")
    files["tflm_ops.h"] = resolver_header(model_ops(value.tflm_model))
    return files


def _arena(value: Export, arena_size, arena_note) -> tuple[int, str]:
    if arena_note is not None and arena_size is None:
        raise ValueError("arena_note describes a given arena_size; pass both or neither")
    if arena_size is not None:
        size = tflm.check_arena_size(arena_size)
        note = cgen.comment_text(arena_note, "arena_note") if arena_note else export.ARENA_NOTE
        return size, note
    measured = tflm.arena_size(value.tflm_model.data)
    return measured + ARENA_MARGIN, (f"{export.ARENA_NOTE} ({measured:,} bytes) plus "
                                     f"{ARENA_MARGIN:,} bytes for kernels that take scratch "
                                     "memory from it (ESP-NN's softmax)")


def projects(value: Export, arena_size: int | None = None,
             arena_note: str | None = None) -> list[Project]:
    """Return the four digits projects (``arduino/digits_cnn`` and the Wokwi projects
    :data:`WOKWI_FOLDERS`) of lesson 08's :class:`Export`, with the facts their READMEs quote.

    ``arena_size`` is the TFLM sketch's tensor arena (``arena_note`` says how it was measured,
    e.g. :func:`tinyml_helpers.deploy.tflm_build.board_arena_size` on a 32-bit board); None
    measures it with the TFLM Python runtime (a few seconds) and adds :data:`ARENA_MARGIN`."""
    value = _check_export(value)
    arena, note = _arena(value, arena_size, arena_note)
    model = export.plain_c_files(value.graph, PREFIX)
    firmware.check_fits("uno", model)  # before any compiler: the sketch is for the Uno too
    n = len(value.codes)
    plain_test = self_test.from_tflm(value.graph, inputs=value.codes)
    tflm_test = (plain_test if value.tflm_graph is None
                 else self_test.from_tflm(value.tflm_graph, inputs=value.codes))
    library, version = DISPLAY_LIBRARY
    facts = {
        "N_DIGITS": str(n),
        "LABELS": ", ".join(str(int(v)) for v in value.labels),
        "EXPECTED": expected_output(value),
        "TFLM_EXPECTED": expected_output(value, tflm_sketch=True),
        "SELF_TEST": plain_test.ok_line(),
        "TFLM_SELF_TEST": tflm_test.ok_line(),
        "MODEL_BYTES": f"{len(value.graph.data):,}",
        "DATA_BYTES": f"{model.constant_bytes:,}",
        "ACTIVATION_BYTES": f"{model.activation_bytes:,}",
        "OPS": ", ".join(op.kind for op in value.graph.ops),
        "TFLM_NAME": value.tflm_name,
        "TFLM_BYTES": f"{len(value.tflm_model.data):,}",
        "TFLM_BYTES_INT": str(len(value.tflm_model.data)),
        "ARENA": f"{arena:,}",
        "ARENA_INT": str(arena),
        "ARENA_NOTE": note,
        "LIBRARY": library,
        "LIBRARY_VERSION": version,
        "DELAY_S": f"{DELAY_MS / 1000:g}",
        **deploy_projects.CORE_FACTS,
    }
    sources = dict(model.files)
    sources.update(deploy_projects.copied(model.kernel_files(), export.KERNEL_ORIGIN))
    sources[SELF_TEST_NAME] = self_test.c_header(SELF_TEST_NAME, {PREFIX: plain_test})
    sources[SAMPLES_HEADER] = samples_header(value.codes, value.labels)
    kept = saved_files(value)
    plain_kept = {name: kept[name] for name in (EXPORT_NAME, SAMPLES_NAME)}
    facts["EXPORT_FILES"] = ", ".join(f"`{name}`" for name in kept)

    arduino = {f"{ARDUINO_FOLDER}.ino": _plain_sketch(f"{ARDUINO_FOLDER}.ino", ARDUINO_FOLDER, n),
               **sources,
               "sketch.yaml": sketch_yaml(ARDUINO_FOLDER, [deploy_projects.UNO_PROFILE,
                                                          deploy_projects.ESP32_PROFILE]),
               "README.md": _readme("arduino_digits_cnn.md", ARDUINO_FOLDER, facts),
               **kept}  # the whole export: load() reads it back from this folder
    found = [Project("arduino", ARDUINO_FOLDER, arduino, facts)]
    for project, board in ((ESP32_FOLDER, "esp32"), (UNO_FOLDER, "uno")):
        firmware_name = "sketch.ino.merged.bin" if board == "esp32" else "sketch.ino.hex"
        files = {"sketch.ino": _plain_sketch(f"{project}/sketch.ino", project, n), **sources,
                 "diagram.json": diagram_json(project, board),
                 "libraries.txt": libraries_txt(project),
                 "wokwi.toml": deploy_projects.wokwi_toml(project, firmware_name),
                 "README.md": _readme(f"wokwi_{project}.md", project, facts), **plain_kept}
        # No Uno firmware is compiled beside it: that needs the real U8g2, not installable
        # offline (a build against the stand-in would show nothing on the display).
        found.append(Project("wokwi", project, files, facts))

    files = {"sketch.ino": _tflm_sketch(f"{TFLM_FOLDER}/sketch.ino", TFLM_FOLDER, n),
             **_tflm_files(value, TFLM_FOLDER, arena, note, tflm_test),
             SAMPLES_HEADER: sources[SAMPLES_HEADER],
             "diagram.json": diagram_json(TFLM_FOLDER, "esp32"),
             "libraries.txt": libraries_txt(TFLM_FOLDER),
             "wokwi.toml": deploy_projects.wokwi_toml(TFLM_FOLDER, "sketch.ino.merged.bin"),
             "README.md": _readme(f"wokwi_{TFLM_FOLDER}.md", TFLM_FOLDER, facts),
             value.tflm_name: value.tflm_model.data, SAMPLES_NAME: kept[SAMPLES_NAME]}
    found.append(Project("wokwi", TFLM_FOLDER, files, facts))
    return found


def write_projects(model, codes, labels, folder, tflm_model=None, arena_size: int | None = None,
                   arena_note: str | None = None) -> list[Path]:
    """Write the four projects of :func:`projects` under ``folder``: ``arduino/digits_cnn`` and
    ``wokwi/<project>`` (each project folder replaced as a whole, all four or none); return the
    files written, sorted. Arguments as for :func:`make_export` and :func:`projects` (the
    course's ``arduino/`` and ``wokwi/`` trees are written by ``make build`` instead)."""
    root = _check_directory(folder, "folder")
    found = projects(make_export(model, codes, labels, tflm_model), arena_size, arena_note)
    staged: list[tuple[Path, Path]] = []
    try:
        for project in found:
            target = root / project.tree / project.folder
            new = new_folder_beside(target)
            staged.append((new, target))
            write_files(new, project.files)
        swap_in(staged)
    finally:
        for new, _ in staged:
            if new.exists():
                shutil.rmtree(new, ignore_errors=True)
    return sorted(path for _, target in staged for path in target.iterdir())
