"""graph.read: a .tflite becomes one typed, immutable, checked value.

The parameters read back must be the Keras layers' own; everything the kernels cannot compute
(other operators, mixed types, broken quantization or shapes) is refused with a ValueError that
names it. Damaged files are made by editing a converted model with the schema.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from tinyml_helpers.deploy import graph, litert, tflite_file


def _mutate(data: bytes, change) -> bytes:
    """Return ``data`` unpacked with the schema, changed by ``change(subgraph)``, packed."""
    import flatbuffers
    from ai_edge_litert import schema_py_generated as schema

    model = schema.ModelT.InitFromPackedBuf(data, 0)
    change(model.subgraphs[0])
    builder = flatbuffers.Builder(1024)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


@pytest.fixture(scope="module")
def cnn(tf):
    """A small CNN as (int8 .tflite, float32 .tflite)."""
    tf.keras.utils.set_random_seed(0)
    L = tf.keras.layers
    keras = tf.keras.Sequential([
        tf.keras.Input((9, 8, 2)),
        L.Conv2D(4, (5, 3), strides=2, padding="same", activation="relu6"),
        L.MaxPool2D(2, strides=1, padding="valid"),
        L.DepthwiseConv2D(3, depth_multiplier=2, padding="same", activation="relu"),
        L.AveragePooling2D(3, strides=2, padding="same"),
        L.Flatten(), L.Dense(5, bias_initializer="random_normal"), L.Softmax()])
    rep = np.random.default_rng(0).normal(size=(64, 9, 8, 2)).astype(np.float32)
    return litert.convert(keras, "int8", rep), litert.convert(keras, "float32")


def test_ops_and_parameters_are_the_keras_layers(cnn):
    """Kinds in execution order and each operator's parameters, as the layers say."""
    g = graph.read(cnn[0])
    assert [op.kind for op in g.ops] == ["CONV_2D", "MAX_POOL_2D", "DEPTHWISE_CONV_2D",
                                         "AVERAGE_POOL_2D", "RESHAPE", "FULLY_CONNECTED",
                                         "SOFTMAX"]
    conv, maxpool, dw, avg, reshape, fc, softmax = (op.params for op in g.ops)
    assert conv == graph.ConvParams("SAME", 2, 2, 1, 1, "RELU6", 1)
    assert maxpool == graph.PoolParams("VALID", 1, 1, 2, 2, "NONE")
    assert dw == graph.ConvParams("SAME", 1, 1, 1, 1, "RELU", 2)
    assert avg == graph.PoolParams("SAME", 2, 2, 3, 3, "NONE")
    assert reshape == graph.ReshapeParams((1, 2 * 2 * 8))
    assert fc == graph.FullyConnectedParams("NONE", False)
    assert softmax == graph.SoftmaxParams(1.0)
    shapes = [g.tensors[op.outputs[0]].shape for op in g.ops]
    assert shapes == [(1, 5, 4, 4), (1, 4, 3, 4), (1, 4, 3, 8), (1, 2, 2, 8), (1, 32), (1, 5),
                      (1, 5)]
    assert g.tensors[g.inputs[0]].shape == (1, 9, 8, 2)
    assert g.tensors[g.ops[0].inputs[1]].data.shape == (4, 5, 3, 2)  # OHWI


def test_int8_quantization_per_channel_and_per_tensor(cnn):
    """Weights per channel along their output axis, activations per tensor, int32 biases."""
    g = graph.read(cnn[0])
    assert g.is_int8 and g.dtype == np.int8
    conv, _, dw, *_, fc, _ = g.ops
    for op, axis, channels in ((conv, 0, 4), (dw, 3, 8), (fc, 0, 5)):
        q = g.tensors[op.inputs[1]].quantization
        assert q.per_channel and q.axis == axis and len(q.scale) == channels
        assert q.scale.dtype == np.float32 and np.all(q.zero_point == 0)
        assert g.tensors[op.inputs[2]].dtype == np.int32
    for op in g.ops:
        q = g.tensors[op.outputs[0]].quantization
        assert not q.per_channel and q.scale[0] > 0
    assert g.tensors[g.outputs[0]].quantization.zero_point[0] == -128
    f = graph.read(cnn[1])
    assert not f.is_int8 and all(t.quantization is None for t in f.tensors)
    assert [op.params for op in f.ops] == [op.params for op in g.ops]


def test_the_value_is_immutable(cnn):
    """Frozen dataclasses and read-only arrays: a consumer cannot change what another reads."""
    g = graph.read(cnn[0])
    with pytest.raises(dataclasses.FrozenInstanceError):
        g.ops[0].params.stride_h = 3
    with pytest.raises(dataclasses.FrozenInstanceError):
        g.tensors[0].shape = (2,)
    with pytest.raises(ValueError, match="read-only"):
        g.tensors[g.ops[0].inputs[1]].data[0, 0, 0, 0] = 1
    with pytest.raises(ValueError, match="read-only"):
        g.tensors[g.ops[0].inputs[1]].quantization.scale[0] = 1.0
    assert isinstance(g.tensors, tuple) and isinstance(g.ops, tuple)


def test_a_checked_tflite_value_is_accepted(cnn):
    """graph.read takes the bytes or the tflite_file.Tflite that tflite_file.read returned."""
    a, b = graph.read(cnn[0]), graph.read(tflite_file.read(cnn[0]))
    assert [op.params for op in a.ops] == [op.params for op in b.ops]


def test_conv1d_is_expand_dims_conv_reshape(tf):
    """TF 2.20 turns Keras Conv1D into EXPAND_DIMS -> CONV_2D (1 x k) -> RESHAPE."""
    L = tf.keras.layers
    keras = tf.keras.Sequential([tf.keras.Input((12, 3)), L.Conv1D(4, 5, strides=2)])
    rep = np.random.default_rng(0).normal(size=(32, 12, 3)).astype(np.float32)
    g = graph.read(litert.convert(keras, "int8", rep))
    assert [op.kind for op in g.ops] == ["EXPAND_DIMS", "CONV_2D", "RESHAPE"]
    assert g.tensors[g.ops[1].inputs[1]].shape == (4, 1, 5, 3)
    assert g.ops[1].params.stride_w == 2 and g.ops[1].params.stride_h == 1
    assert g.ops[0].params.new_shape == (1, 1, 12, 3)


@pytest.mark.parametrize("layers, op", [
    (lambda L: [L.Flatten(), L.Dense(3, activation="tanh")], "TANH"),
    (lambda L: [L.Flatten(), L.Dense(3, activation="sigmoid")], "LOGISTIC"),
    (lambda L: [L.Conv2D(2, 3, dilation_rate=2, padding="same")], "SPACE_TO_BATCH_ND"),
    # without select-TF ops the converter only takes an unrolled LSTM: its cells' ops
    (lambda L: [L.Reshape((6, 2)), L.LSTM(3, unroll=True)], "LOGISTIC"),
], ids=["tanh", "sigmoid", "dilated-conv", "lstm"])
def test_unsupported_operators_are_named(tf, layers, op):
    """The first refused operator is named and the supported ones listed."""
    keras = tf.keras.Sequential([tf.keras.Input((3, 4, 1))] + layers(tf.keras.layers))
    tflite = litert.convert(keras, "float32")
    names = tflite_file.op_names(tflite)
    assert op in names
    first = next(name for name in names if name not in graph.SUPPORTED_OPS)
    with pytest.raises(ValueError, match=rf"is {first}, which .*supported: CONV_2D, "
                                         r"DEPTHWISE_CONV_2D"):
        graph.read(tflite)


def test_hybrid_models_are_refused(tf):
    """Dynamic-range models (int8 weights, float activations) mix types: refused."""
    keras = tf.keras.Sequential([tf.keras.Input((40,)), tf.keras.layers.Dense(40)])
    rep = np.zeros((4, 40), np.float32)
    with pytest.raises(ValueError, match="int8, expected float32 in a float32 graph"):
        graph.read(litert.convert(keras, "dynamic", rep))


def _retype(sub):
    sub.tensors[sub.operators[0].outputs[0]].type = 7  # INT16


def _per_channel_activation(sub):
    q = sub.tensors[sub.operators[0].outputs[0]].quantization
    q.scale, q.zeroPoint, q.quantizedDimension = [0.1] * 4, [0] * 4, 3


def _no_quantization(sub):
    sub.tensors[sub.operators[1].outputs[0]].quantization = None


def _weight_zero_point(sub):
    q = sub.tensors[sub.operators[0].inputs[1]].quantization
    q.zeroPoint = [3] * len(q.scale)


def _tanh_activation(sub):
    sub.operators[0].builtinOptions.fusedActivationFunction = 4


def _output_shape(sub):
    sub.tensors[sub.operators[0].outputs[0]].shape = np.array([1, 5, 5, 4], np.int32)


def _pool_requantizes(sub):
    sub.tensors[sub.operators[1].outputs[0]].quantization.scale = [0.5]


def _softmax_output(sub):
    sub.tensors[sub.operators[-1].outputs[0]].quantization.zeroPoint = [0]


def _bias_length(sub):
    inputs = list(sub.operators[0].inputs)
    inputs[2] = sub.operators[2].inputs[2]  # the depthwise bias: 8 values
    sub.operators[0].inputs = np.array(inputs, np.int32)


def _stride_zero(sub):
    sub.operators[1].builtinOptions.strideH = 0


@pytest.mark.parametrize("change, fragment", [
    (_retype, "is int16 in a int8 graph"),
    (_per_channel_activation, "quantized per channel; activations need one scale"),
    (_no_quantization, "has no quantization parameters"),
    (_weight_zero_point, "zero points of 0"),
    (_tanh_activation, "fused activation TANH"),
    (_output_shape, r"gives \[1, 5, 4, 4\], but the output is \[1, 5, 5, 4\]"),
    (_pool_requantizes, "MAX_POOL_2D.* copies int8 codes"),
    (_softmax_output, "softmax output needs scale 1/256 and zero point -128"),
    (_bias_length, r"the bias is int32 \[8\], expected 4 int32 values"),
    (_stride_zero, "all must be >= 1"),
], ids=lambda v: getattr(v, "__name__", "")[1:] or None)
def test_damaged_int8_graphs_are_refused(cnn, change, fragment):
    """What a kernel relies on is checked when the value is built."""
    with pytest.raises(ValueError, match=fragment):
        graph.read(_mutate(cnn[0], change))


def test_not_a_tflite():
    """Bytes that are no .tflite fail in tflite_file.read, before any graph is built."""
    with pytest.raises(ValueError, match="TFL3"):
        graph.read(b"\0" * 64)
    with pytest.raises(TypeError, match="bytes"):
        graph.read("model.tflite")
