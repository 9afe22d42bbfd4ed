"""MicroPython from a full-int8 Dense model: a model module and a Wokwi ESP32 project.

* :func:`model_files` turns an :class:`~tinyml_helpers.deploy.dense.Int8Model` (from
  :func:`dense.int8_layers`) into ``model_int8.py`` (or another module name): the weights as
  ``array('b', b'...')``, biases and Q31 multipliers as ``array('i', ...)``, shifts and zero
  points, and ``invoke(codes) -> codes`` with TFLM's int8 FULLY_CONNECTED arithmetic in plain
  Python (int32 sums, SaturatingRoundingDoublingHighMul, RoundingDivideByPowerOfTwo, clamp),
  plus ``quantize``/``dequantize`` in float32 with halves rounded away from zero, as
  :func:`quant.quantize` and the C sketches. No numpy: it runs on MicroPython and on CPython.
  An optional ``model_int8_viper.py`` computes the dot products with ``@micropython.viper``;
  the model module imports it inside ``try/except`` (a SyntaxError where the port has no viper
  emitter, an ImportError without the file or on CPython, a ViperTypeError on a port whose
  viper rejects it) and uses it only if it agrees with the pure loop on a probe input, so the
  WebAssembly VM and CPython run plain Python. Viper itself is not tested offline: no VM here
  has the emitter.
* :func:`wokwi_project` returns the files of a Wokwi ESP32 MicroPython project (``diagram.json``
  with MicroPython firmware, ``main.py`` printing ``x=..., y=..., sin=..., us=...`` like the C
  sketch and fading the LED on GPIO 2, the model modules and a README). Like the C sketches,
  ``main.py`` first checks the model on a few input codes against the outputs TFLM computed
  for them (:mod:`~tinyml_helpers.deploy.self_test`) and prints ``self-test: ok (n/n)``.

:mod:`tinyml_helpers.deploy.micropython_vm` runs the generated code on MicroPython's WebAssembly
build, offline; the tests compare it with TFLM.
"""

from __future__ import annotations

import keyword
import re
from pathlib import Path

import numpy as np

from . import cgen, self_test, wokwi
from .dense import Int8Model, data_bytes, int8_reference
from .hello_world import ESP32_LED_PIN, STEPS, int8_predictions, sketch_x

TEMPLATES = Path(__file__).resolve().parent / "templates" / "micropython"
MODULE_NAME = "model_int8"
PROJECT = "esp32_hello_world_micropython"
# The MicroPython firmware Wokwi loads onto the ESP32 part (the "env" attribute Wokwi's own
# MicroPython ESP32 examples set on board-esp32-devkit-c-v4).
WOKWI_ENV = "micropython-20231227-v1.22.0"
PASSES = 5  # sine periods main.py runs before it prints "done"
DELAY_MS = 100  # pause between inferences on a board: one period every 2 s
BYTES_PER_LINE = 16
INTS_PER_LINE = 8  # 6 for the ten-digit multipliers
# Names a model module must not take: files a MicroPython board runs by itself, and modules
# that the generated code (or a typical program beside it) imports.
RESERVED_MODULES = frozenset({
    "main", "boot", "array", "struct", "math", "time", "sys", "gc", "os", "micropython",
    "machine", "network", "builtins", "random", "json", "select", "socket", "io", "collections",
})


def module_name(name, what: str = "module name") -> str:
    """Return ``name`` after checking it can be a MicroPython module of its own (and a viper
    companion ``name_viper``): a plain ASCII identifier, no Python keyword, no module the
    board or the generated code needs."""
    if not isinstance(name, str):
        raise TypeError(f"{what} must be a str, got {type(name).__name__}")
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]{0,40}", name):
        raise ValueError(f"{what} must be an ASCII Python identifier (a letter or _, then "
                         f"letters, digits or _, at most 41 characters), got {name!r}")
    if keyword.iskeyword(name) or name in RESERVED_MODULES:
        raise ValueError(f"{what} {name!r} is a Python keyword or a module name the board needs")
    return name


def _render(template: str, **values) -> str:
    return cgen.render(TEMPLATES / template, **values)


def _check_model(model) -> Int8Model:
    if not isinstance(model, Int8Model):
        raise TypeError("expected an Int8Model (from dense.int8_layers on a full-int8 .tflite), "
                        f"got {type(model).__name__}")
    return model


def _float32_bits(value: float) -> str:
    return f"0x{int(np.float32(value).view(np.uint32)):08x}"


def _bytes_literal(values: np.ndarray, indent: str = "    ") -> str:
    data = np.asarray(values, dtype=np.int8).reshape(-1).view(np.uint8).tolist()
    lines = []
    for i in range(0, len(data), BYTES_PER_LINE):
        chunk = "".join(f"\\x{b:02x}" for b in data[i:i + BYTES_PER_LINE])
        lines.append(f'{indent}b"{chunk}"')
    return "\n".join(lines)


def _int_tuple(values, per_line: int = INTS_PER_LINE, indent: str = "    ") -> str:
    items = [cgen.int_literal(v) for v in np.asarray(values).reshape(-1).tolist()]
    lines = [", ".join(items[i:i + per_line]) for i in range(0, len(items), per_line)]
    return "(\n" + ",\n".join(indent + line for line in lines) + ",\n)"


def _layer_data(model: Int8Model) -> tuple[str, str]:
    blocks, tuples = [], []
    for k, lay in enumerate(model.layers):
        n_out, n_in = lay.weights.shape
        # Python ints do not wrap: the int32 sums of C are the same only if none can overflow.
        bound = (np.abs(lay.weights.astype(np.int64)).sum(axis=1) * 255
                 + np.abs(lay.bias.astype(np.int64)))
        if bound.max() >= 2**31:
            raise ValueError(f"layer {k}: an int32 sum could overflow ({n_in} inputs); the "
                             "MicroPython module would not match the C kernels")
        blocks.append("\n".join([
            f"# layer {k}: {n_in} -> {n_out}, {'ReLU' if lay.relu else 'linear'}",
            f'W{k} = array("b", (\n{_bytes_literal(lay.weights)}\n))',
            f'B{k} = array("i", {_int_tuple(lay.bias)})',
            f'M{k} = array("i", {_int_tuple(lay.multiplier, 6)})',
            f'S{k} = array("b", {_int_tuple(lay.shift)})',
            f'D{k} = array("i", ({n_in}, {n_out}, {lay.input_zero_point + 128}))',
        ]))
        tuples.append(f"    (D{k}, W{k}, B{k}, M{k}, S{k}, {lay.output_zero_point}, {lay.act_min}, "
                      f"{lay.act_max}),")
    return "\n\n".join(blocks), "\n".join(tuples)


def _shape(model: Int8Model) -> str:
    widths = [model.n_inputs] + [int(lay.weights.shape[0]) for lay in model.layers]
    return "-".join(str(w) for w in widths)


def model_source(model: Int8Model, name: str = MODULE_NAME) -> str:
    """Return the text of the pure-Python model module ``name``.py."""
    model = _check_model(model)
    name = module_name(name)
    layer_data, layer_tuples = _layer_data(model)
    return _render(
        "model.py.tmpl", BANNER=cgen.banner(f"{name}.py", "#").rstrip("\n"), NAME=name,
        SHAPE=_shape(model), N_INPUTS=model.n_inputs, N_OUTPUTS=model.n_outputs,
        INPUT_SCALE_BITS=_float32_bits(model.input_scale),
        INPUT_SCALE=repr(float(np.float32(model.input_scale))),
        INPUT_ZERO_POINT=cgen.int_literal(model.input_zero_point),
        OUTPUT_SCALE_BITS=_float32_bits(model.output_scale),
        OUTPUT_SCALE=repr(float(np.float32(model.output_scale))),
        OUTPUT_ZERO_POINT=cgen.int_literal(model.output_zero_point),
        LAYER_DATA=layer_data, LAYER_TUPLES=layer_tuples, DATA_BYTES=data_bytes(model))


def viper_source(name: str = MODULE_NAME) -> str:
    """Return the text of the optional viper module ``name``_viper.py (model independent)."""
    name = module_name(name)
    return _render("model_viper.py.tmpl",
                   BANNER=cgen.banner(f"{name}_viper.py", "#").rstrip("\n"), NAME=name)


def model_files(model: Int8Model, name: str = MODULE_NAME, viper: bool = True) -> dict[str, str]:
    """Return {file name: text}: ``name``.py and, with ``viper``, ``name``_viper.py."""
    files = {f"{module_name(name)}.py": model_source(model, name)}
    if viper:
        files[f"{name}_viper.py"] = viper_source(name)
    return files


# --- the Wokwi ESP32 MicroPython project ----------------------------------------------------

def _check_count(value, what: str, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
        raise ValueError(f"{what} must be an int >= {low}, got {value!r}")
    return int(value)


def _rows_literal(rows: np.ndarray) -> str:
    """Return a Python tuple of int tuples, one row per line."""
    lines = [f"    ({', '.join(str(int(v)) for v in row)},)," for row in rows]
    return "(\n" + "\n".join(lines) + "\n)"


def _check_self_test(test) -> self_test.SelfTest:
    if not isinstance(test, self_test.SelfTest):
        raise TypeError(f"test must be a self_test.SelfTest (from self_test.from_tflm), got "
                        f"{type(test).__name__}")
    if not test.int8:
        raise ValueError("main.py runs the int8 model: the self-test needs int8 codes")
    return test


def main_source(module: str = MODULE_NAME, project: str = PROJECT, passes: int = PASSES,
                delay_ms: int = DELAY_MS, *, test: self_test.SelfTest) -> str:
    """Return main.py: the self-test ``test`` at start, then the sine loop of the C sketch
    (``passes`` 0 runs forever)."""
    test = _check_self_test(test)
    return _render(
        "main.py.tmpl", BANNER=cgen.banner(f"{project}/main.py", "#").rstrip("\n"),
        PROJECT=cgen.identifier(project, "project"), MODULE=module_name(module), STEPS=STEPS,
        PASSES=_check_count(passes, "passes", 0), DELAY_MS=_check_count(delay_ms, "delay_ms", 0),
        LED_PIN=ESP32_LED_PIN, SELF_TEST_INPUTS=_rows_literal(test.inputs),
        SELF_TEST_OUTPUTS=_rows_literal(test.outputs),
        SELF_TEST_ADVICE=self_test.advice("Python"))


def diagram(project: str = PROJECT) -> dict:
    """Return the diagram: ESP32 DevKitC V4 with MicroPython, LED + 220 Ω on GPIO 2, serial
    monitor (validated by :func:`wokwi.validate`)."""
    author = cgen.banner(f"{project}/diagram.json", "#")[2:].rstrip("\n")
    doc = wokwi.led_diagram("esp32", ESP32_LED_PIN, author=author)
    doc["parts"][0]["attrs"]["env"] = WOKWI_ENV
    wokwi.validate(doc)
    return doc


def expected_lines(model: Int8Model, steps: int = STEPS) -> list[str]:
    """Return main.py's lines for one period without the timing: ``x=..., y=..., sin=...``,
    with the C sketch's x values and int8 predictions (:func:`projects.int8_predictions`)."""
    x = sketch_x(steps)
    y = int8_predictions(_check_model(model), x)
    return [f"x={xi:.3f}, y={yi:.3f}, sin={np.sin(xi):.3f}"
            for xi, yi in zip(x, y, strict=True)]


def wokwi_project(model: Int8Model, project: str = PROJECT, module: str = MODULE_NAME, *,
                  test: self_test.SelfTest | bytes) -> dict[str, str]:
    """Return {file name: content} of the Wokwi ESP32 MicroPython project of a one-input,
    one-output int8 model (lesson 06's sine): diagram.json, main.py, the model modules and
    README.md. ``test`` is main.py's self-test, or the model's .tflite to make it from
    (:func:`self_test.from_tflm`)."""
    model = _check_model(model)
    if model.n_inputs != 1 or model.n_outputs != 1:
        raise ValueError(f"main.py feeds one x and reads one y; the model has {model.n_inputs} "
                         f"inputs and {model.n_outputs} outputs")
    cgen.identifier(project, "project")
    if isinstance(test, (bytes, bytearray)):
        test = self_test.from_tflm(bytes(test))
    test = _check_self_test(test)
    # A project whose self-test fails out of the box would blame the student: refuse cases
    # made from another model.
    if test.inputs.shape[1] != model.n_inputs or test.outputs.shape[1] != model.n_outputs or \
            self_test.check(test, int8_reference(model, test.inputs)) != [test.ok_line()]:
        raise ValueError("test was made from another model: its outputs are not this model's")
    files = {"diagram.json": wokwi.dumps(diagram(project)),
             "main.py": main_source(module, project, test=test)}
    files.update(model_files(model, module))
    expected = "\n".join(f"{line}, us=…" for line in expected_lines(model)[:5])
    files["README.md"] = _render(
        "README.md.tmpl", BANNER=cgen.banner(f"{project}/README.md", "html").rstrip("\n"),
        PROJECT=project, MODULE=module, STEPS=STEPS, PASSES=PASSES, LED_PIN=ESP32_LED_PIN,
        ENV=WOKWI_ENV, DATA_BYTES=f"{data_bytes(model):,}", EXPECTED=expected,
        SELF_TEST=test.ok_line())
    return files
