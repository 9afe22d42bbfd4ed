"""tflm_build builds TFLM programs for any model deploy.graph reads, not only the sine model's
FULLY_CONNECTED: the kernels linked and the bench program's op resolver come from the model's
own operators. A small int8 CNN (Conv2D -> MaxPool2D -> DepthwiseConv2D -> Flatten -> Dense ->
Softmax on an 8x8x1 input) gets its smallest arena measured and then runs inside the firmware
harness on this PC and on the Cortex-M4F (QEMU), printing for every input the codes of the
TFLM Python runtime.

The first run builds a TFLM library with the CNN's six kernels per target into build/tflm (a few
minutes on two cores); later runs take it from the cache.
"""

import numpy as np
import pytest

from tinyml_helpers.deploy import export, firmware, graph, litert, tflm, tflm_build
from tinyml_helpers.tooling import paths

CNN_OPS = ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED", "MAX_POOL_2D", "RESHAPE",
           "SOFTMAX")
CNN_KERNELS = ("conv", "depthwise_conv", "fully_connected", "pooling", "reshape", "softmax")


def _needs(target: str):
    reason = tflm_build.unavailable(target, paths.TFLM_TARBALL)
    if reason:
        pytest.skip(reason)


def cnn_models(tf) -> tuple[bytes, bytes]:
    """Return the small CNN as (int8 .tflite, float32 .tflite) (also used by test_cmsis_nn)."""
    tf.keras.utils.set_random_seed(0)
    L = tf.keras.layers
    keras = tf.keras.Sequential([
        tf.keras.Input((8, 8, 1)),
        L.Conv2D(4, 3, padding="valid", activation="relu"),
        L.MaxPool2D(2),
        L.DepthwiseConv2D(3, depth_multiplier=2, padding="same", activation="relu"),
        L.Flatten(), L.Dense(5, bias_initializer="random_normal"), L.Softmax()])
    rep = np.random.default_rng(0).normal(size=(64, 8, 8, 1)).astype(np.float32)
    return litert.convert(keras, "int8", representative=rep), litert.convert(keras, "float32")


def cnn_codes() -> np.ndarray:
    """Return input rows for the CNN: random codes plus the two extremes, each (8, 8, 1)."""
    rng = np.random.default_rng(1)
    rows = rng.integers(-128, 128, size=(48, 8, 8, 1), dtype=np.int16)
    extremes = np.stack([np.full((8, 8, 1), -128), np.full((8, 8, 1), 127)])
    return np.concatenate([rows, extremes]).astype(np.int8)


@pytest.fixture(scope="module")
def cnn(tf) -> tuple[bytes, bytes]:
    """A small CNN as (int8 .tflite, float32 .tflite)."""
    return cnn_models(tf)


@pytest.fixture(scope="module")
def codes() -> np.ndarray:
    """Input rows for the CNN: random codes plus the two extremes, each (8, 8, 1)."""
    return cnn_codes()


@pytest.fixture(scope="module")
def src() -> tflm_build.Source:
    _needs("host")
    return paths.tflm_source()


def test_the_kernels_and_the_resolver_come_from_the_model(cnn):
    ops = tflm_build.model_ops(cnn[0])
    assert ops == CNN_OPS
    assert tflm_build.kernels_for(ops) == CNN_KERNELS
    header = tflm_build.resolver_header(ops)
    assert "#define TFLM_OP_COUNT 6" in header
    for call in ("AddConv2D", "AddDepthwiseConv2D", "AddMaxPool2D", "AddReshape",
                 "AddFullyConnected", "AddSoftmax"):
        assert f"(resolver)->{call}() == kTfLiteOk" in header
    assert "AddAveragePool2D" not in header  # only what the model runs
    sine = paths.TFLM_MODEL.read_bytes()
    assert tflm_build.model_ops(sine) == ("FULLY_CONNECTED",)
    assert tflm_build.kernels_for(tflm_build.model_ops(sine)) == ("fully_connected",)
    assert "#define TFLM_OP_COUNT 1" in tflm_build.resolver_header(("FULLY_CONNECTED",))


def test_every_operator_the_graph_reads_has_a_kernel_and_a_resolver_call():
    assert set(tflm_build.OPS) == set(graph.SUPPORTED_OPS)
    # two operators, one kernel source: both pools live in pooling.cc
    assert tflm_build.kernels_for(("MAX_POOL_2D", "AVERAGE_POOL_2D")) == ("pooling",)
    assert "#define TFLM_OP_COUNT 2" in tflm_build.resolver_header(("MAX_POOL_2D",
                                                                   "AVERAGE_POOL_2D"))
    with pytest.raises(ValueError, match="no TFLM kernel known for"):
        tflm_build.kernels_for(("TANH",))
    with pytest.raises(TypeError, match="tuple of operator kinds"):
        tflm_build.kernels_for("CONV_2D")


def test_the_resolver_can_register_int8_only_kernels():
    kinds = tflm_build.int8_kinds(CNN_KERNELS)  # pooling.cc holds both pools
    assert kinds == ("AVERAGE_POOL_2D", "CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED",
                     "MAX_POOL_2D", "SOFTMAX")
    chosen = tuple(k for k in kinds if k in CNN_OPS)
    header = tflm_build.resolver_header(CNN_OPS, chosen)
    for call in ("AddConv2D(tflite::Register_CONV_2D_INT8())",
                 "AddDepthwiseConv2D(tflite::Register_DEPTHWISE_CONV_2D_INT8())",
                 "AddMaxPool2D(tflite::Register_MAX_POOL_2D_INT8())",
                 "AddFullyConnected(tflite::Register_FULLY_CONNECTED_INT8())",
                 "AddSoftmax(tflite::Register_SOFTMAX_INT8())", "AddReshape()"):
        assert f"(resolver)->{call} == kTfLiteOk" in header
    assert "#define TFLM_OP_COUNT 6" in header and "#ifndef CMSIS_NN\n#error" in header
    # only the operators named: the others keep the generic registration
    some = tflm_build.resolver_header(CNN_OPS, ("SOFTMAX",))
    assert "AddConv2D() == kTfLiteOk" in some and "Register_SOFTMAX_INT8()" in some
    # without int8_only the header is the one every program and sketch has always had
    plain = tflm_build.resolver_header(CNN_OPS)
    assert plain == tflm_build.resolver_header(CNN_OPS, ()) and "INT8" not in plain
    assert "CMSIS_NN" not in plain
    with pytest.raises(ValueError, match="RESHAPE not among"):
        tflm_build.resolver_header(CNN_OPS, ("RESHAPE",))
    with pytest.raises(ValueError, match="AVERAGE_POOL_2D not among"):
        tflm_build.resolver_header(CNN_OPS, kinds)
    with pytest.raises(TypeError, match="collection of operator kinds"):
        tflm_build.resolver_header(CNN_OPS, "SOFTMAX")


def test_the_bench_refuses_a_float_model_and_wrong_inputs(cnn, codes, src, tmp_path):
    with pytest.raises(ValueError, match="full-int8"):
        tflm_build.build_bench("host", cnn[1], codes, tmp_path, arena_size=8192, src=src)
    with pytest.raises(ValueError, match=r"\(cases, 64\)"):
        tflm_build.build_bench("host", cnn[0], codes[:, :4], tmp_path, arena_size=8192,
                               src=src)
    with pytest.raises(ValueError, match="int8_only=True needs a kernel swap"):
        tflm_build.build_bench("host", cnn[0], codes, tmp_path, arena_size=8192, src=src,
                               int8_only=True)
    with pytest.raises(TypeError, match="int8_only must be True, False or None"):
        tflm_build.build_bench("host", cnn[0], codes, tmp_path, arena_size=8192, src=src,
                               int8_only="yes")


@pytest.mark.parametrize("target", ["host", "m4"])
def test_the_cnn_runs_under_tflm_with_the_runtime_codes(cnn, codes, src, target, tmp_path):
    _needs(target)
    int8 = cnn[0]
    arena = tflm_build.arena_for_tflite(target, int8, tmp_path / "arena", src=src)
    assert 0 < arena.used <= arena.size < 16384
    elf = tflm_build.build_bench(target, int8, codes, tmp_path / "bench", arena_size=arena.size,
                                 src=src)
    result = firmware.run(target, elf)
    want = tflm.run(int8, codes)
    assert result.outputs.shape == want.shape == (len(codes), 5)
    assert np.array_equal(result.outputs, want)
    assert len(np.unique(want, axis=0)) > 1, "the inputs must give different outputs"
    line = tflm_build.parse_bench_line(result.text.splitlines())
    assert line is not None and line.arena == arena.size and line.arena_used == arena.used
    # one byte less and set-up fails: the arena is the measured minimum
    small = tflm_build.build_bench(target, int8, codes[:1], tmp_path / "small",
                                   arena_size=arena.size, src=src)
    assert tflm_build.probe_arena(target, small, arena.size - 1) is None
    assert tflm_build.probe_arena(target, small, arena.size) is not None


def test_the_command_line_builds_the_library_of_a_model(cnn, src, tmp_path, capsys):
    model = tmp_path / "cnn_int8.tflite"
    model.write_bytes(cnn[0])
    code = tflm_build.main(["library", "host", "--model", str(model), "--src",
                            str(paths.TFLM_TARBALL), "--cache", str(src.cache)])
    out = capsys.readouterr().out
    assert code == 0 and "libtflm.a" in out and "-".join(CNN_KERNELS) in out
    assert tflm_build.main(["library", "host", "--model", str(tmp_path / "absent.tflite"),
                            "--src", str(paths.TFLM_TARBALL), "--cache", str(src.cache)]) == 1


def test_a_depthwise_only_model_links(tf, src, tmp_path):
    # depthwise_conv_common.cc uses the tensor indices conv_common.cc defines: a model without
    # a CONV_2D must still get that file into its library.
    import test_ops

    index = next(i for i, c in enumerate(test_ops.CASES) if c.op == "DEPTHWISE_CONV_2D")
    int8 = test_ops.models(test_ops.CASES[index], index, tf)["int8"]
    assert tflm_build.kernels_for(tflm_build.model_ops(int8)) == ("depthwise_conv",)
    rows = test_ops.random_inputs(graph.read(int8), 8, seed=5)
    elf = tflm_build.build_bench("host", int8, rows, tmp_path, arena_size=16384, src=src)
    assert np.array_equal(firmware.run("host", elf).outputs, tflm.run(int8, rows))


def test_tflm_and_the_plain_c_are_measured_alike_on_the_m4(cnn, codes, src, tmp_path):
    _needs("m4")
    int8 = cnn[0]
    t = tflm_build.tflm_implementation(int8, codes, tmp_path / "tflm", src=src)
    p = tflm_build.plain_implementation(export.plain_c_files(int8, "model"), codes,
                                        tmp_path / "plain", tflite=int8)
    print(f"\nTFLM: {t}\nplain C: {p}")
    assert t.outputs_equal_tflm and t.equal_rows == t.cases == len(codes)
    assert p.outputs_equal_tflm and p.equal_rows == p.cases == len(codes)
    assert t.name == "TFLM" and p.name == "plain C"
    assert 0 < t.arena < 16384 and p.arena == 0 and p.setup_instructions == 0
    assert t.setup_instructions > 0 and t.instructions > 0 and p.instructions > 0
    assert t.flash_parts["model"] == t.model_bytes == len(int8)
    assert abs(sum(t.flash_parts.values()) - t.flash) < 256  # the parts add up
    assert abs(t.baseline_flash - p.baseline_flash) < 256  # the same empty harness
    assert t.flash > p.flash > 0 and t.stack > 0 and p.stack > 0
    # the arena it measured is the minimum: one byte less and set-up fails
    small = tflm_build.build_bench("m4", int8, codes[:1], tmp_path / "small",
                                   arena_size=t.arena, src=src)
    assert tflm_build.probe_arena("m4", small, t.arena - 1) is None


def test_the_measurement_refuses_a_wrong_arena(cnn, codes, src, tmp_path):
    with pytest.raises(TypeError, match="arena must be"):
        tflm_build.tflm_implementation(cnn[0], codes, tmp_path, src=src, arena="big")
    host = tflm_build.Arena(4096, 4000, "host", "made up", False)
    with pytest.raises(ValueError, match="measured on host, not on m4"):
        tflm_build.tflm_implementation(cnn[0], codes, tmp_path, src=src, arena=host)
    with pytest.raises(TypeError, match="CModel"):
        tflm_build.plain_implementation(cnn[0], codes, tmp_path, tflite=cnn[0])
