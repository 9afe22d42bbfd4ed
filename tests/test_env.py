"""env: seeds repeat, bad seeds are refused, setup yields Keras 2."""

import os
from pathlib import Path

import numpy as np
import pytest

from tinyml_helpers.deploy import env


def test_setup_selects_keras_2(tf):
    assert os.environ["TF_USE_LEGACY_KERAS"] == "1"
    assert tf.keras.__name__.startswith("tf_keras") or "tf_keras" in tf.keras.__file__


def test_set_seed_repeats_numpy_and_tf(tf):
    env.set_seed(11)
    a = (np.random.rand(3), tf.random.uniform((3,)).numpy())
    env.set_seed(11)
    b = (np.random.rand(3), tf.random.uniform((3,)).numpy())
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])


@pytest.mark.parametrize("seed", [-1, 1.5, "3", True])
def test_bad_seed_is_refused(seed):
    with pytest.raises(ValueError, match="seed must be a non-negative int"):
        env.set_seed(seed)


def test_not_in_colab_here():
    assert env.in_colab() is False


# A short training run in a fresh process; prints a digest of the trained weights.
_TRAIN = """
import hashlib, os, sys
import numpy as np
if sys.argv[1] == "setup":
    from tinyml_helpers.deploy import env
    tf = env.setup(0)
else:  # TensorFlow as it comes, the course's pin not applied
    os.environ["TF_USE_LEGACY_KERAS"] = "1"
    import tensorflow as tf
    tf.keras.utils.set_random_seed(0)
    tf.config.experimental.enable_op_determinism()
x = np.linspace(0, 6.28, 512, dtype=np.float32).reshape(-1, 1)
layers = tf.keras.layers
model = tf.keras.Sequential([tf.keras.Input((1,)), layers.Dense(16, activation="relu"),
                             layers.Dense(16, activation="relu"), layers.Dense(1)])
model.compile(optimizer=tf.keras.optimizers.Adam(0.01), loss="mse")
model.fit(x, np.sin(x), epochs=10, batch_size=16, verbose=0)
print(os.environ.get("ONEDNN_MAX_CPU_ISA"), hashlib.sha256(
    b"".join(w.tobytes() for w in model.get_weights())).hexdigest()[:16])
"""


def _train(mode: str, isa: str) -> tuple[str, str]:
    import subprocess
    import sys

    run = subprocess.run([sys.executable, "-c", _TRAIN, mode], capture_output=True, text=True,
                         env={**os.environ, "ONEDNN_MAX_CPU_ISA": isa}, check=True, timeout=300)
    isa_seen, digest = run.stdout.split()[-2:]
    return isa_seen, digest


def test_setup_pins_onednn_whatever_the_environment_says():
    """TF's matmul reaches oneDNN, which picks its kernel by instruction set: env.setup caps it
    at SSE4.1 even over an outside setting, so the trained weights cannot depend on the CPU."""
    high, low = _train("setup", "AVX512_CORE"), _train("setup", "AVX2")
    assert high[0] == low[0] == env.PINNED_ENV["ONEDNN_MAX_CPU_ISA"] == "SSE41"
    assert high[1] == low[1]


def test_without_the_pin_the_instruction_set_changes_the_weights():
    """The control: plain TensorFlow trains other weights under another oneDNN cap (on CPUs
    with AVX2; where oneDNN has one kernel only, there is nothing to show)."""
    import platform

    if platform.machine() not in ("x86_64", "AMD64"):
        pytest.skip("oneDNN's instruction-set levels are x86-64 ones")
    cpuinfo = Path("/proc/cpuinfo")
    if not cpuinfo.exists():
        pytest.skip("no /proc/cpuinfo to read the CPU's instruction sets from")
    if " avx2" not in cpuinfo.read_text(encoding="ascii", errors="replace"):
        pytest.skip("this CPU has no AVX2: SSE4.1 is already what oneDNN runs")
    assert _train("plain", "SSE41")[1] != _train("plain", "AVX2")[1]
