"""The NumPy reference kernels (tinyml_helpers.deploy.ops) against the TFLM runtime.

Each case is a small random Keras model for one operator and one choice of its parameters,
converted to full int8 and to float32. Many random inputs go through ``ops.run`` and through
TFLM's own kernels (``tflm.run``): int8 codes must be equal on every output, float32 within
1e-5. ``benchmarks/ops_equality.py`` runs the same table with more inputs and prints it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
import pytest

from tinyml_helpers.deploy import graph, litert, ops, tflm

MODES = ("int8", "float32")
N_INPUTS = 48  # random inputs per model and mode in the tests (the benchmark takes more)


@dataclass(frozen=True)
class Case:
    """One model of the table: the operator it tests, its parameters, how to build it."""

    op: str
    params: str
    input_shape: tuple[int, ...]
    layers: Callable  # keras.layers module -> list of layers
    dilation: int = 1  # set in the converted file (Keras dilation becomes SPACE_TO_BATCH_ND)

    @property
    def name(self) -> str:
        """Return a test id such as 'CONV_2D k3x3 s2 valid relu6 3->4'."""
        return f"{self.op} {self.params}"


def _conv(k, s, pad, act, cin, cout, dil=1) -> Case:
    kh, kw = k
    return Case("CONV_2D", f"k{kh}x{kw} s{s} d{dil} {pad} {act} {cin}->{cout}", (7, 9, cin),
                lambda L: [L.Conv2D(cout, k, strides=s, padding=pad, activation=act,
                                    bias_initializer="random_normal")], dil)


def _depthwise(k, s, pad, act, c, m, dil=1) -> Case:
    kh, kw = k
    return Case("DEPTHWISE_CONV_2D", f"k{kh}x{kw} s{s} d{dil} {pad} {act} c{c} x{m}",
                (8, 7, c),
                lambda L: [L.DepthwiseConv2D(k, strides=s, padding=pad, activation=act,
                                             depth_multiplier=m,
                                             bias_initializer="random_normal")], dil)


def _pool(kind, size, s, pad) -> Case:
    def layers(L):
        # A convolution first, so the pool reads an int8 tensor with its own quantization.
        pool = L.MaxPool2D if kind == "MAX_POOL_2D" else L.AveragePooling2D
        return [L.Conv2D(3, 1, bias_initializer="random_normal"),
                pool(size, strides=s, padding=pad)]
    return Case(kind, f"pool{size} s{s} {pad}", (7, 8, 2), layers)


def _dense(units, act) -> Case:
    return Case("FULLY_CONNECTED", f"flatten->{units} {act}", (3, 4, 2),
                lambda L: [L.Flatten(), L.Dense(units, activation=act,
                                                bias_initializer="random_normal")])


def _conv1d(k, s, pad, act, pool=False) -> Case:
    def layers(L):
        out = [L.Conv1D(3, k, strides=s, padding=pad, activation=act,
                        bias_initializer="random_normal")]
        return out + ([L.MaxPool1D(2)] if pool else [])
    return Case("Conv1D", f"k{k} s{s} {pad} {act}" + (" +MaxPool1D" if pool else ""), (12, 2),
                layers)


def _cnn(L):
    return [L.Conv2D(4, 3, activation="relu", bias_initializer="random_normal"),
            L.MaxPool2D(2),
            L.DepthwiseConv2D(3, depth_multiplier=2, padding="same", activation="relu6",
                              bias_initializer="random_normal"),
            L.AveragePooling2D(2, padding="same"), L.Flatten(),
            L.Dense(6, bias_initializer="random_normal"), L.Softmax()]


def _cnn_strided(L):
    return [L.Conv2D(3, (5, 3), strides=2, padding="same", activation="relu"),
            L.DepthwiseConv2D(3, padding="valid"), L.MaxPool2D(2, padding="same"),
            L.Conv2D(4, 1, activation="relu6"), L.Flatten(), L.Dense(8, activation="relu"),
            L.Dense(3), L.Softmax()]


CASES = (
    [_conv(k, s, pad, act, cin, cout, dil) for k, s, pad, act, cin, cout, dil in [
        ((1, 1), 1, "same", None, 1, 2, 1), ((3, 3), 1, "same", "relu", 2, 3, 1),
        ((3, 3), 2, "valid", "relu6", 3, 4, 1), ((5, 3), 1, "valid", None, 4, 1, 1),
        ((5, 3), 2, "same", "relu", 1, 4, 1), ((3, 3), 2, "same", None, 2, 2, 1),
        ((1, 1), 2, "valid", "relu6", 3, 3, 1), ((3, 3), 1, "valid", "relu", 2, 2, 2)]]
    + [_depthwise(k, s, pad, act, c, m, dil) for k, s, pad, act, c, m, dil in [
        ((3, 3), 1, "same", None, 2, 1, 1), ((3, 3), 2, "valid", "relu", 3, 2, 1),
        ((5, 3), 1, "same", "relu6", 1, 2, 1), ((1, 1), 2, "same", None, 4, 1, 1),
        ((3, 3), 1, "valid", "relu", 2, 2, 2)]]
    + [_pool(kind, size, s, pad) for kind in ("MAX_POOL_2D", "AVERAGE_POOL_2D")
       for size, s, pad in [(2, 2, "valid"), (3, 1, "same"), (3, 2, "same"), (2, 1, "valid")]]
    + [_dense(5, None), _dense(4, "relu"), _dense(3, "relu6")]
    + [Case("SOFTMAX", "dense->softmax 6", (5,),
            lambda L: [L.Dense(6, bias_initializer="random_normal"), L.Softmax()]),
       Case("SOFTMAX", "dense(normal init)->softmax 10", (5,),
            lambda L: [L.Dense(10, kernel_initializer="random_normal"), L.Softmax()])]
    + [_conv1d(3, 1, "same", "relu"), _conv1d(5, 2, "valid", None),
       _conv1d(3, 1, "same", "relu6", pool=True)]
    + [Case("CNN", "8x8x1 conv-pool-dw-pool-dense-softmax", (8, 8, 1), _cnn),
       Case("CNN", "12x10x2 strided conv-dw-pool-conv1x1-dense-dense-softmax", (12, 10, 2),
            _cnn_strided)]
)


def models(case: Case, seed: int, tf) -> dict[str, bytes]:
    """Return {"int8": .tflite, "float32": .tflite} of ``case``'s model, seeded."""
    from tinyml_helpers.deploy import env

    env.set_seed(seed)
    keras = tf.keras.Sequential([tf.keras.Input(case.input_shape)] + case.layers(tf.keras.layers))
    rep = np.random.default_rng(seed).normal(size=(64, *case.input_shape)).astype(np.float32)
    tflites = {mode: litert.convert(keras, mode, rep) for mode in MODES}
    return {mode: dilate(data, case.dilation) for mode, data in tflites.items()}


def dilate(tflite: bytes, dilation: int) -> bytes:
    """Return a one-convolution model with its dilation factors set to ``dilation``.

    The converter turns a Keras ``dilation_rate`` into SPACE_TO_BATCH_ND around an undilated
    convolution, so a dilated CONV_2D is made by editing the file (output shape included)."""
    if dilation == 1:
        return tflite
    import flatbuffers
    from ai_edge_litert import schema_py_generated as schema

    model = schema.ModelT.InitFromPackedBuf(tflite, 0)
    sub = model.subgraphs[0]
    op = sub.operators[0]
    op.builtinOptions.dilationHFactor = op.builtinOptions.dilationWFactor = dilation
    x, w, out = (sub.tensors[i] for i in (op.inputs[0], op.inputs[1], op.outputs[0]))
    stride = op.builtinOptions.strideH
    shape = [int(d) for d in out.shape]
    for axis in (1, 2):
        shape[axis] = graph.out_size("VALID", int(x.shape[axis]), int(w.shape[axis]), stride,
                                     dilation)
    out.shape = np.array(shape, dtype=np.int32)
    out.shapeSignature = np.array([-1, *shape[1:]], dtype=np.int32)
    builder = flatbuffers.Builder(1024)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


def random_inputs(g: graph.Graph, n: int, seed: int) -> np.ndarray:
    """Return ``n`` random rows for ``g``: all int8 codes, or floats around 0."""
    rng = np.random.default_rng(seed)
    shape = (n, *g.tensors[g.inputs[0]].shape[1:])
    if g.is_int8:
        return rng.integers(-128, 128, size=shape).astype(np.int8)
    return rng.normal(size=shape).astype(np.float32)


def compare(tflite: bytes, n: int, seed: int) -> tuple[int, int, float]:
    """Return (rows compared, rows equal, largest difference) of ops.run against TFLM."""
    g = graph.read(tflite)
    x = random_inputs(g, n, seed)
    ours = ops.run(g, x).reshape(n, -1)
    theirs = tflm.run(tflite, x).reshape(n, -1)
    assert ours.dtype == theirs.dtype
    if g.is_int8:
        diff = np.abs(ours.astype(np.int32) - theirs.astype(np.int32))
        return n, int(np.sum(diff.max(axis=1) == 0)), float(diff.max())
    diff = np.abs(ours.astype(np.float64) - theirs)
    close = diff <= 1e-5 * np.maximum(1.0, np.abs(theirs))
    return n, int(np.sum(close.all(axis=1))), float(diff.max())


_models: dict[str, dict[str, bytes]] = {}


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("index", range(len(CASES)), ids=[c.name for c in CASES])
def test_ops_equal_tflm(tf, index, mode):
    """int8: every output code equal to TFLM's; float32: within 1e-5 (relative above 1)."""
    case = CASES[index]
    if case.name not in _models:
        _models[case.name] = models(case, index, tf)
    n, equal, worst = compare(_models[case.name][mode], N_INPUTS, seed=1000 + index)
    assert equal == n, f"{case.name} {mode}: {n - equal} of {n} rows differ (max {worst})"


def test_the_table_covers_every_op(tf):
    """Every supported operator kind occurs in some case's converted model."""
    seen = set()
    for index, case in enumerate(CASES):
        if case.name not in _models:
            _models[case.name] = models(case, index, tf)
        seen |= {op.kind for op in graph.read(_models[case.name]["int8"]).ops}
    assert seen == set(graph.SUPPORTED_OPS)


def test_softmax_rows_sum_to_about_one(tf):
    """The int8 softmax codes (scale 1/256) sum to 256 within rounding, and peak where x does."""
    x = np.random.default_rng(0).integers(-128, 128, size=(500, 7)).astype(np.int8)
    y = ops.softmax_int8(x, input_scale=0.05, beta=1.0).astype(np.int64) + 128
    assert np.all(np.abs(y.sum(axis=1) - 256) <= 7)
    assert np.all(np.argmax(y, axis=1) == np.argmax(x, axis=1))


def test_average_pool_rounds_half_away_from_zero():
    """Averages of -3,-2 and 2,3 round to -3 and 3 (TFLM), not to even."""
    p = graph.PoolParams("VALID", 1, 1, 1, 2, "NONE")
    x = np.array([[[[-3], [-2]], [[2], [3]]]], dtype=np.int8)  # (1, 2, 2, 1)
    y = ops.average_pool_2d(x, p, (2, 1), (-128, 127))
    assert y.reshape(-1).tolist() == [-3, 3]


def test_padding_matches_tflite():
    """SAME padding puts the odd pixel after the image: 7 inputs, 4 taps, stride 2 -> 1."""
    assert graph.out_size("SAME", 7, 4, 2) == 4
    assert ops.padding("SAME", 7, 4, 2, 1, 4) == 1  # 3 padding pixels: 1 before, 2 after
    assert ops.padding("SAME", 8, 3, 2, 1, 4) == 0
    assert ops.padding("VALID", 7, 3, 1, 1, 5) == 0


def test_run_refuses_bad_inputs(tf):
    """Wrong type, shape, range or graph: a TypeError or ValueError that names the problem."""
    tflite = _models.get(CASES[0].name) or models(CASES[0], 0, tf)
    g8, g32 = graph.read(tflite["int8"]), graph.read(tflite["float32"])
    codes = random_inputs(g8, 3, 0)
    with pytest.raises(TypeError, match="int8 codes"):
        ops.run(g8, codes.astype(np.float32))
    with pytest.raises(ValueError, match=r"must have shape \(n, 7, 9, 1\)"):
        ops.run(g8, codes[:, :6])
    with pytest.raises(ValueError, match=r"\[-128, 127\]"):
        ops.run(g8, codes.astype(np.int32) * 300)
    with pytest.raises(TypeError, match="float inputs"):
        ops.run(g32, codes)
    with pytest.raises(ValueError, match="NaN or inf"):
        ops.run(g32, np.full((1, 7, 9, 1), np.nan, np.float32))
    with pytest.raises(ValueError, match="empty"):
        ops.run(g8, codes[:0])
    with pytest.raises(TypeError, match="graph.Graph"):
        ops.run(tflite["int8"], codes)
    # a row may also be flat, or keep the batch axis of 1
    flat = ops.run(g8, codes.reshape(3, -1))
    assert np.array_equal(flat, ops.run(g8, codes.reshape(3, 1, 7, 9, 1)))
    assert flat.shape == (3, 7, 9, 2)
