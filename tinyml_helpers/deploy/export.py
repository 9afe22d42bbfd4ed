"""Export a model for microcontrollers: the .tflite as a C array, and library-free C code.

Two ways to put a model on a board:

* TensorFlow Lite Micro runs the ``.tflite`` flatbuffer itself: :func:`c_array_files` turns it
  into ``model.h`` / ``model.cpp`` (``g_model``, ``g_model_len``) as in the TFLM examples.
* "The hard way": :func:`plain_c_files` writes library-free C, a :class:`~.c_model.CModel`
  (the files and their facts). With ``kernels="fast"`` (the default) a chain of Dense layers
  (read by :mod:`.dense`) becomes C arrays and an ``invoke`` function over the hand-written
  fast Dense kernels in ``deploy/c/``, and any other full-int8 graph of CNN operators
  (:mod:`.graph`) goes to :mod:`.graph_c` and its fast kernels; with ``kernels="reference"``
  every full-int8 graph, Dense chains included, goes to :mod:`.graph_c`'s reference kernels
  (TFLM's reference loops, for comparing like with like). The int8 path repeats TFLM's
  fixed-point arithmetic exactly.

The C comes from the templates in ``deploy/templates/c/``, filled through :mod:`cgen`, so it
holds only checked identifiers and finite numbers.
"""

from __future__ import annotations

import itertools

import numpy as np

from . import cgen, dense, graph, graph_c, tflite_file, tflm
from .c_model import C_TEMPLATES, DENSE_KERNELS, KERNEL_DIR, CModel, check_prefix, kernel_files
from .dense import FloatDense, Int8Dense, Int8Model

__all__ = ["ARENA_NOTE", "C_TEMPLATES", "KERNEL_DIR", "KERNEL_FILES", "KERNEL_ORIGIN", "CModel",
           "c_array_files", "kernel_files", "plain_c_files"]
KERNEL_ORIGIN = "tinyml_helpers/deploy/c"  # named in the banner of copied kernels
KERNEL_FILES = DENSE_KERNELS
ARENA_NOTE = "measured with the TFLM Python runtime on a 64-bit PC"


def _render(template: str, **values) -> str:
    return cgen.render(C_TEMPLATES / template, **values)


# --- the .tflite flatbuffer as a C array ---------------------------------------------------

def c_array_files(tflite: bytes, name: str = "g_model", arena_size: int | None = None,
                  header: str = "model.h", arena_note: str = ARENA_NOTE) -> dict[str, str]:
    """Return {"model.h": ..., "model.cpp": ...} holding ``tflite`` as an aligned C array."""
    data = tflite_file.read(tflite).data
    cgen.identifier(name, "name")
    cgen.file_name(header, "header", suffixes=(".h",))
    arena = tflm.check_arena_size(arena_size, allow_none=True)
    source = header[:-2] + ".cpp"
    note = cgen.comment_text(arena_note, "arena_note")
    arena_text = (f"\n// Smallest tensor arena this model runs with, {note}.\n"
                  f"constexpr int kTensorArenaSize = {arena};\n") if arena else ""
    rows = ["    " + ", ".join(f"0x{b:02x}" for b in data[i:i + 12]) + ","
            for i in range(0, len(data), 12)]
    h = _render("model_array.h", BANNER=cgen.banner(header).rstrip("\n"),
                GUARD=cgen.include_guard(header), NAME=name, ARENA=arena_text)
    cpp = _render("model_array.cpp", BANNER=cgen.banner(source).rstrip("\n"), HEADER=header,
                  NAME=name, BYTES="\n".join(rows), LENGTH=str(len(data)))
    return {header: h, source: cpp}


# --- library-free C inference ------------------------------------------------------------------

def plain_c_files(model, prefix: str = "model", kernels: str = "fast") -> CModel:
    """Return the library-free C of ``model`` as a :class:`CModel` (its files and facts).

    ``model`` is a :class:`graph.Graph` (or .tflite bytes, read once here), an
    :class:`Int8Model` or a list of :class:`FloatDense`. With ``kernels="fast"`` a chain of
    FULLY_CONNECTED layers (ReLU or none) uses the Dense fast kernels, float32 or int8, and any
    other full-int8 graph of the operators :mod:`.graph` accepts (convolutions, pooling,
    softmax, ...) is written by :func:`graph_c.generate` over its fast kernels. With
    ``kernels="reference"`` every full-int8 graph (a Dense chain too) is written by
    :func:`graph_c.generate` over the reference kernels; that takes a graph (or .tflite bytes),
    not an Int8Model nor float layers.
    """
    check_prefix(prefix)
    graph_c.check_kernels(kernels)
    if isinstance(model, (bytes, bytearray, memoryview, graph.Graph)):
        g = graph.read(model)
        if g.is_int8 and (kernels == "reference" or not dense.is_dense_chain(g)):
            return graph_c.generate(g, prefix, kernels)
        if dense.is_dense_chain(g) and kernels == "fast":
            model = dense.int8_layers(g) if g.is_int8 else dense.float_layers_from_tflite(g)
        elif dense.is_dense_chain(g):
            raise ValueError("kernels='reference' writes full-int8 graphs over the reference "
                             "kernels; this Dense chain is float32: use kernels='fast' (the "
                             "float Dense kernels)")
        else:
            raise ValueError("a float32 graph with operators other than FULLY_CONNECTED (+ "
                             "ReLU) has no plain-C export yet: convert it to full int8 "
                             f"(its operators: {', '.join(op.kind for op in g.ops)})")
    if kernels == "reference" and isinstance(model, (Int8Model, list)):
        raise ValueError("kernels='reference' writes a full-int8 graph over the reference "
                         "kernels: pass the graph.Graph or .tflite bytes, not "
                         f"{'an Int8Model' if isinstance(model, Int8Model) else 'a list'} "
                         "(or use kernels='fast')")
    if isinstance(model, Int8Model):
        if not isinstance(model.layers, (list, tuple)) or not model.layers:
            raise ValueError("the Int8Model has no layers")
        _check_layers(model.layers, "int8")
        return _files(model.layers, prefix, "int8", _int8_io(model, prefix.upper()))
    if isinstance(model, list) and model and all(isinstance(x, FloatDense) for x in model):
        _check_layers(model, "float")
        return _files(model, prefix, "float", "")
    raise TypeError("plain_c_files expects a graph.Graph or .tflite bytes, an Int8Model (from "
                    "dense.int8_layers) or a list of FloatDense (from dense.float_layers), got "
                    f"{type(model).__name__}")


def _int8_io(model: Int8Model, up: str) -> str:
    for what in ("input_scale", "output_scale"):
        value = getattr(model, what)
        if isinstance(value, bool) or not isinstance(value, (float, int, np.floating)) \
                or not np.isfinite(value) or value <= 0:
            raise ValueError(f"the Int8Model's {what} must be a positive finite number, got "
                             f"{value!r}")
    for what in ("input_zero_point", "output_zero_point"):
        _check_int_range("the Int8Model", what, getattr(model, what), -128, 127)
    return _render("plain_model_int8_io.h", UP=up,
                   INPUT_SCALE=cgen.float_literal(model.input_scale),
                   INPUT_ZERO_POINT=cgen.int_literal(model.input_zero_point),
                   OUTPUT_SCALE=cgen.float_literal(model.output_scale),
                   OUTPUT_ZERO_POINT=cgen.int_literal(model.output_zero_point))


def _array(i: int, what: str, value, ndim: int) -> np.ndarray:
    if not isinstance(value, np.ndarray) or value.ndim != ndim or value.size == 0:
        raise ValueError(f"layer {i}: {what} must be a non-empty {ndim}-D NumPy array, got "
                         f"{getattr(value, 'shape', type(value).__name__)}")
    if value.dtype == np.bool_ or not np.issubdtype(value.dtype, np.number):
        raise TypeError(f"layer {i}: {what} must hold numbers, got dtype {value.dtype}")
    return value


def _check_int_range(where, what: str, values, low: int, high: int) -> None:
    where = f"layer {where}" if isinstance(where, int) else where
    values = np.asarray(values)
    if not np.issubdtype(values.dtype, np.integer) or values.dtype == np.bool_:
        raise TypeError(f"{where}: {what} must be integers, got dtype {values.dtype}")
    if values.size and (values.min() < low or values.max() > high):
        raise ValueError(f"{where}: {what} must lie in {low}..{high}, got "
                         f"{values.min()}..{values.max()}")


def _check_layers(layers, kind: str) -> None:
    """Check every layer before any C is written: shapes, chaining, finite and in range."""
    expected = Int8Dense if kind == "int8" else FloatDense
    for i, lay in enumerate(layers, start=1):
        if not isinstance(lay, expected):
            raise TypeError(f"layer {i} is a {type(lay).__name__}, not a {expected.__name__}")
        w = _array(i, "weights", lay.weights, 2)
        b = _array(i, "bias", lay.bias, 1)
        if b.shape != (w.shape[0],):
            raise ValueError(f"layer {i}: weights must be (outputs, inputs) and bias "
                             f"(outputs,), got {w.shape} and {b.shape}")
        if max(w.shape) > 65535:
            raise ValueError(f"layer {i} is wider than the kernels' 16-bit sizes")
        if not isinstance(lay.relu, (bool, np.bool_)):
            raise TypeError(f"layer {i}: relu must be True or False, got {lay.relu!r}")
        if kind == "float":
            for what, values in (("weights", w), ("bias", b)):
                with np.errstate(over="ignore", invalid="ignore"):
                    finite = np.isfinite(values.astype(np.float32))
                if not np.all(finite):
                    raise ValueError(f"layer {i}: its {what} contain NaN or inf (or values too "
                                     "large for float32); C cannot hold them")
            continue
        _check_int_range(i, "weights", w, -128, 127)
        _check_int_range(i, "bias", b, -(2**31), 2**31 - 1)
        for what in ("multiplier", "shift"):
            if np.shape(getattr(lay, what)) != (w.shape[0],):
                raise ValueError(f"layer {i}: {what} must have one value per output, got shape "
                                 f"{np.shape(getattr(lay, what))}")
        _check_int_range(i, "multiplier", lay.multiplier, 0, 2**31 - 1)
        _check_int_range(i, "shift", lay.shift, -31, 30)
        for what in ("input_zero_point", "output_zero_point", "act_min", "act_max"):
            _check_int_range(i, what, getattr(lay, what), -128, 127)
        if lay.act_min > lay.act_max:
            raise ValueError(f"layer {i}: act_min {lay.act_min} > act_max {lay.act_max}")
    for i, (before, after) in enumerate(itertools.pairwise(layers), start=1):
        if before.weights.shape[0] != after.weights.shape[1]:
            raise ValueError(f"layers {i} and {i + 1} do not chain: {before.weights.shape[0]} "
                             f"outputs feed {after.weights.shape[1]} inputs")


def _buffers(i: int, n_layers: int) -> tuple[str, str]:
    """Return (source, destination) of layer ``i`` (from 1): ping-pong between two buffers."""
    src = "input" if i == 1 else f"buf{(i - 1) % 2}"
    dst = "output" if i == n_layers else f"buf{i % 2}"
    return src, dst


def _layer(i: int, n_layers: int, lay, kind: str) -> tuple[str, str]:
    """Return (the layer's constant arrays, its kernel call) in C."""
    o, n = lay.weights.shape
    common = {"I": str(i), "N_IN": str(n), "N_OUT": str(o), "N_WEIGHTS": str(o * n),
              "ACTIVATION": "ReLU" if lay.relu else "linear"}
    src, dst = _buffers(i, n_layers)
    if kind == "float":
        arrays = _render("dense_float.c", **common,
                         WEIGHTS=cgen.initializer(lay.weights, cgen.float_literal),
                         BIAS=cgen.initializer(lay.bias, cgen.float_literal))
        call = f"  tinyml_dense_float({src}, {dst}, {n}, {o}, w{i}, b{i}, {int(lay.relu)});"
        return arrays, call
    arrays = _render("dense_int8.c", **common, WEIGHTS=cgen.initializer(lay.weights),
                     BIAS=cgen.initializer(lay.bias), MULTIPLIER=cgen.initializer(lay.multiplier),
                     SHIFT=cgen.initializer(lay.shift))
    call = (f"  tinyml_dense_int8({src}, {dst}, {n}, {o}, w{i}, b{i}, m{i}, s{i}, "
            f"{-lay.input_zero_point}, {lay.output_zero_point}, {lay.act_min}, {lay.act_max});")
    return arrays, call


def _files(layers, prefix: str, kind: str, quantization: str) -> CModel:
    ctype = "int8_t" if kind == "int8" else "float"
    parts = [_layer(i, len(layers), lay, kind) for i, lay in enumerate(layers, start=1)]
    up = prefix.upper()
    n_in, n_out = layers[0].weights.shape[1], layers[-1].weights.shape[0]
    widest = max(max(lay.weights.shape) for lay in layers)
    header = _render("plain_model.h", BANNER=cgen.banner(f"{prefix}.h").rstrip("\n"),
                     GUARD=f"{up}_H", UP=up, PREFIX=prefix, KIND=kind, CTYPE=ctype,
                     N_IN=str(n_in), N_OUT=str(n_out), QUANTIZATION=quantization)
    source = _render("plain_model.c", BANNER=cgen.banner(f"{prefix}.c").rstrip("\n"),
                     PREFIX=prefix, CTYPE=ctype, WIDEST=str(widest),
                     LAYERS="".join(arrays for arrays, _ in parts),
                     CALLS="\n".join(call for _, call in parts))
    # The two ping-pong buffers live on the stack of <prefix>_invoke, sized by the widest layer.
    buffers = 2 * widest * (1 if kind == "int8" else 4)
    return CModel(prefix, kind, int(n_in), int(n_out),
                  {f"{prefix}.h": header, f"{prefix}.c": source}, DENSE_KERNELS,
                  dense.data_bytes(layers), buffers)
