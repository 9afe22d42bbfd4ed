"""Random small int8 models, one operator kind each or whole small CNNs, and a batched runner
of their generated C in the firmware harness (host, simulated Uno, simulated Cortex-M4).

:func:`draw` builds, for a kind of :data:`KINDS` and a seed, a Keras model whose parameters are
drawn at random (kernel, strides, dilation, padding, fused activation, channels, groups, depth
multiplier, pool windows, bias or none, ...), gives it random weights and biases (an overall
scale, a spread of per-channel scales, sometimes a channel of zeros) and random calibration data
(so input zero points and requantization multipliers vary), converts it to full int8 and reads
it with ``graph.read``. A combination that Keras, the converter, ``graph.read``, ``graph_c`` or
the TFLM runtime refuses is drawn again; the refusals are kept with the model so a caller can
count them. Keras turns a dilated convolution into SPACE_TO_BATCH_ND around an undilated one, so
dilation is set in the converted file instead (see :func:`_dilate`).

Each model comes with ``rows`` of int8 input codes, the TFLM runtime's outputs for them (the
trusted reference) and ``ops.run``'s, and its generated C over both kernel sets of
``graph_c`` (reference and fast). The rows are not stored in the firmware: a few lines of C
make them on the board with a xorshift32 generator that :func:`input_rows` repeats in NumPy
(rows 0, 1 and 2 are all -128, all 127 and all the input zero point; of the others a third
spans all codes and two thirds stay near the zero point).

:func:`run_models` runs many models on one target in few builds: :func:`batch_model` writes a
``batch.c`` whose ``batch_invoke`` takes two codes (which item, which row), makes that row,
runs that model on it and hands the harness one slice of at most ``width`` output codes, so the
harness's two output arrays stay small (``kernels`` chooses the C of every model in it). On
the Uno a slice is at most 48 codes (the harness prints them in OUT lines of 32, under simavr's
256 characters a line) and a batch holds only as many models as its RAM and flash allow.
"""

from __future__ import annotations

import math
import re
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from tinyml_helpers.deploy import c_model, firmware, graph, graph_c, litert, ops, tflm

OP_KINDS = ("CONV_2D", "DEPTHWISE_CONV_2D", "MAX_POOL_2D", "AVERAGE_POOL_2D",
            "FULLY_CONNECTED", "SOFTMAX", "Conv1D")
KINDS = OP_KINDS + ("CNN",)
TARGETS = ("host", "uno", "m4")

# The Uno's budget, as tests/test_graph_c.py sets it: 2 KB of RAM less what the harness (its
# line buffer) and the stacks take; activations, input and two output arrays must fit the rest.
UNO_RAM = 2048
UNO_RESERVED = 96 + 700
UNO_WIDTH = 48  # output codes per harness case on the Uno: its two output arrays take 96 B
UNO_FLASH_BUDGET = 17_000  # bytes of model constants and code a batch may add to the harness
UNO_STACK = 450  # stack the harness and kernels may take (test_graph_c measured ~450 B)
UNO_BATCH_MARGIN = 64  # a batch's own calls (batch_invoke, batch_m<k>) take a little more
HOST_WIDTH = 128  # output codes per harness case on the host and the M4
SIZE_PRIOR = 1800  # drawn shapes keep input + 2 * output codes below this (most fit the Uno)


# ---- what is drawn ---------------------------------------------------------------------------

@dataclass(frozen=True)
class Layer:
    """One Keras layer as drawn: its kind, its keyword arguments and a dilation to set."""

    kind: str  # a key of _KERAS
    options: tuple[tuple[str, object], ...] = ()
    dilation: int = 1  # > 1: set in the converted file (CONV_2D / DEPTHWISE_CONV_2D only)

    def keras(self, layers):
        """Return the Keras layer (undilated)."""
        return getattr(layers, _KERAS[self.kind])(**dict(self.options))

    def get(self, key: str, default=None):
        """Return one keyword argument."""
        return dict(self.options).get(key, default)


_KERAS = {"conv": "Conv2D", "depthwise": "DepthwiseConv2D", "max_pool": "MaxPool2D",
          "average_pool": "AveragePooling2D", "relu": "ReLU", "flatten": "Flatten",
          "dense": "Dense", "softmax": "Softmax", "conv1d": "Conv1D", "max_pool1d": "MaxPool1D",
          "average_pool1d": "AveragePooling1D"}


@dataclass(frozen=True)
class Drawn:
    """A drawn architecture: the real input shape, the layers and the table's labels."""

    kind: str
    input_shape: tuple[int, ...]  # what the converted model takes (after any dilation edit)
    keras_shape: tuple[int, ...]  # what the Keras model is built on (smaller if dilated VALID)
    layers: tuple[Layer, ...]
    labels: dict[str, str]  # parameter kind -> value, for the tables
    text: str  # a one-line description with every drawn parameter
    batch_one: bool = False  # build the Keras input with batch size 1 (Dense keeps its rows)


@dataclass
class RandomModel:
    """A drawn, converted and checked model, its input rows and both references' outputs."""

    kind: str
    seed: int
    drawn: Drawn
    tflite: bytes
    graph: graph.Graph
    row_seed: int  # seeds the input rows (here and on the board)
    rows: np.ndarray  # (n_rows, n_inputs) int8
    expected: np.ndarray  # (n_rows, n_outputs) int8: the TFLM runtime's outputs
    reference: np.ndarray  # the same from ops.run
    c: graph_c.GraphC  # the generated C with the prefix "m" (reference kernels)
    fast: graph_c.GraphC  # the same over the fast kernels
    uno_skip: str | None  # why its reference C does not fit the Uno (None: it does)
    refusals: list[str] = field(default_factory=list)  # what was drawn and refused before
    fast_uno_skip: str | None = None  # the same for its fast C (a window buffer more)

    def code(self, kernels: str) -> graph_c.GraphC:
        """Return the generated C over ``kernels`` ("reference" or "fast")."""
        return self.fast if graph_c.check_kernels(kernels) == "fast" else self.c

    def skip(self, kernels: str) -> str | None:
        """Return why its C over ``kernels`` does not fit the Uno, or None."""
        return self.fast_uno_skip if graph_c.check_kernels(kernels) == "fast" else self.uno_skip

    @property
    def labels(self) -> dict[str, str]:
        """Return the parameter kinds and values of the tables."""
        return self.drawn.labels

    @property
    def name(self) -> str:
        """Return the kind, seed and drawn parameters in one line."""
        return f"{self.kind} #{self.seed}: {self.drawn.text}"


def _pick(rng, values):
    return values[int(rng.integers(len(values)))]


def _activation(rng) -> str | None:
    return _pick(rng, (None, "relu", "relu6"))


def _act_name(activation) -> str:
    return (activation or "none").upper()


def _out(padding: str, size: int, window: int, stride: int, dilation: int = 1) -> int:
    """Return the output length of a window (TFLite's rule, <= 0 if VALID does not fit)."""
    if padding == "same":
        return -(-size // stride)
    return (size - (window - 1) * dilation - 1) // stride + 1


def _stride_label(sh: int, sw: int) -> str:
    return str(sh) if sh == sw else "unequal (h != w)"


def _kernel_label(kh: int, kw: int) -> str:
    return "1x1" if kh == kw == 1 else "square" if kh == kw else "non-square"


def _strides(rng, top: int = 3) -> tuple[int, int]:
    s = int(rng.integers(1, top + 1)) if rng.random() < 0.7 else 1
    if rng.random() < 0.2:
        return int(rng.integers(1, top + 1)), int(rng.integers(1, top + 1))
    return s, s


def _window(rng, top: int) -> tuple[int, int]:
    k = int(rng.integers(1, top + 1))
    if rng.random() < 0.4:
        return k, int(rng.integers(1, top + 1))
    return k, k


def _conv_layer(rng, depthwise: bool, cin: int, dilate: bool, kernel: int = 5,
                stride: int = 3) -> Layer:
    """Return a Conv2D or DepthwiseConv2D layer with drawn parameters."""
    kh, kw = _window(rng, kernel)
    sh, sw = _strides(rng, stride)
    padding = _pick(rng, ("same", "valid"))
    dilation = 2 if dilate and sh == sw == 1 and max(kh, kw) > 1 and rng.random() < 0.3 else 1
    options = {"kernel_size": (kh, kw), "strides": (sh, sw), "padding": padding,
               "activation": _activation(rng)}
    if depthwise:
        options["depth_multiplier"] = int(rng.integers(1, 4))
    else:
        cout = int(rng.integers(1, 7))
        groups = [g for g in range(2, 7) if cin % g == 0 and cout % g == 0]
        if groups and rng.random() < 0.25:
            options["groups"] = _pick(rng, groups)
        options["filters"] = cout
    return Layer("depthwise" if depthwise else "conv", tuple(options.items()), dilation)


def _conv_shape(layer: Layer, shape: tuple[int, int, int]) -> tuple[int, int, int]:
    """Return the output (h, w, c) of a drawn (dilated) convolution on ``shape``."""
    (kh, kw), (sh, sw) = layer.get("kernel_size"), layer.get("strides")
    pad, d = layer.get("padding"), layer.dilation
    c = shape[2] * layer.get("depth_multiplier") if layer.kind == "depthwise" \
        else layer.get("filters")
    return _out(pad, shape[0], kh, sh, d), _out(pad, shape[1], kw, sw, d), c


def _pool_shape(layer: Layer, shape: tuple[int, int, int]) -> tuple[int, int, int]:
    (ph, pw), (sh, sw) = layer.get("pool_size"), layer.get("strides")
    pad = layer.get("padding")
    return _out(pad, shape[0], ph, sh), _out(pad, shape[1], pw, sw), shape[2]


def _conv_text(layer: Layer) -> str:
    (kh, kw), (sh, sw) = layer.get("kernel_size"), layer.get("strides")
    extra = (f" x{layer.get('depth_multiplier')}" if layer.kind == "depthwise"
             else f" ->{layer.get('filters')}" + (f" g{layer.get('groups')}"
                                                  if layer.get("groups") else ""))
    return (f"{'dw' if layer.kind == 'depthwise' else 'conv'} k{kh}x{kw} s{sh},{sw} "
            f"d{layer.dilation} {layer.get('padding')} {_act_name(layer.get('activation'))}"
            + extra)


def _pool_text(layer: Layer) -> str:
    (ph, pw), (sh, sw) = layer.get("pool_size"), layer.get("strides")
    name = "max" if layer.kind == "max_pool" else "avg"
    return f"{name} {ph}x{pw} s{sh},{sw} {layer.get('padding')}"


def _keras_input(shape: tuple[int, ...], layers: tuple[Layer, ...]) -> tuple[int, ...]:
    """Return the shape the undilated Keras model is built on: a dilated VALID first
    convolution reads (k - 1) * (d - 1) fewer rows and columns there."""
    first = layers[0]
    if first.kind not in ("conv", "depthwise") or first.dilation == 1 \
            or first.get("padding") != "valid":
        return shape
    kh, kw = first.get("kernel_size")
    grow = first.dilation - 1
    return (shape[0] - (kh - 1) * grow, shape[1] - (kw - 1) * grow, *shape[2:])


def _small_enough(n_in: int, n_out: int) -> bool:
    return n_in + 2 * n_out <= SIZE_PRIOR


def _draw_conv(rng, depthwise: bool) -> Drawn:
    while True:
        cin = int(rng.integers(1, 7))
        layer = _conv_layer(rng, depthwise, cin, dilate=True)
        shape = (int(rng.integers(1, 13)), int(rng.integers(1, 13)), cin)
        out = _conv_shape(layer, shape)
        if _small_enough(math.prod(shape), max(0, math.prod(out))):
            break
    (kh, kw), (sh, sw) = layer.get("kernel_size"), layer.get("strides")
    labels = {"kernel": _kernel_label(kh, kw), "stride": _stride_label(sh, sw),
              "dilation": str(layer.dilation), "padding": layer.get("padding").upper(),
              "activation": _act_name(layer.get("activation"))}
    if depthwise:
        labels["depth multiplier"] = str(layer.get("depth_multiplier"))
    else:
        labels["groups"] = "1" if not layer.get("groups") else "> 1"
    text = f"{'x'.join(map(str, shape))} {_conv_text(layer)}"
    layers = (layer,)
    return Drawn("DEPTHWISE_CONV_2D" if depthwise else "CONV_2D", shape,
                 _keras_input(shape, layers), layers, labels, text)


def _pool_layer(rng, kind: str, stride: int = 3) -> Layer:
    ph, pw = _window(rng, 3)
    if (ph, pw) == (1, 1):  # a copy (or a subsampling): drawn again, kept one time in four
        ph, pw = _window(rng, 3)
    sh, sw = _strides(rng, stride)
    return Layer(kind, (("pool_size", (ph, pw)), ("strides", (sh, sw)),
                        ("padding", _pick(rng, ("same", "valid")))))


def _draw_pool(rng, kind: str) -> Drawn:
    while True:
        layer = _pool_layer(rng, "max_pool" if kind == "MAX_POOL_2D" else "average_pool")
        shape = (int(rng.integers(1, 13)), int(rng.integers(1, 13)), int(rng.integers(1, 7)))
        out = _pool_shape(layer, shape)
        if _small_enough(math.prod(shape), max(0, math.prod(out))):
            break
    layers = [layer]
    after_conv = rng.random() < 0.5
    if after_conv:  # the pool then reads a tensor quantized by the converter, not the input
        layers.insert(0, Layer("conv", (("filters", shape[2]), ("kernel_size", 1))))
    activation = _pick(rng, (None, None, "relu", "relu6"))
    if activation:  # the converter fuses a following ReLU / ReLU6 into the pool
        layers.append(Layer("relu", (("max_value", 6.0 if activation == "relu6" else None),)))
    (ph, pw), (sh, sw) = layer.get("pool_size"), layer.get("strides")
    labels = {"window": _kernel_label(ph, pw), "stride": _stride_label(sh, sw),
              "padding": layer.get("padding").upper(), "activation": _act_name(activation),
              "reads": "a 1x1 conv's output" if after_conv else "the graph input"}
    text = (f"{'x'.join(map(str, shape))} {'conv1x1 ' if after_conv else ''}"
            f"{_pool_text(layer)} {_act_name(activation)}")
    return Drawn(kind, shape, shape, tuple(layers), labels, text)


def _draw_dense(rng) -> Drawn:
    units = int(rng.integers(1, 17))
    use_bias = bool(rng.random() < 0.6)
    activation = _activation(rng)
    dense = Layer("dense", (("units", units), ("activation", activation),
                            ("use_bias", use_bias)))
    form = _pick(rng, ("1-D", "flattened 3-D", "rows (keep_num_dims)"))
    if form == "1-D":
        shape, layers = (int(rng.integers(1, 65)),), (dense,)
    elif form == "flattened 3-D":
        shape = tuple(int(v) for v in rng.integers(1, 6, size=2)) + (int(rng.integers(1, 5)),)
        layers = (Layer("flatten"), dense)
    else:
        shape, layers = (int(rng.integers(2, 7)), int(rng.integers(1, 17))), (dense,)
    labels = {"input": form, "bias": "yes" if use_bias else "no",
              "activation": _act_name(activation), "units": "1" if units == 1 else "2-16"}
    text = (f"{'x'.join(map(str, shape))} {'flatten ' if form == 'flattened 3-D' else ''}"
            f"dense {units} bias={use_bias} {_act_name(activation)}")
    return Drawn("FULLY_CONNECTED", shape, shape, layers, labels, text,
                 batch_one=form.startswith("rows"))


def _draw_softmax(rng) -> Drawn:
    depth = int(rng.integers(2, 21)) if rng.random() < 0.8 else int(rng.integers(21, 49))
    several = rng.random() < 0.3
    features = int(rng.integers(1, 25))
    shape = (int(rng.integers(2, 5)), features) if several else (features,)
    layers = (Layer("dense", (("units", depth),)), Layer("softmax"))
    labels = {"depth": "2-4" if depth <= 4 else "5-10" if depth <= 10 else "11-20"
              if depth <= 20 else "21-48",
              "rows": "several (keep_num_dims)" if several else "one"}
    text = f"{'x'.join(map(str, shape))} dense {depth} softmax"
    return Drawn("SOFTMAX", shape, shape, layers, labels, text, batch_one=several)


def _draw_conv1d(rng) -> Drawn:
    length, cin = int(rng.integers(3, 25)), int(rng.integers(1, 7))
    k, s = int(rng.integers(1, 6)), int(rng.integers(1, 4))
    padding = _pick(rng, ("same", "valid")) if rng.random() > 0.08 else "causal"
    activation = _activation(rng)
    layers = [Layer("conv1d", (("filters", int(rng.integers(1, 7))), ("kernel_size", k),
                               ("strides", s), ("padding", padding),
                               ("activation", activation)))]
    pool = _pick(rng, ("none", "MaxPool1D", "AveragePooling1D"))
    text = f"{length}x{cin} conv1d k{k} s{s} {padding} {_act_name(activation)} ->"
    text += str(layers[0].get("filters"))
    if pool != "none":
        p, ps = int(rng.integers(1, 4)), int(rng.integers(1, 4))
        pad = _pick(rng, ("same", "valid"))
        layers.append(Layer("max_pool1d" if pool == "MaxPool1D" else "average_pool1d",
                            (("pool_size", p), ("strides", ps), ("padding", pad))))
        text += f" {pool}({p}, s{ps}, {pad})"
    labels = {"kernel": "1" if k == 1 else "2-5", "stride": str(s), "padding": padding.upper(),
              "activation": _act_name(activation), "pool after": pool}
    return Drawn("Conv1D", (length, cin), (length, cin), tuple(layers), labels, text)


def _draw_cnn(rng) -> Drawn:
    """Return 2-5 drawn layers of convolutions and pools, then Flatten, Dense and Softmax."""
    while True:
        shape = (int(rng.integers(5, 13)), int(rng.integers(5, 13)), int(rng.integers(1, 4)))
        current, layers, texts = shape, [], []
        for position in range(int(rng.integers(2, 6))):
            kind = _pick(rng, ("conv", "conv", "depthwise", "max_pool", "average_pool"))
            for _ in range(20):  # a layer that keeps the tensor non-empty and small
                if kind in ("conv", "depthwise"):
                    layer = _conv_layer(rng, kind == "depthwise", current[2], dilate=True,
                                        kernel=3 if min(current[:2]) < 6 else 5, stride=2)
                    if layer.dilation > 1 and layer.get("padding") == "valid" and position:
                        continue  # only the first layer's input can grow in the file
                    if kind == "depthwise" and current[2] * layer.get("depth_multiplier") > 8:
                        continue
                    out = _conv_shape(layer, current)
                else:
                    layer = _pool_layer(rng, kind, stride=2)
                    if layer.get("pool_size") == (1, 1):
                        continue  # a 1x1 window is drawn often enough in the pool models
                    out = _pool_shape(layer, current)
                if min(out) >= 1 and math.prod(out) <= 400:
                    break
            else:
                continue
            layers.append(layer)
            texts.append(_conv_text(layer) if kind in ("conv", "depthwise")
                         else _pool_text(layer))
            current = out
        if len(layers) >= 2 and math.prod(shape) <= 400:
            break
    hidden = rng.random() < 0.4
    if hidden:
        units = int(rng.integers(4, 17))
        layers += [Layer("flatten"), Layer("dense", (("units", units),
                                                     ("activation", _activation(rng))))]
        texts.append(f"flatten dense {units}")
    else:
        layers.append(Layer("flatten"))
        texts.append("flatten")
    classes = int(rng.integers(2, 11))
    layers.append(Layer("dense", (("units", classes),)))
    texts.append(f"dense {classes}")
    softmax = rng.random() < 0.7
    if softmax:
        layers.append(Layer("softmax"))
        texts.append("softmax")
    kinds = [layer.kind for layer in layers]
    n_chain = sum(k in ("conv", "depthwise", "max_pool", "average_pool") for k in kinds)
    labels = {"layers before Flatten": str(n_chain),
              "dilated conv": "yes" if any(layer.dilation > 1 for layer in layers) else "no",
              "strided": "yes" if any(layer.get("strides", (1, 1)) != (1, 1)
                                      for layer in layers if layer.kind != "dense") else "no",
              "has DEPTHWISE_CONV_2D": "yes" if "depthwise" in kinds else "no",
              "has a pool": "yes" if {"max_pool", "average_pool"} & set(kinds) else "no",
              "hidden Dense": "yes" if hidden else "no", "ends in Softmax": "yes" if softmax
              else "no"}
    layers_t = tuple(layers)
    return Drawn("CNN", shape, _keras_input(shape, layers_t), layers_t, labels,
                 f"{'x'.join(map(str, shape))} " + " | ".join(texts))


def draw_architecture(kind: str, rng) -> Drawn:
    """Return a random architecture of ``kind`` (no Keras involved)."""
    if kind in ("CONV_2D", "DEPTHWISE_CONV_2D"):
        return _draw_conv(rng, kind == "DEPTHWISE_CONV_2D")
    if kind in ("MAX_POOL_2D", "AVERAGE_POOL_2D"):
        return _draw_pool(rng, kind)
    if kind == "FULLY_CONNECTED":
        return _draw_dense(rng)
    if kind == "SOFTMAX":
        return _draw_softmax(rng)
    if kind == "Conv1D":
        return _draw_conv1d(rng)
    if kind == "CNN":
        return _draw_cnn(rng)
    raise ValueError(f"unknown kind {kind!r}; choose from {', '.join(KINDS)}")


# ---- weights, calibration, conversion ----------------------------------------------------------

def _randomize(model, rng, tf) -> str:
    """Give every weighted layer random weights and biases; return how the first one's
    per-channel scales were drawn ("even", "spread" or "dead channel")."""
    first = None
    for layer in model.layers:
        weights = layer.get_weights()
        if not weights:
            continue
        kernel = weights[0]
        depthwise = isinstance(layer, tf.keras.layers.DepthwiseConv2D)
        flat = kernel.reshape(*kernel.shape[:-2], -1) if depthwise else kernel
        channels = flat.shape[-1]
        fan_in = flat.size // channels
        scale = 10 ** rng.uniform(-2.0, 2.0) / math.sqrt(fan_in)
        style = _pick(rng, ("even", "spread", "spread", "dead channel")) if channels > 1 \
            else "even"
        per_channel = np.ones(channels)
        if style != "even":
            per_channel = 10 ** rng.uniform(-1.5, 1.0, size=channels)
        if style == "dead channel":
            per_channel[int(rng.integers(channels))] = 0.0
        flat = rng.normal(size=flat.shape) * scale * per_channel
        new = [flat.reshape(kernel.shape).astype(np.float32)]
        if len(weights) > 1:
            bias = rng.normal(size=weights[1].shape) * 10 ** rng.uniform(-2.0, 1.0)
            if rng.random() < 0.15:
                bias[:] = 0.0  # the converter then leaves the bias out
            new.append(bias.astype(np.float32))
        layer.set_weights(new)
        first = first or style
    return first or "none"


def _calibration(rng, shape: tuple[int, ...]) -> tuple[np.ndarray, str]:
    """Return 64 random calibration inputs and how they were drawn."""
    sigma = 10 ** rng.uniform(-2.0, 2.0)
    how = _pick(rng, ("centred", "offset", "positive"))
    size = (64, *shape)
    if how == "centred":
        x = rng.normal(size=size) * sigma
    elif how == "offset":
        x = rng.normal(size=size) * sigma + sigma * rng.uniform(-2.0, 2.0)
    else:
        x = rng.uniform(0.0, 3.0 * sigma, size=size)
    return x.astype(np.float32), how


def _dilate(tflite: bytes, drawn: Drawn) -> bytes:
    """Return the converted model with the drawn dilations set on its convolutions.

    The k-th CONV_2D / DEPTHWISE_CONV_2D of the file is the k-th convolution layer. A dilated
    SAME convolution has the shapes of the undilated one; a dilated VALID one (first layer only)
    reads a larger input, so the graph input's shape grows back to the drawn one."""
    wanted = [layer.dilation for layer in drawn.layers if layer.kind in ("conv", "depthwise")]
    if all(d == 1 for d in wanted):
        return tflite
    import flatbuffers
    from ai_edge_litert import schema_py_generated as schema

    model = schema.ModelT.InitFromPackedBuf(tflite, 0)
    sub = model.subgraphs[0]
    names = {v: k for k, v in vars(schema.BuiltinOperator).items() if not k.startswith("_")}
    convs = []
    for op in sub.operators:
        code = model.operatorCodes[op.opcodeIndex]
        kind = names.get(max(code.builtinCode, code.deprecatedBuiltinCode))
        if kind in ("CONV_2D", "DEPTHWISE_CONV_2D"):
            convs.append(op)
    if len(convs) != len(wanted):
        raise ValueError(f"{len(convs)} convolutions in the file for {len(wanted)} layers")
    for op, d in zip(convs, wanted, strict=True):
        op.builtinOptions.dilationHFactor = op.builtinOptions.dilationWFactor = d
    if drawn.input_shape != drawn.keras_shape:
        x = sub.tensors[sub.inputs[0]]
        shape = np.array([1, *drawn.input_shape], dtype=np.int32)
        x.shape, x.shapeSignature = shape, np.array([-1, *drawn.input_shape], dtype=np.int32)
    builder = flatbuffers.Builder(1024)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


# ---- input rows, made the same way here and on the board ---------------------------------------

GOLDEN = 0x9E3779B9  # row r's generator starts from row_seed ^ r * GOLDEN
NARROW = (1, 4, 16)  # row % 3: full-range codes, or zero point + code / 4, or + code / 16


def input_rows(row_seed: int, n_rows: int, n_inputs: int, zero_point: int) -> np.ndarray:
    """Return (n_rows, n_inputs) int8 codes as batch.c makes them on the board.

    Rows 0, 1, 2 are all -128, all 127, all the zero point. Every other row draws int8 values
    v from xorshift32 (13, 17, 5) seeded with row_seed ^ row * GOLDEN (four draws skipped, v the
    state's top byte): the codes are v itself when row % 3 == 0 (the whole range, where many
    outputs saturate), else the zero point + v / 4 or v / 16 (C's division, clamped to int8):
    inputs near the real 0, like the calibration data, whose outputs fall inside the range."""
    rows = np.empty((n_rows, n_inputs), dtype=np.int8)
    for row, code in enumerate((-128, 127, zero_point)[:n_rows]):
        rows[row] = code
    if n_rows <= 3:
        return rows
    r = np.arange(3, n_rows, dtype=np.uint64)
    state = (np.uint64(row_seed) ^ ((r * np.uint64(GOLDEN)) & np.uint64(0xFFFFFFFF)))
    state = state.astype(np.uint32)
    state[state == 0] = 1
    codes = np.empty((len(r), n_inputs), dtype=np.uint8)
    for i in range(4 + n_inputs):
        state ^= state << np.uint32(13)
        state ^= state >> np.uint32(17)
        state ^= state << np.uint32(5)
        if i >= 4:
            codes[:, i - 4] = (state >> np.uint32(24)).astype(np.uint8)
    v = codes.view(np.int8).astype(np.int32)
    divisor = np.array([NARROW[int(k) % 3] for k in r])[:, None]
    narrow = np.clip(zero_point + np.fix(v / divisor).astype(np.int32), -128, 127)
    rows[3:] = np.where(divisor == 1, v, narrow)
    return rows


# ---- one model ---------------------------------------------------------------------------------

def uno_skip(c: c_model.CModel, rows: np.ndarray) -> str | None:
    """Return why a model cannot run on the Uno as C ``c`` (firmware.check_fits, then
    test_graph_c's RAM budget), or None."""
    try:
        firmware.check_fits("uno", c, rows)
    except ValueError as exc:
        return str(exc)
    need = c.activation_bytes + c.n_inputs + 2 * c.n_outputs
    if need > UNO_RAM - UNO_RESERVED:
        return (f"needs {need} B of RAM for activations, input and outputs; "
                f"{UNO_RAM - UNO_RESERVED} B are left after the harness and stacks")
    return None


def _refusal(stage: str, exc: Exception, drawn: Drawn) -> str:
    """Return '<stage>: <the message's first telling line> | <what was drawn>' (Keras wraps
    its errors in a few lines of its own)."""
    lines = [t.strip() for t in str(exc).splitlines() if t.strip()
             and not t.startswith("Exception encountered")]
    line = (lines[0] if lines else type(exc).__name__).split(" for '{{")[0]
    return f"{stage}: {line[:140]} | {drawn.text}"


def draw(kind: str, seed: int, tf, n_rows: int = 24, max_tries: int = 50) -> RandomModel:
    """Return a valid random model of ``kind`` for ``seed`` (the same every time).

    Draws until Keras, the converter, graph.read, graph_c and the TFLM runtime all accept it;
    what they refused on the way is in ``refusals``."""
    from tinyml_helpers.deploy import env

    if kind not in KINDS:
        raise ValueError(f"unknown kind {kind!r}; choose from {', '.join(KINDS)}")
    rng = np.random.default_rng([seed, KINDS.index(kind)])
    refusals = []
    for _ in range(max_tries):
        drawn = draw_architecture(kind, rng)
        env.set_seed(int(rng.integers(2**31)))
        layers = tf.keras.layers
        try:
            start = tf.keras.Input(drawn.keras_shape, batch_size=1 if drawn.batch_one else None)
            model = tf.keras.Sequential([start] + [layer.keras(layers) for layer in drawn.layers])
        except ValueError as exc:  # e.g. a VALID window larger than the input
            refusals.append(_refusal("Keras", exc, drawn))
            continue
        weights = _randomize(model, rng, tf)
        x, how = _calibration(rng, drawn.keras_shape)
        try:
            tflite = _dilate(litert.convert(model, "int8", x), drawn)
        except ValueError as exc:
            refusals.append(_refusal("convert", exc, drawn))
            continue
        try:
            g = graph.read(tflite)
        except ValueError as exc:
            refusals.append(_refusal("graph.read", exc, drawn))
            continue
        try:
            c, fast = (graph_c.generate(g, "m", kernels) for kernels in graph_c.KERNEL_SETS)
        except ValueError as exc:
            refusals.append(_refusal("graph_c", exc, drawn))
            continue
        zero_point = int(g.tensors[g.inputs[0]].quantization.zero_point[0])
        row_seed = int(rng.integers(1, 2**32))
        rows = input_rows(row_seed, n_rows, c.n_inputs, zero_point)
        try:
            expected = tflm.run(tflite, rows).reshape(n_rows, -1)
        except ValueError as exc:
            refusals.append(_refusal("TFLM", exc, drawn))
            continue
        labels = dict(drawn.labels)
        if kind not in ("MAX_POOL_2D", "AVERAGE_POOL_2D", "SOFTMAX", "CNN"):
            labels["weights"] = weights
        if kind == "SOFTMAX":
            scale = float(g.tensors[g.ops[-1].inputs[0]].quantization.scale[0])
            labels["input scale"] = ("< 0.05" if scale < 0.05 else "0.05-0.5" if scale < 0.5
                                     else "0.5-5" if scale < 5 else ">= 5")
        drawn = Drawn(drawn.kind, drawn.input_shape, drawn.keras_shape, drawn.layers, labels,
                      f"{drawn.text} (weights {weights}, calibration {how})", drawn.batch_one)
        reference = ops.run(g, rows.reshape(n_rows, *g.tensors[g.inputs[0]].shape[1:]))
        return RandomModel(kind, seed, drawn, tflite, g, row_seed, rows, expected,
                           reference.reshape(n_rows, -1), c, fast, uno_skip(c, rows),
                           refusals, uno_skip(fast, rows))
    raise RuntimeError(f"{kind} #{seed}: nothing valid in {max_tries} draws: {refusals[-3:]}")


def pinned(tflite: bytes, kind: str, text: str, n_rows: int = 16, row_seed: int = 1
           ) -> RandomModel:
    """Return a given full-int8 .tflite as a RandomModel (seed -1): a case found by drawing,
    kept to be run with the drawn ones."""
    g = graph.read(tflite)
    c, fast = (graph_c.generate(g, "m", kernels) for kernels in graph_c.KERNEL_SETS)
    zero_point = int(g.tensors[g.inputs[0]].quantization.zero_point[0])
    rows = input_rows(row_seed, n_rows, c.n_inputs, zero_point)
    shape = g.tensors[g.inputs[0]].shape[1:]
    return RandomModel(kind, -1, Drawn(kind, shape, shape, (), {}, text), tflite, g, row_seed,
                       rows, tflm.run(tflite, rows).reshape(n_rows, -1),
                       ops.run(g, rows).reshape(n_rows, -1), c, fast, uno_skip(c, rows),
                       fast_uno_skip=uno_skip(fast, rows))


# ---- many models in one firmware ---------------------------------------------------------------

@dataclass(frozen=True)
class Item:
    """One harness case's work: a slice of one model's outputs."""

    model: int  # index in the batch
    start: int
    count: int


def _items(models: list[RandomModel], width: int) -> list[Item]:
    return [Item(k, start, min(width, m.c.n_outputs - start))
            for k, m in enumerate(models) for start in range(0, m.c.n_outputs, width)]


def batch_model(models: list[RandomModel], width: int, kernels: str = "reference"
                ) -> tuple[c_model.CModel, np.ndarray, list[tuple[int, int, Item]]]:
    """Return (the batch as a CModel, the harness's input rows, what each case computes), the
    models' C over ``kernels`` ("reference" or "fast").

    The models become m0, m1, ... next to batch.h / batch.c; each harness case is two codes
    (item, row) and gets ``width`` codes back: the item's slice, zeros after it. A model with
    at most ``width`` outputs writes them straight into the harness's array; a wider one
    writes into a scratch array that each of its slices copies from."""
    if not models or len(models) > 255:
        raise ValueError(f"a batch holds 1..255 models, got {len(models)}")
    n_rows = len(models[0].rows)
    if any(len(m.rows) != n_rows for m in models) or n_rows > 255:
        raise ValueError("the models of a batch need the same number of rows (at most 255)")
    items = _items(models, width)
    if len(items) > 255:
        raise ValueError(f"{len(items)} slices: at most 255 fit a batch")
    cs = [graph_c.generate(m.graph, f"m{k}", kernels) for k, m in enumerate(models)]
    files = {}
    for c in cs:
        files.update(c.files)
    max_in = max(c.n_inputs for c in cs)
    scratch = max((c.n_outputs for c in cs if c.n_outputs > width), default=0)
    runners = "".join(
        f"static void batch_m{k}(uint8_t row, int8_t *out) {{\n"
        f"  batch_fill({m.row_seed}UL, row, M{k}_INPUTS, M{k}_INPUT_ZERO_POINT);\n"
        f"  m{k}_invoke(batch_input, out);\n}}\n\n" for k, m in enumerate(models))
    cases_c = []
    for j, it in enumerate(items):
        if cs[it.model].n_outputs <= width:
            cases_c.append(f"    case {j}: batch_m{it.model}(row, output); count = {it.count}; "
                           "break;")
        else:
            cases_c.append(f"    case {j}: batch_m{it.model}(row, batch_output); "
                           f"count = batch_slice(output, {it.start}, {it.count}); break;")
    wide = (f"static int8_t batch_output[{scratch}]; /* a model wider than BATCH_WIDTH */\n\n"
            "static uint16_t batch_slice(int8_t *output, uint16_t start, uint16_t count) {\n"
            "  for (uint16_t i = 0; i < count; ++i) output[i] = batch_output[start + i];\n"
            "  return count;\n}\n\n") if scratch else ""
    includes = "".join(f'#include "m{k}.h"\n' for k in range(len(models)))
    files["batch.h"] = (
        "/* batch.h: several generated models behind one invoke (tests/random_models.py). */\n"
        "#ifndef BATCH_H\n#define BATCH_H\n\n#include <stdint.h>\n\n"
        "/* input: (item, row) as two codes; output: BATCH_WIDTH codes of that item's slice. */\n"
        f"#define BATCH_WIDTH {width}\n"
        "void batch_invoke(const int8_t *input, int8_t *output);\n\n#endif /* BATCH_H */\n")
    files["batch.c"] = f"""/* batch.c: model m<k> on input row <row>, one slice of its outputs.
 *
 * Written by tests/random_models.py. The rows are made here, not stored: rows 0, 1, 2 hold
 * -128, 127 and the model's input zero point; the others take values v from xorshift32 seeded
 * with the model's seed ^ row * 0x9E3779B9 (four draws skipped, v the state's top byte): v
 * itself when row % 3 is 0, else the zero point + v / 4 or v / 16, clamped.
 * Every call makes the row and runs the model again, so the harness's check that two calls
 * give the same outputs, its stack probe and its counter see the whole model each time.
 */
#include <stdint.h>

#include "batch.h"
{includes}
static int8_t batch_input[{max_in}];
static uint32_t batch_state;

{wide}static int8_t batch_random(void) {{
  batch_state ^= batch_state << 13;
  batch_state ^= batch_state >> 17;
  batch_state ^= batch_state << 5;
  return (int8_t)(uint8_t)(batch_state >> 24);
}}

static void batch_fill(uint32_t seed, uint8_t row, uint16_t n, int8_t zero_point) {{
  uint16_t i;
  if (row < 3u) {{
    int8_t code = row == 0u ? -128 : row == 1u ? 127 : zero_point;
    for (i = 0; i < n; ++i) batch_input[i] = code;
    return;
  }}
  batch_state = seed ^ ((uint32_t)row * 0x9E3779B9UL);
  if (batch_state == 0u) batch_state = 1u;
  for (i = 0; i < 4u; ++i) (void)batch_random();
  int16_t divisor = row % 3u == 0u ? 1 : row % 3u == 1u ? {NARROW[1]} : {NARROW[2]};
  for (i = 0; i < n; ++i) {{
    int16_t v = batch_random();
    if (divisor > 1) {{
      v = (int16_t)(zero_point + v / divisor);
      v = v < -128 ? -128 : v > 127 ? 127 : v;
    }}
    batch_input[i] = (int8_t)v;
  }}
}}

{runners}void batch_invoke(const int8_t *input, int8_t *output) {{
  uint8_t row = (uint8_t)input[1];
  uint16_t count = 0;
  switch ((uint8_t)input[0]) {{
{chr(10).join(cases_c)}
    default: break;
  }}
  for (uint16_t i = count; i < BATCH_WIDTH; ++i) output[i] = 0;
}}
"""
    cases = [(j, r, it) for k in range(len(models)) for r in range(n_rows)
             for j, it in enumerate(items) if it.model == k]
    inputs = np.array([(j, r) for j, r, _ in cases], dtype=np.uint8).view(np.int8)
    batch = c_model.CModel("batch", "int8", 2, width, files, cs[0].kernels,
                           sum(c.constant_bytes for c in cs),
                           sum(c.activation_bytes for c in cs) + max_in + scratch)
    return batch, inputs, cases


class UnoRamError(firmware.FirmwareError):
    """A Uno batch's static RAM leaves less than UNO_STACK bytes for the stack."""


def run_batch(target: str, models: list[RandomModel], build_dir: Path,
              width: int | None = None, kernels: str = "reference"
              ) -> tuple[list[np.ndarray], firmware.RunResult, Path]:
    """Return (each model's (n_rows, n_outputs) outputs on ``target``, the run, the ELF), the
    models' C over ``kernels``.

    A Uno firmware whose static RAM (avr-size) leaves less than UNO_STACK bytes of its 2 KB
    is not run: UnoRamError (a stack running into the data would garble or hang the run)."""
    width = width or (UNO_WIDTH if target == "uno" else HOST_WIDTH)
    width = min(width, max(m.c.n_outputs for m in models))
    batch, inputs, cases = batch_model(models, width, kernels)
    started = time.perf_counter()
    elf = firmware.build(target, batch, inputs, build_dir=build_dir)
    build_seconds = time.perf_counter() - started
    if target == "uno":
        ram = firmware.sizes(target, elf).ram
        if ram + UNO_STACK > UNO_RAM:
            raise UnoRamError(f"the firmware takes {ram} B of static RAM; with {UNO_STACK} B "
                              f"of stack that is more than the Uno's {UNO_RAM} B")
    result = firmware.run(target, elf, timeout_s=300.0)
    result.build_seconds = build_seconds
    got = [np.zeros((len(m.rows), m.c.n_outputs), dtype=np.int8) for m in models]
    for (_, r, it), line in zip(cases, result.outputs, strict=True):
        got[it.model][r, it.start:it.start + it.count] = line[:it.count]
        if np.any(line[it.count:]):
            raise firmware.FirmwareError(f"{target}: case ({it}, row {r}) printed codes past "
                                         "its slice")
    return got, result, elf


def _uno_ram(models: list[RandomModel], kernels: str) -> int:
    """Return the RAM a Uno batch of ``models`` (their C over ``kernels``) takes by
    test_graph_c's count: activations, the input row, the scratch array of wide outputs, the
    harness's input and two outputs."""
    width = min(UNO_WIDTH, max(m.c.n_outputs for m in models))
    scratch = max((m.c.n_outputs for m in models if m.c.n_outputs > width), default=0)
    return (sum(m.code(kernels).activation_bytes for m in models)
            + max(m.c.n_inputs for m in models)
            + scratch + 2 + 2 * width)


def _uno_flash(models: list[RandomModel], kernels: str) -> int:
    """Return a rough count of the flash a Uno batch adds: constants, code, case inputs."""
    cases = sum(len(m.rows) * len(_items([m], UNO_WIDTH)) for m in models)
    return sum(m.code(kernels).constant_bytes + 60 * len(m.graph.ops) + 120
               for m in models) + 2 * cases


def pack(target: str, models: list[RandomModel], per_batch: int = 64,
         kernels: str = "reference") -> list[list[RandomModel]]:
    """Return the models that can run on ``target`` split into batches of firmware: at most
    ``per_batch`` models and 255 slices each; on the Uno only models whose C over ``kernels``
    fits it, as many a batch as its RAM (less UNO_BATCH_MARGIN for the batch's own stack) and
    (roughly counted) flash allow."""
    width = UNO_WIDTH if target == "uno" else HOST_WIDTH

    def fits(batch: list[RandomModel]) -> bool:
        if len(batch) > per_batch or len(_items(batch, width)) > 255:
            return False
        return target != "uno" or (
            _uno_ram(batch, kernels) <= UNO_RAM - UNO_RESERVED - UNO_BATCH_MARGIN
            and _uno_flash(batch, kernels) <= UNO_FLASH_BUDGET)

    batches: list[list[RandomModel]] = []
    for m in models:
        if target == "uno" and m.skip(kernels):
            continue
        if batches and fits(batches[-1] + [m]):
            batches[-1].append(m)
        else:
            batches.append([m])  # alone it fits: uno_skip holds the Uno's limits for one model
    return batches


_OVERFLOW = re.compile(r"region .* overflowed|will not fit in region")


def run_models(target: str, models: list[RandomModel], build_dir: Path, per_batch: int = 64,
               kernels: str = "reference"
               ) -> tuple[dict[int, np.ndarray], list[dict], dict[int, str]]:
    """Return ({id(model): its outputs on target}, one dict per firmware run, {id(model): why
    it did not run}) for every model that fits the target (on the Uno: ``m.skip(kernels)`` is
    None), each model's C over ``kernels`` ("reference" or "fast").

    A batch that does not link for lack of flash, or leaves the Uno too little RAM for its
    stack, is split in two and built again; a single model that still leaves too little RAM
    is not run, and named in the third dict."""
    outputs: dict[int, np.ndarray] = {}
    runs: list[dict] = []
    skipped: dict[int, str] = {}
    todo = pack(target, models, per_batch, kernels)
    while todo:
        batch = todo.pop(0)
        where = Path(build_dir) / f"{target}_{kernels}{len(runs)}_{id(batch)}"
        try:
            got, result, elf = run_batch(target, batch, where, kernels=kernels)
        except firmware.FirmwareError as exc:
            if not (isinstance(exc, UnoRamError) or _OVERFLOW.search(str(exc))):
                raise
            if len(batch) > 1:
                half = len(batch) // 2
                todo[:0] = [batch[:half], batch[half:]]
            elif isinstance(exc, UnoRamError):
                skipped[id(batch[0])] = str(exc)
            else:
                skipped[id(batch[0])] = f"the firmware does not fit the flash of {target}"
            continue
        for m, y in zip(batch, got, strict=True):
            outputs[id(m)] = y
        info = {"models": len(batch), "cases": len(result.outputs),
                "build_seconds": result.build_seconds, "run_seconds": result.seconds}
        if target == "uno":
            sizes = firmware.sizes(target, elf)
            info.update(flash=sizes.flash, ram=sizes.ram, stack=result.stack_bytes)
        runs.append(info)
    return outputs, runs, skipped


def mismatch(m: RandomModel, got: np.ndarray, source: str, width: int = 8) -> str | None:
    """Return one line on where ``got`` (outputs of ``m`` from ``source``) differs from TFLM's
    outputs, naming the first row that differs; None if every row is equal."""
    bad = np.flatnonzero(np.any(got != m.expected, axis=1))
    if not bad.size:
        return None
    row = int(bad[0])
    at = np.flatnonzero(got[row] != m.expected[row])[:width]
    return (f"{m.name} on {source}: {bad.size} of {len(got)} rows differ; row {row} (input "
            f"{m.rows[row][:12].tolist()}...), outputs {at.tolist()}: TFLM "
            f"{m.expected[row][at].tolist()}, got {got[row][at].tolist()}")
