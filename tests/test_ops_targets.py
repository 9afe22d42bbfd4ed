"""Random int8 models (tests/random_models.py) through the generated C on the host, the Uno and
the Cortex-M4, against the TFLM runtime.

A fixed-seed subset of what ``benchmarks/ops_targets.py`` runs by the hundred: 6 random models
of each operator kind and 4 random whole CNNs, 16 input rows each (three of them all -128, all
127 and all the input zero point). Every output code of every row must equal TFLM's, from
``ops.run`` and from the C on each target, over graph_c's reference kernels and over its fast
kernels; the models of a target run in a few firmware builds (``random_models.run_models``), on
the Uno only those that fit its 2 KB of RAM.

One more model runs with them: a minimal form of a case the benchmark found, where TFLM's
requantization shifts an accumulator left and int32 wraps. The C, ``ops.run`` and the
MicroPython module compute TFLM's codes there (the last two wrap like TFLM since this case).
"""

from __future__ import annotations

import types

import numpy as np
import pytest
import random_models as rm

from tinyml_helpers.deploy import env, firmware, graph, graph_c, litert, micropython, ops

N_PER_KIND = 6
N_CNNS = 4
N_ROWS = 16
FIRST_SEED = 10_000  # the benchmark starts at 0: the two see different models


@pytest.fixture(scope="module")
def models(tf):
    """Return the drawn models, kind by kind."""
    return [rm.draw(kind, FIRST_SEED + i, tf, N_ROWS)
            for kind in rm.KINDS for i in range(N_CNNS if kind == "CNN" else N_PER_KIND)]


@pytest.fixture(scope="module")
def dead_relu(tf):
    """A case drawing found (CONV_2D #1009 of the benchmark's --seed 1000), made minimal:
    Dense(1, ReLU) over 32 inputs whose calibration outputs are all 0, so the converter gives
    the output the scale 7.8e-9 and the requantization a left shift of 12. On the all-127 row
    (row 1) the accumulator is -1,039,560; TFLM multiplies it by 2^12 in int32, which wraps to
    +36,929,536, and answers 127 (not 0)."""
    env.set_seed(0)
    keras = tf.keras.Sequential([tf.keras.Input((32,)),
                                 tf.keras.layers.Dense(1, activation="relu")])
    keras.set_weights([-np.ones((32, 1), np.float32), np.array([-0.1], np.float32)])
    x = np.random.default_rng(0).uniform(0.0, 1.0, size=(64, 32)).astype(np.float32)
    m = rm.pinned(litert.convert(keras, "int8", x), "FULLY_CONNECTED",
                  "32 dense 1 RELU, weights -1, bias -0.1, calibration in [0, 1]", N_ROWS)
    q = ops.int8_params(m.graph, m.graph.ops[0])
    assert q.shift.tolist() == [12] and m.expected[1].tolist() == [127]
    return m


def _mismatches(models, outputs, source: str = "this target") -> list[str]:
    """Return a line for each model whose outputs differ from TFLM's somewhere."""
    lines = (rm.mismatch(m, outputs[id(m)], source, width=6) for m in models)
    return [line for line in lines if line is not None]


def test_ops_run_equals_tflm(models):
    """The NumPy reference gives TFLM's codes on every row of every model."""
    assert not _mismatches(models, {id(m): m.reference for m in models})


@pytest.mark.parametrize("kernels", graph_c.KERNEL_SETS)
@pytest.mark.parametrize("target", rm.TARGETS)
def test_generated_c_equals_tflm(models, dead_relu, target, kernels, tmp_path):
    """Every output code of every row equals TFLM's on ``target`` over either kernel set (the
    dead ReLU's wrapped left shift too); on the Uno every model that fits runs (the others are
    named by skip(kernels)) and the firmware's RAM stays under 2 KB."""
    missing = firmware.missing_tools(target)
    if missing:
        pytest.skip(f"{target}: {', '.join(missing)} not installed "
                    f"({firmware.install_hint(target)})")
    models = [*models, dead_relu]
    outputs, runs, skipped = rm.run_models(target, models, tmp_path, kernels=kernels)
    expected = [m for m in models if target != "uno" or m.skip(kernels) is None]
    assert not skipped and sorted(outputs) == sorted(id(m) for m in expected)
    problems = _mismatches(expected, outputs, f"{target} ({kernels} kernels)")
    assert not problems, "\n".join(problems)
    if target == "uno":
        assert all(run["ram"] + run["stack"] < rm.UNO_RAM for run in runs), runs
        assert any(m.c.n_outputs > rm.UNO_WIDTH for m in expected)  # read in slices


def test_ops_run_wraps_the_left_shift_like_tflm(dead_relu):
    """ops.run gives TFLM's 127 on the all-127 row of the dead ReLU: the accumulator shifted
    left wraps in int32, as TFLM's MultiplyByQuantizedMultiplier computes it."""
    assert not _mismatches([dead_relu], {id(dead_relu): dead_relu.reference})


def test_draws_cover_every_operator(models):
    """The subset holds every operator graph.read accepts, wide and narrow parameters."""
    seen = {op.kind for m in models for op in m.graph.ops}
    assert seen == set(graph.SUPPORTED_OPS)
    labels = {(m.kind, key, value) for m in models for key, value in m.labels.items()}
    for kind in ("CONV_2D", "DEPTHWISE_CONV_2D"):
        assert {(kind, "padding", "SAME"), (kind, "padding", "VALID")} <= labels
    assert any(op.params.dilation_h > 1 for m in models for op in m.graph.ops
               if op.kind in ("CONV_2D", "DEPTHWISE_CONV_2D"))


def test_a_seed_draws_the_same_model(models, tf):
    """Drawing again with the same kind and seed gives the same model (Keras numbers its layer
    names, so the files differ there only), rows and outputs."""
    first = models[-1]
    again = rm.draw(first.kind, first.seed, tf, N_ROWS)
    assert again.drawn == first.drawn and again.refusals == first.refusals
    constants = [[t.data for t in m.graph.tensors if t.data is not None] for m in (first, again)]
    assert all(np.array_equal(a, b) for a, b in zip(*constants, strict=True))
    assert np.array_equal(again.rows, first.rows)
    assert np.array_equal(again.expected, first.expected)


def test_input_rows_follow_xorshift32():
    """Rows 0-2 are constant; the others come from xorshift32's top bytes, as batch.c makes
    them: every code, or the zero point + the value / 4 or / 16 (truncated, clamped)."""
    rows = rm.input_rows(12345, 6, 40, zero_point=120)
    assert rows[:3].tolist() == [[-128] * 40, [127] * 40, [120] * 40]
    for r in (3, 4, 5):
        state = 12345 ^ (r * rm.GOLDEN & 0xFFFFFFFF)
        codes = []
        for i in range(4 + 40):
            state ^= (state << 13) & 0xFFFFFFFF
            state ^= state >> 17
            state ^= (state << 5) & 0xFFFFFFFF
            if i >= 4:
                v = (state >> 24) - 256 * (state >> 31)
                divisor = rm.NARROW[r % 3]
                quotient = abs(v) // divisor * (1 if v >= 0 else -1)
                codes.append(v if divisor == 1 else min(127, 120 + quotient))
        assert rows[r].tolist() == codes
    assert rows[4].max() == 127 and rows[5].min() >= 120 - 8  # clamped; near the zero point


def test_micropython_wraps_the_left_shift_like_tflm(dead_relu):
    """The generated MicroPython module (run by CPython here) gives TFLM's codes on the dead
    ReLU too: its requantization wraps the shifted accumulator to int32."""
    module = types.ModuleType("dead_relu")
    exec(compile(micropython.model_source(dead_relu.graph, "dead_relu"), "dead_relu.py", "exec"),
         module.__dict__)
    got = np.array([module.invoke(row.tolist()) for row in dead_relu.rows], dtype=np.int64)
    assert got.reshape(dead_relu.expected.shape).tolist() == dead_relu.expected.tolist()
