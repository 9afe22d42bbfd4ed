"""env: seeds repeat, bad seeds are refused, setup yields Keras 2."""

import os

import numpy as np
import pytest

from tinyml_helpers import env


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
