"""Print a JSON digest of every CPU-sensitive step the lessons take, for test_portability.

Run as a script (``python tests/portability_probe.py``), natively or under an emulated CPU
(``qemu-x86_64 -cpu SandyBridge python tests/portability_probe.py``). Each step is small,
because under emulation Python runs about ten times slower.

"digests" must be identical on every x86-64 CPU. "values" come from NumPy routines that pick
their code by CPU (OpenBLAS's matrix kernels, the AVX-512 exp and log), which differ in the
last bits; the test compares those with a tolerance.
"""

import hashlib
import json

import numpy as np

from tinyml_helpers import anomaly, data, distillation, models, vibration
from tinyml_helpers.deploy import env, litert, tflm


def digest(*arrays) -> str:
    """Return a short hash of the arrays' bytes (dtype and shape included)."""
    h = hashlib.sha256()
    for a in arrays:
        a = np.ascontiguousarray(a)
        h.update(f"{a.dtype}{a.shape}".encode())
        h.update(a.tobytes())
    return h.hexdigest()[:16]


def main() -> None:
    tf = env.setup(0)
    out = {}
    d = data.sine_dataset(seed=0)
    out["sine data (NumPy)"] = digest(d.x_train, d.y_train, d.x_test, d.y_test)

    model = models.sine_model()
    model.fit(d.x_train, d.y_train, epochs=15, batch_size=16, verbose=0)
    out["trained weights (TensorFlow, oneDNN)"] = digest(*model.get_weights())
    out["Keras predict"] = digest(model.predict(d.x_test, verbose=0))

    rep = np.linspace(0, 2 * np.pi, 200, dtype=np.float32).reshape(-1, 1)
    float_tflite, int8_tflite = litert.convert(model), litert.convert(model, "int8", rep)
    out["float .tflite (converter)"] = digest(np.frombuffer(float_tflite, np.uint8))
    out["int8 .tflite (converter, calibration)"] = digest(np.frombuffer(int8_tflite, np.uint8))
    out["LiteRT float"] = digest(litert.predict(float_tflite, d.x_test))
    out["LiteRT int8"] = digest(litert.predict(int8_tflite, d.x_test))
    codes = np.arange(-128, 128, dtype=np.int8).reshape(-1, 1)
    out["TFLM int8"] = digest(tflm.run(int8_tflite, codes))

    fans = vibration.dataset(12, 4, seed=0)
    feats = vibration.features(fans.x_train)
    scale = anomaly.fit_scaler(feats)
    out["fan windows and features (NumPy FFT)"] = digest(fans.x_train, feats)
    values = {}
    maha = anomaly.fit_mahalanobis(scale(feats))
    values["Mahalanobis scores (NumPy linalg)"] = maha.score(
        scale(vibration.features(fans.x_test))).tolist()
    logits = np.random.default_rng(0).normal(size=(32, 3)) * 4
    values["softmax with temperature (NumPy exp, log)"] = np.concatenate(
        [distillation.softmax(logits, 4.0), distillation.log_softmax(logits, 2.0)]).ravel().tolist()
    print(json.dumps({"tensorflow": tf.__version__, "digests": out, "values": values}))


if __name__ == "__main__":
    main()
