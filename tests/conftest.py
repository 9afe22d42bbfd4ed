"""Shared fixtures: TensorFlow set up once, the course's way (Keras 2, seeded, quiet), the two
models the export and firmware tests compile (the sine model and a 3-12-8-2 network), and a
small lesson-07 fan detector."""

import numpy as np
import pytest

from tinyml_helpers import models
from tinyml_helpers.deploy import litert


@pytest.fixture(scope="session")
def tf():
    """Return TensorFlow imported through tinyml_helpers.deploy.env.setup."""
    from tinyml_helpers.deploy import env
    return env.setup(0)


@pytest.fixture(scope="session")
def sine(tf):
    """The lesson's 1-16-16-1 model (shorter training) and its float and int8 .tflite."""
    model, _ = models.trained_sine_model(seed=0, epochs=150)
    rep = np.linspace(0, 2 * np.pi, 500, dtype=np.float32).reshape(-1, 1)
    return model, litert.convert(model, "float32"), litert.convert(model, "int8", rep)


@pytest.fixture(scope="session")
def wide(tf):
    """A second architecture with several inputs and outputs: 3-12-8-2."""
    from tinyml_helpers.deploy import env
    env.set_seed(1)
    rng = np.random.default_rng(1)
    x = rng.uniform(-2, 2, size=(512, 3)).astype(np.float32)
    y = np.stack([x[:, 0] * x[:, 1], np.sin(x[:, 2]) - 0.5 * x[:, 0]], axis=1)
    model = models.mlp((3, 12, 8, 2))
    models.compile_regression(model, 0.01)
    model.fit(x, y, epochs=30, batch_size=64, verbose=0)
    return model, litert.convert(model, "float32"), litert.convert(model, "int8", x)


@pytest.fixture(params=["sine", "wide"])
def case(request):
    """Each test model in turn: (name, (keras model, float .tflite, int8 .tflite))."""
    return request.param, request.getfixturevalue(request.param)


@pytest.fixture(scope="session")
def fan(tf):
    """A small lesson-07 detector (autoencoder trained 20 epochs, int8, calibrated threshold)
    and the fan data it was made from: (fan_detector.Detector, vibration.FanData)."""
    from tinyml_helpers import anomaly, fan_detector, vibration
    data = vibration.dataset(30, 8, seed=0)
    f_train, f_val = (vibration.features(x) for x in (data.x_train, data.x_val))
    scale = anomaly.fit_scaler(f_train)
    model, _ = anomaly.train_autoencoder(scale(f_train), scale(f_val), epochs=20)
    tflite = litert.convert(model, "int8", scale(f_train))
    return fan_detector.calibrate(tflite, scale, data.x_val), data
