"""The sine data set: shapes, ranges, noise level, splits and the errors on bad input."""

import numpy as np
import pytest

from tinyml_helpers import data


def test_samples_are_uniform_on_one_period_with_requested_noise():
    x, y = data.sine_samples(20_000, noise=0.1, seed=3)
    assert x.shape == y.shape == (20_000,)
    assert x.dtype == y.dtype == np.float32
    assert 0.0 <= x.min() and x.max() <= 2 * np.pi
    # Uniform on [0, 2π]: mean π, variance (2π)²/12.
    assert abs(x.mean() - np.pi) < 0.05
    assert abs(x.var() - (2 * np.pi) ** 2 / 12) < 0.1
    assert abs((y - np.sin(x)).std() - 0.1) < 0.003


def test_zero_noise_gives_the_exact_sine():
    x, y = data.sine_samples(50, noise=0.0, seed=1)
    np.testing.assert_allclose(y, np.sin(x), atol=1e-6)


def test_same_seed_same_data_other_seed_other_data():
    a = data.sine_samples(100, seed=7)
    b = data.sine_samples(100, seed=7)
    c = data.sine_samples(100, seed=8)
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])
    assert not np.array_equal(a[0], c[0])


@pytest.mark.parametrize(
    "num_samples, fractions, expected",
    [
        (1000, (0.6, 0.2, 0.2), (600, 200, 200)),
        (10, (0.6, 0.2, 0.2), (6, 2, 2)),
        (7, (0.5, 0.25, 0.25), (4, 2, 1)),  # round(3.5) = 4, round(1.75) = 2, rest 1
        (5, (1.0, 0.0, 0.0), (5, 0, 0)),
    ],
)
def test_split_sizes_by_hand(num_samples, fractions, expected):
    assert data.split_sizes(num_samples, fractions) == expected


def test_split_keeps_order_and_makes_columns():
    x = np.arange(10, dtype=np.float32)
    s = data.split(x, x * 2, (0.6, 0.2, 0.2))
    assert s.sizes() == (6, 2, 2)
    assert s.x_train.shape == (6, 1)
    np.testing.assert_array_equal(s.x_val.ravel(), [6, 7])
    np.testing.assert_array_equal(s.y_test.ravel(), [16, 18])


def test_sine_dataset_is_the_split_of_the_samples():
    s = data.sine_dataset(100, noise=0.05, seed=2)
    x, y = data.sine_samples(100, noise=0.05, seed=2)
    np.testing.assert_array_equal(np.concatenate([s.x_train, s.x_val, s.x_test]).ravel(), x)
    np.testing.assert_array_equal(np.concatenate([s.y_train, s.y_val, s.y_test]).ravel(), y)


@pytest.mark.parametrize("bad", [-5, 0])
def test_non_positive_sample_count_is_refused(bad):
    with pytest.raises(ValueError, match="num_samples must be positive"):
        data.sine_samples(bad)


def test_non_integer_sample_count_is_refused():
    with pytest.raises(TypeError, match="num_samples must be an int"):
        data.sine_samples(10.5)


@pytest.mark.parametrize("noise", [-0.1, float("nan"), float("inf")])
def test_bad_noise_is_refused(noise):
    with pytest.raises(ValueError, match="noise"):
        data.sine_samples(10, noise=noise)


def test_fractions_must_sum_to_one():
    with pytest.raises(ValueError, match="fractions must sum to 1"):
        data.split_sizes(100, (0.6, 0.2, 0.3))


def test_fractions_must_be_three_non_negative_values():
    with pytest.raises(ValueError, match="needs 3 values"):
        data.split_sizes(100, (0.5, 0.5))
    with pytest.raises(ValueError, match=">= 0"):
        data.split_sizes(100, (1.2, -0.1, -0.1))


def test_split_refuses_mismatched_lengths():
    with pytest.raises(ValueError, match="same length"):
        data.split(np.zeros(5), np.zeros(4))
