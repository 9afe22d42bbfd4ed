"""Model builders against hand-counted sizes, NumPy forward passes, and bad input."""

import numpy as np
import pytest

from tinyml_helpers import data, models


def test_sine_model_is_1_16_16_1_relu_with_321_params(tf):
    model = models.sine_model()
    dense = [layer for layer in model.layers if isinstance(layer, tf.keras.layers.Dense)]
    assert [layer.units for layer in dense] == [16, 16, 1]
    assert [layer.activation.__name__ for layer in dense] == ["relu", "relu", "linear"]
    # (1*16 + 16) + (16*16 + 16) + (16*1 + 1), counted by hand
    assert model.count_params() == 32 + 272 + 17 == 321


def test_mlp_matches_a_numpy_forward_pass(tf):
    model = models.mlp((3, 5, 2))
    x = np.random.default_rng(0).normal(size=(7, 3)).astype(np.float32)
    (w1, b1), (w2, b2) = models.dense_weights(model)
    expected = np.maximum(x @ w1 + b1, 0) @ w2 + b2
    np.testing.assert_allclose(model(x).numpy(), expected, atol=1e-5)


def test_training_learns_the_sine(tf):
    from tinyml_helpers.deploy import env
    env.set_seed(0)
    split = data.sine_dataset(1000, noise=0.1, seed=0)
    model = models.sine_model()
    history = models.fit(model, split, epochs=150, progress=False)
    assert len(history.history["loss"]) == 150
    assert len(history.history["val_loss"]) == 30  # validated every 5th epoch
    pred = model.predict(split.x_test, verbose=0)
    # A constant prediction of 0 scores ~0.5 against sin on [0, 2π]; a learned model far less.
    assert np.mean((pred - np.sin(split.x_test)) ** 2) < 0.05


def test_training_is_deterministic(tf):
    from tinyml_helpers.deploy import env
    split = data.sine_dataset(200, seed=1)
    losses = []
    for _ in range(2):
        env.set_seed(5)
        model = models.sine_model()
        losses.append(models.fit(model, split, epochs=5, progress=False).history["loss"])
    assert losses[0] == losses[1]


@pytest.mark.parametrize(
    "widths, error, message",
    [
        ((1,), ValueError, "at least an input and an output"),
        ((1, 0, 1), ValueError, "must be positive"),
        ((1, -4, 1), ValueError, "must be positive"),
        ((1, 2.5, 1), TypeError, "must be ints"),
    ],
)
def test_bad_widths_are_refused(widths, error, message):
    with pytest.raises(error, match=message):
        models.check_widths(widths)


def test_bad_training_settings_are_refused(tf):
    model = models.mlp((1, 2, 1))
    with pytest.raises(ValueError, match="learning_rate must be > 0"):
        models.compile_regression(model, learning_rate=0)
    models.compile_regression(model)
    with pytest.raises(ValueError, match="epochs must be positive"):
        models.fit(model, data.sine_dataset(10), epochs=0)


def test_mlp_layer_names_with_rescale_and_dropout(tf):
    plain = models.mlp((1, 4, 4, 1))
    assert [layer.name for layer in plain.layers] == ["dense_1", "dense_2", "output"]
    assert plain.input.name.startswith("x")
    both = models.mlp((1, 4, 4, 1), rescale=(0.5, -1.0), dropout=0.2, name="kd")
    assert [layer.name for layer in both.layers] == [
        "rescale", "dense_1", "dropout_1", "dense_2", "dropout_2", "output"]
    assert both.name == "kd" and both.count_params() == plain.count_params()


def test_dense_weights_of_a_layer_without_bias(tf):
    model = tf.keras.Sequential([tf.keras.Input(shape=(2,)),
                                 tf.keras.layers.Dense(3, use_bias=False)])
    (w, b), = models.dense_weights(model)
    assert w.shape == (2, 3) and b.tolist() == [0.0, 0.0, 0.0] and b.dtype == w.dtype


def test_spread_kinks_puts_every_bend_inside_the_data(tf):
    model = models.sine_model(seed=3)
    kernel, bias = model.get_layer("dense_1").get_weights()
    bends = -bias / kernel[0]
    assert np.all((bends >= 0) & (bends <= 2 * np.pi))
    x = np.linspace(0, 2 * np.pi, 1000).reshape(-1, 1)
    assert np.all(np.maximum(x @ kernel + bias, 0).max(axis=0) > 0)  # no neuron starts dead
    # With Keras' zero biases about half the ramps point away from the data.
    plain = models.mlp((1, 16, 16, 1))
    k0, b0 = plain.get_layer("dense_1").get_weights()
    assert np.all(b0 == 0) and np.any(np.maximum(x @ k0 + b0, 0).max(axis=0) == 0)
    k2, b2 = models.sine_model(seed=3).get_layer("dense_1").get_weights()
    np.testing.assert_allclose(-b2 / k2[0], bends, rtol=1e-5)  # the seed picks the bends


def test_cosine_learning_rate_falls_from_the_start_to_one_percent():
    rate = models.cosine_learning_rate(0.005, 500)
    values = [rate(epoch) for epoch in range(500)]
    assert values[0] == pytest.approx(0.005) and values[-1] == pytest.approx(0.00005)
    halfway = 0.5 * (1 + np.cos(np.pi * 249 / 499))
    assert values[249] == pytest.approx(0.005 * (0.01 + 0.99 * halfway))
    assert all(a >= b for a, b in zip(values, values[1:], strict=False))  # never rises
    assert rate(600) == pytest.approx(0.00005)  # past the end it stays at the floor


def test_revive_dead_neurons_restarts_them_without_changing_the_prediction(tf):
    """Kill neurons by hand; the revival brings each back (output varies over x, bend inside
    the data) and the model's output is bit for bit what it was."""
    from tinyml_helpers import pruning
    model = models.sine_model(seed=2)
    x = np.linspace(0, 2 * np.pi, 300, dtype=np.float32).reshape(-1, 1)
    k1, b1 = model.get_layer("dense_1").get_weights()
    k1[0, [1, 5]], b1[[1, 5]] = -1.0, -0.5  # ramps pointing away from x >= 0: dead
    model.get_layer("dense_1").set_weights([k1, b1])
    k2, b2 = model.get_layer("dense_2").get_weights()
    b2[3] = -1e3  # dead for every input
    model.get_layer("dense_2").set_weights([k2, b2])
    before = model(x).numpy()
    assert pruning.live_neurons(model, x)[0] == 14
    revived = models.revive_dead_neurons(model, x, np.random.default_rng(0))
    assert revived[0] == 2 and revived[1] >= 1
    np.testing.assert_array_equal(model(x).numpy(), before)
    # Every hidden neuron's output now changes over x (outgoing weights 0 until training).
    h = x
    for name in ("dense_1", "dense_2"):
        kernel, bias = model.get_layer(name).get_weights()
        h = np.maximum(0.0, h @ kernel + bias)
        on = np.mean(h > 0, axis=0)
        assert np.all(np.ptp(h, axis=0) > 1e-6), name
        dead_before = [1, 5] if name == "dense_1" else [3]
        assert np.all((on[dead_before] >= 0.15) & (on[dead_before] <= 0.85)), on[dead_before]
    # Outgoing weights of the revived neurons are 0 (a revived layer-2 neuron, itself silenced
    # downstream, may listen to them).
    k2_after = model.get_layer("dense_2").get_weights()[0]
    revived_2 = np.flatnonzero(np.any(k2_after != k2, axis=0))
    assert 3 in revived_2
    assert not np.delete(k2_after[[1, 5]], revived_2, axis=1).any()
    assert not model.get_layer("output").get_weights()[0][3].any()
    assert models.revive_dead_neurons(model, x, np.random.default_rng(0)) == [0, 0]


def test_the_course_recipe_leaves_no_dead_neuron(tf):
    """Lesson 01's claim on its own seed, at the full 500 epochs: 16 and 16 live."""
    from tinyml_helpers import pruning
    model, split = models.trained_sine_model(seed=0)
    assert pruning.live_neurons(model, split.x_train) == [16, 16]
