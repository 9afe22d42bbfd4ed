"""Anomaly detection trained on normal data only: Mahalanobis distance (one ellipse, or one
per group of normal data: per operating point or per k-means cluster) and an autoencoder,
scored with ROC curves, AUC, confusion matrices, precision and recall (all in NumPy).

Every detector gives each feature vector a *score* (bigger = stranger) and flags it when the
score exceeds a threshold picked on normal validation data (e.g. its 99th percentile).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import checks, data, models, vibration
from .deploy import env

# Bounds on what a call may allocate, so a slip in a count gets a message and not NumPy's or
# TensorFlow's MemoryError: the k-means distance array (samples × clusters × features) and
# the autoencoder's weights and biases.
MAX_KMEANS_VALUES = 20_000_000
MAX_AUTOENCODER_PARAMS = 10_000_000
MAX_RESTARTS = 100
RESTART_STRIDE = 100_000  # restart r trains from seed + r * RESTART_STRIDE
# The autoencoder's hidden biases start at 0.5 instead of Keras' 0: every ReLU unit is on for
# standardised features near 0, so fewer die (benchmarks/anomaly_methods.py measures both).
HIDDEN_BIAS = 0.5
_RANK_BLOCK = 4_000_000  # auc_rank compares this many score pairs at a time


def _matrix(x, name: str = "features") -> np.ndarray:
    x = np.asarray(checks.check_array(name, x, finite=False, allow_empty=True), dtype=np.float64)
    if x.ndim != 2 or len(x) == 0 or x.shape[1] == 0:
        raise ValueError(f"{name} must be a non-empty (n, features) array, got shape {x.shape}")
    if not np.all(np.isfinite(x)):
        raise ValueError(f"{name} contain NaN or inf")
    return x


def _features(x, count: int) -> np.ndarray:
    """Return ``x`` as a feature matrix after checking it has ``count`` columns."""
    x = _matrix(x)
    if x.shape[1] != count:
        raise ValueError(f"expected {count} features, got {x.shape[1]}")
    return x


# --- scaling ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class Scaler:
    """Per-feature mean and standard deviation of the normal training features."""

    mean: np.ndarray
    std: np.ndarray

    def __call__(self, x) -> np.ndarray:
        """Return ``x`` standardized: (x - mean) / std, as float32."""
        x = _features(x, len(self.mean))
        return ((x - self.mean) / self.std).astype(np.float32)


def fit_scaler(x) -> Scaler:
    """Return the :class:`Scaler` of ``x`` (a feature with zero spread gets std 1)."""
    x = _matrix(x)
    std = x.std(axis=0)
    return Scaler(x.mean(axis=0), np.where(std > 0, std, 1.0))


# --- Mahalanobis distance --------------------------------------------------------------------

@dataclass(frozen=True)
class Mahalanobis:
    """Mean and inverse covariance of normal features: all a board needs to score a window."""

    mean: np.ndarray
    inv_cov: np.ndarray

    def score(self, x) -> np.ndarray:
        """Return the Mahalanobis distance sqrt((x-μ)ᵀ Σ⁻¹ (x-μ)) of each row of ``x``."""
        x = _features(x, len(self.mean))
        d = x - self.mean
        return np.sqrt(np.maximum(np.einsum("ni,ij,nj->n", d, self.inv_cov, d), 0.0))


def fit_mahalanobis(x, ridge: float = 1e-6) -> Mahalanobis:
    """Return a :class:`Mahalanobis` detector fitted to normal features ``x``.

    ``ridge`` × the mean variance is added to the diagonal so a nearly flat direction (a
    feature that hardly varies in normal data) cannot make the inverse blow up.
    """
    x = _matrix(x)
    if len(x) <= x.shape[1]:
        raise ValueError(f"need more samples ({len(x)}) than features ({x.shape[1]}) to "
                         "estimate a covariance")
    checks.check_number("ridge", ridge, low=0.0)
    cov = np.cov(x, rowvar=False)
    cov += ridge * np.trace(cov) / len(cov) * np.eye(len(cov))
    try:
        inv_cov = np.linalg.inv(cov)
    except np.linalg.LinAlgError:
        raise ValueError("the covariance of x is singular (a feature is constant or a copy of "
                         "others): pass ridge > 0") from None
    return Mahalanobis(x.mean(axis=0), inv_cov)


# --- several ellipses: one per operating point or per cluster ----------------------------------

@dataclass(frozen=True)
class MahalanobisGroups:
    """One Mahalanobis ellipse per group of normal data (a fan speed, or a k-means cluster).

    A window's score is its distance to the *nearest* ellipse, so the board needs not know
    which group it belongs to; pass ``groups`` to :meth:`score` when it does.
    """

    names: tuple
    detectors: tuple

    def distances(self, x) -> np.ndarray:
        """Return the (n, groups) Mahalanobis distances of each row of ``x`` to each ellipse."""
        x = _features(x, len(self.detectors[0].mean))
        return np.stack([d.score(x) for d in self.detectors], axis=1)

    def nearest(self, x) -> np.ndarray:
        """Return the name of the nearest ellipse for each row of ``x``."""
        return np.asarray(self.names)[np.argmin(self.distances(x), axis=1)]

    def score(self, x, groups=None) -> np.ndarray:
        """Return each row's distance to the nearest ellipse or, with ``groups`` (one group
        name per row), to the ellipse of its own group."""
        dist = self.distances(x)
        if groups is None:
            return dist.min(axis=1)
        groups = _group_names(groups, len(dist))
        unknown = sorted(set(groups.tolist()) - set(self.names), key=str)
        if unknown:
            raise ValueError(f"unknown groups {unknown}; the ellipses are {list(self.names)}")
        column = np.array([self.names.index(g) for g in groups.tolist()], dtype=np.int64)
        return dist[np.arange(len(dist)), column]


def _group_names(groups, count: int) -> np.ndarray:
    if isinstance(groups, (str, bytes, dict)) or groups is None:
        raise TypeError(f"groups must be a list or array with one name per row, got "
                        f"{type(groups).__name__}")
    g = np.asarray(groups)
    if g.ndim != 1 or len(g) != count:
        raise ValueError(f"groups must be 1-D with one name per row ({count}), got shape "
                         f"{g.shape}")
    if g.dtype == object or g.dtype.kind not in "iuU":
        raise TypeError(f"groups must hold strings or integers, got dtype {g.dtype}")
    return g


def fit_mahalanobis_groups(x, groups, ridge: float = 1e-6) -> MahalanobisGroups:
    """Return a :class:`MahalanobisGroups`: one :func:`fit_mahalanobis` ellipse per distinct
    value of ``groups`` (e.g. the fan speed of each training window)."""
    x = _matrix(x)
    groups = _group_names(groups, len(x))
    names = tuple(np.unique(groups).tolist())
    detectors = []
    for name in names:
        rows = x[groups == name]
        if len(rows) <= x.shape[1]:
            raise ValueError(f"group {name!r} has {len(rows)} samples: each group needs more "
                             f"samples than features ({x.shape[1]}); use fewer groups")
        detectors.append(fit_mahalanobis(rows, ridge))
    return MahalanobisGroups(names, tuple(detectors))


def kmeans(x, k: int, seed: int = 0, n_init: int = 10,
           max_iter: int = 100) -> tuple[np.ndarray, np.ndarray]:
    """Return (centres (k, features), cluster of each row): k-means with k-means++ starts.

    The best of ``n_init`` runs (smallest sum of squared distances) wins; the same ``seed``
    gives the same clusters.
    """
    x = _matrix(x)
    k = checks.check_int("k", k)
    if k > len(x):
        raise ValueError(f"k = {k} clusters need at least {k} samples, got {len(x)}")
    if len(x) * k * x.shape[1] > MAX_KMEANS_VALUES:
        raise ValueError(f"k = {k} clusters of {len(x)} samples with {x.shape[1]} features "
                         f"need a distance array of {len(x) * k * x.shape[1]:,} values; at most "
                         f"{MAX_KMEANS_VALUES:,} are allowed: use fewer clusters or samples")
    seed = checks.check_seed(seed)
    n_init = checks.check_int("n_init", n_init)
    max_iter = checks.check_int("max_iter", max_iter)
    rng = np.random.default_rng(seed)
    best = None
    for _ in range(n_init):
        centres = _kmeans_plus_plus(x, k, rng)
        for _ in range(max_iter):
            labels = _sq_dist(x, centres).argmin(axis=1)
            new = np.array([x[labels == j].mean(axis=0) if np.any(labels == j) else centres[j]
                            for j in range(k)])
            if np.array_equal(new, centres):
                break
            centres = new
        d2 = _sq_dist(x, centres)
        labels = d2.argmin(axis=1)
        inertia = d2[np.arange(len(x)), labels].sum()
        if best is None or inertia < best[0]:
            best = (inertia, centres, labels)
    return best[1], best[2]


def _sq_dist(x: np.ndarray, centres: np.ndarray) -> np.ndarray:
    return ((x[:, None, :] - centres[None, :, :]) ** 2).sum(axis=2)


def _kmeans_plus_plus(x: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
    """Pick k starting centres, each far from those already picked (k-means++)."""
    centres = [x[rng.integers(len(x))]]
    for _ in range(1, k):
        d2 = _sq_dist(x, np.array(centres)).min(axis=1)
        total = d2.sum()
        i = rng.integers(len(x)) if total == 0 else rng.choice(len(x), p=d2 / total)
        centres.append(x[i])
    return np.array(centres)


def fit_kmeans_mahalanobis(x, k: int, seed: int = 0, ridge: float = 1e-6) -> MahalanobisGroups:
    """Return one Mahalanobis ellipse per k-means cluster of normal features ``x``: no labels
    needed (Edge Impulse's anomaly block also starts from k-means clusters).

    A cluster too small to estimate a covariance (no more samples than features) is dropped
    and its samples join the nearest remaining cluster, so fewer than ``k`` ellipses can come
    out; the names are the cluster numbers kept.
    """
    x = _matrix(x)
    if len(x) <= x.shape[1]:
        raise ValueError(f"need more samples ({len(x)}) than features ({x.shape[1]}) to "
                         "estimate a covariance")
    centres, labels = kmeans(x, k, seed)
    keep = np.arange(len(centres))
    while True:
        sizes = np.bincount(labels, minlength=len(centres))[keep]
        if sizes.min() > x.shape[1]:
            break
        keep = np.delete(keep, sizes.argmin())  # the smallest goes first, then look again
        labels = keep[_sq_dist(x, centres[keep]).argmin(axis=1)]
    return fit_mahalanobis_groups(x, labels, ridge)


# --- autoencoder -----------------------------------------------------------------------------

def build_autoencoder(n_features: int, hidden=(8, 4, 8), learning_rate: float = 0.01,
                      hidden_bias: float = HIDDEN_BIAS):
    """Return a compiled dense autoencoder n_features-hidden...-n_features (ReLU, linear out),
    its hidden biases starting at ``hidden_bias`` (see :data:`HIDDEN_BIAS`)."""

    n_features = checks.check_int("n_features", n_features)
    hidden = _check_hidden(hidden)
    widths = (n_features, *hidden, n_features)
    params = sum((a + 1) * b for a, b in zip(widths[:-1], widths[1:], strict=True))
    if params > MAX_AUTOENCODER_PARAMS:
        raise ValueError(f"an autoencoder {'-'.join(map(str, widths))} would have {params:,} "
                         f"weights and biases; at most {MAX_AUTOENCODER_PARAMS:,} are allowed "
                         "(and a microcontroller holds far fewer): use fewer features or "
                         "narrower hidden layers")
    models.check_learning_rate(learning_rate)
    model = models.mlp((n_features, *hidden, n_features), name="autoencoder",
                       hidden_bias=hidden_bias)
    models.compile_regression(model, learning_rate)
    return model


def train_autoencoder(x_train, x_val, epochs: int = 150, hidden=(8, 4, 8), seed: int = 0,
                      batch_size: int = 32, progress: bool = False, restarts: int = 1,
                      hidden_bias: float = HIDDEN_BIAS):
    """Return (model, history): an autoencoder trained to reproduce normal ``x_train``.

    With ``restarts`` > 1 it trains that many networks from different random starts (seeds
    ``seed``, ``seed`` + 100,000, ...) and keeps the one with the lowest final validation loss:
    a start whose ReLUs die early ends with a high loss and is dropped.
    """

    epochs = checks.check_int("epochs", epochs)
    batch_size = checks.check_int("batch_size", batch_size)
    seed = checks.check_seed(seed)
    progress = checks.check_bool("progress", progress)
    restarts = checks.check_int("restarts", restarts)
    if restarts > MAX_RESTARTS:
        raise ValueError(f"restarts must be at most {MAX_RESTARTS}, got {restarts}")
    hidden = _check_hidden(hidden)
    x_train, x_val = _matrix(x_train, "x_train"), _matrix(x_val, "x_val")
    if x_train.shape[1] != x_val.shape[1]:
        raise ValueError(f"x_train has {x_train.shape[1]} features, x_val {x_val.shape[1]}")
    x_train, x_val = x_train.astype(np.float32), x_val.astype(np.float32)
    split = data.Split(x_train, x_train, x_val, x_val, x_val[:0], x_val[:0])
    best = None
    for restart in range(restarts):
        env.set_seed(seed + RESTART_STRIDE * restart)
        model = build_autoencoder(x_train.shape[1], hidden, hidden_bias=hidden_bias)
        history = models.fit(model, split, epochs=epochs, batch_size=batch_size,
                             progress=progress)
        if restarts == 1:
            return model, history
        val_loss = float(model.evaluate(x_val, x_val, batch_size=batch_size, verbose=0))
        if best is None or val_loss < best[0]:
            best = (val_loss, model, history)
    return best[1], best[2]


def dead_units(model, x) -> list[int]:
    """Return, for each hidden ReLU layer of ``model``, how many of its units output 0 for
    every row of ``x`` (dead: no gradient reaches their weights, so they never recover)."""
    x = _matrix(x).astype(np.float32)
    counts = []
    for layer in model.layers[:-1]:
        x = np.asarray(layer(x))
        if getattr(layer, "activation", None) is not None and \
                layer.activation.__name__ == "relu":
            counts.append(int(np.sum(np.all(x <= 0, axis=0))))
    return counts


def _check_hidden(hidden) -> tuple[int, ...]:
    if isinstance(hidden, (str, bytes)) or not isinstance(hidden, (list, tuple)):
        raise TypeError(f"hidden must be a list of hidden layer widths such as (8, 4, 8), got "
                        f"{type(hidden).__name__} {hidden!r}")
    return tuple(checks.check_int(f"hidden[{i}]", w) for i, w in enumerate(hidden))


def reconstruction_error(x, x_hat) -> np.ndarray:
    """Return the mean squared difference between each row of ``x`` and of ``x_hat``."""
    x, x_hat = _matrix(x), _matrix(x_hat, "reconstructions")
    if x.shape != x_hat.shape:
        raise ValueError(f"x and x_hat differ in shape: {x.shape} vs {x_hat.shape}")
    return np.mean((x - x_hat) ** 2, axis=1)


# --- thresholds and metrics ------------------------------------------------------------------

def check_percentile(percentile) -> float:
    """Return ``percentile`` as a float after checking it lies in [0, 100]."""
    return checks.check_number("percentile", percentile, low=0.0, high=100.0)


def threshold(normal_scores, percentile: float = 99.0) -> float:
    """Return the ``percentile``-th percentile of scores on normal validation data."""
    s = np.asarray(checks.check_array("normal_scores", normal_scores), dtype=np.float64).ravel()
    percentile = check_percentile(percentile)
    return float(np.percentile(s, percentile))


def _scores_labels(scores, labels) -> tuple[np.ndarray, np.ndarray]:
    s = np.asarray(checks.check_array("scores", scores, finite=False, allow_empty=True),
                   dtype=np.float64).ravel()
    y = checks.check_array("labels", labels, finite=False, allow_empty=True).ravel()
    if len(s) != len(y) or len(s) == 0:
        raise ValueError(f"scores and labels must be non-empty and equally long, got "
                         f"{len(s)} and {len(y)}")
    if not np.all(np.isfinite(s)):
        raise ValueError("scores contain NaN or inf")
    if not np.all((y == 0) | (y == 1)):
        raise ValueError("labels must be 0 (normal) or 1 (anomaly)")
    if y.min() == y.max():
        raise ValueError("labels need both classes (0 and 1) for a ROC curve")
    return s, y.astype(np.int64)


def roc_curve(scores, labels) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return (false positive rate, true positive rate, thresholds), one point per distinct
    score from the highest down, starting at (0, 0); "anomaly" means score >= threshold."""
    s, y = _scores_labels(scores, labels)
    order = np.argsort(-s, kind="stable")
    s, y = s[order], y[order]
    last_of_tie = np.r_[np.flatnonzero(np.diff(s)), len(s) - 1]
    tp = np.cumsum(y)[last_of_tie]
    fp = np.cumsum(1 - y)[last_of_tie]
    fpr = np.r_[0.0, fp / (len(y) - y.sum())]
    tpr = np.r_[0.0, tp / y.sum()]
    return fpr, tpr, np.r_[np.inf, s[last_of_tie]]


def auc(scores, labels) -> float:
    """Return the area under the ROC curve (trapezoid rule over :func:`roc_curve`)."""
    fpr, tpr, _ = roc_curve(scores, labels)
    return float(np.sum(np.diff(fpr) * (tpr[1:] + tpr[:-1]) / 2))


def auc_rank(scores, labels) -> float:
    """Return P(score of a random anomaly > that of a random normal), ties counting ½."""
    s, y = _scores_labels(scores, labels)
    pos, neg = s[y == 1], s[y == 0]
    greater = ties = 0
    step = max(1, _RANK_BLOCK // len(neg))  # whole blocks of pairs: the counts stay exact
    for start in range(0, len(pos), step):
        block = pos[start:start + step, None]
        greater += int((block > neg[None, :]).sum())
        ties += int((block == neg[None, :]).sum())
    return float((greater + 0.5 * ties) / (len(pos) * len(neg)))


def confusion_matrix(labels, flagged) -> np.ndarray:
    """Return [[true negatives, false positives], [false negatives, true positives]]."""
    y = checks.check_array("labels", labels, finite=False, allow_empty=True).ravel()
    p = checks.check_array("flagged", flagged, finite=False, allow_empty=True).ravel()
    if len(y) == 0:
        raise ValueError("labels and flagged are empty")
    if len(y) != len(p):
        raise ValueError(f"labels and flagged must be equally long, got {len(y)} and {len(p)}")
    for name, v in (("labels", y), ("flagged", p)):
        if not np.all((v == 0) | (v == 1)):
            raise ValueError(f"{name} must be 0/1 or booleans")
    y, p = y.astype(bool), p.astype(bool)
    return np.array([[np.sum(~y & ~p), np.sum(~y & p)], [np.sum(y & ~p), np.sum(y & p)]])


def precision_recall(labels, flagged) -> tuple[float, float]:
    """Return (precision, recall): the share of alarms that are real anomalies, and the share
    of anomalies that raise an alarm. Precision is NaN when nothing was flagged."""
    (_, fp), (fn, tp) = confusion_matrix(labels, flagged)
    if tp + fn == 0:
        raise ValueError("labels hold no anomaly (1): recall is undefined")
    precision = float(tp / (tp + fp)) if tp + fp else float("nan")
    return precision, float(tp / (tp + fn))


def pr_curve(scores, labels) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return (precision, recall, thresholds), one point per distinct score from the highest
    down; "anomaly" means score >= threshold. Precision is the share of flagged windows that
    are anomalies, so unlike the ROC curve it depends on how rare anomalies are."""
    s, y = _scores_labels(scores, labels)
    order = np.argsort(-s, kind="stable")
    s, y = s[order], y[order]
    last_of_tie = np.r_[np.flatnonzero(np.diff(s)), len(s) - 1]
    tp = np.cumsum(y)[last_of_tie]
    flagged = last_of_tie + 1
    return tp / flagged, tp / y.sum(), s[last_of_tie]


def average_precision(scores, labels) -> float:
    """Return the average precision: the precision at each threshold weighted by the recall it
    adds (the area under the step-wise PR curve, as scikit-learn computes it)."""
    precision, recall, _ = pr_curve(scores, labels)
    return float(np.sum(np.diff(np.r_[0.0, recall]) * precision))


def false_alarm_interval(val_scores, normal_test_scores, percentile: float = 99.0,
                         resamples: int = 2000, seed: int = 0,
                         level: float = 0.95) -> tuple[float, float]:
    """Return a bootstrap interval of the false-alarm rate on normal test windows.

    Each resample draws the normal validation windows (which set the threshold) and the normal
    test windows (which count the alarms) again with replacement; the interval holds the
    middle ``level`` share of the resampled rates. It shows how much the rate could move with
    another recording of the same size.
    """
    val = np.asarray(checks.check_array("val_scores", val_scores), np.float64).ravel()
    test = np.asarray(checks.check_array("normal_test_scores", normal_test_scores),
                      np.float64).ravel()
    percentile = check_percentile(percentile)
    resamples = checks.check_int("resamples", resamples, 10)
    if resamples > 100_000:
        raise ValueError(f"resamples must be at most 100,000, got {resamples:,}")
    seed = checks.check_seed(seed)
    level = checks.check_number("level", level, low=0.0, high=1.0, low_open=True)
    rng = np.random.default_rng(seed)
    limits = np.percentile(val[rng.integers(0, len(val), (resamples, len(val)))], percentile,
                           axis=1)
    rates = np.empty(resamples)
    for i, limit in enumerate(limits):
        rates[i] = np.mean(test[rng.integers(0, len(test), len(test))] > limit)
    tail = 100 * (1 - level) / 2
    low, high = np.percentile(rates, [tail, 100 - tail])
    return float(low), float(high)


# --- every detector of lesson 07 on one data set, for the benchmark ----------------------------

METHODS = ("one ellipse", "ellipse per speed", "ellipse per speed, speed known",
           "k-means ellipses", "autoencoder")


@dataclass(frozen=True)
class Metrics:
    """One detector on one labelled test set, at the threshold picked on normal validation
    scores."""

    auc: float
    ap: float  # average precision
    precision: float
    recall: float
    false_alarms: float  # share of the normal test windows flagged
    confusion: np.ndarray


def evaluate(val_scores, test_scores, labels, percentile: float = 99.0) -> Metrics:
    """Return the :class:`Metrics` of one detector: its threshold is the ``percentile`` of the
    normal validation scores ``val_scores``; ``test_scores`` are scored against ``labels``."""
    flagged = np.asarray(test_scores) > threshold(val_scores, percentile)
    precision, recall = precision_recall(labels, flagged)
    cm = confusion_matrix(labels, flagged)
    return Metrics(auc(test_scores, labels), average_precision(test_scores, labels), precision,
                   recall, float(cm[0, 1] / cm[0].sum()), cm)


def _check_fan(fan) -> vibration.FanData:
    if not isinstance(fan, vibration.FanData):
        raise TypeError(f"fan must be a vibration.FanData (from vibration.dataset or "
                        f"fan_recordings.split), got {type(fan).__name__}")
    if fan.speed_train is None or fan.speed_val is None:
        raise ValueError("fan must carry the speed of its training and validation windows")
    return fan


@dataclass(frozen=True)
class Detectors:
    """Every detector of :data:`METHODS`, fitted on one set of normal training windows."""

    scale: Scaler  # standardises the features with the training windows' mean and std
    one: Mahalanobis
    per_speed: MahalanobisGroups
    clustered: MahalanobisGroups
    autoencoder: object  # a Keras model

    def scores(self, windows, speeds) -> dict[str, np.ndarray]:
        """Return {method: score of each window}; ``speeds`` (the speed name of each window)
        is used only by "ellipse per speed, speed known"."""
        z = self.scale(vibration.features(windows))
        return {"one ellipse": self.one.score(z),
                "ellipse per speed": self.per_speed.score(z),
                "ellipse per speed, speed known": self.per_speed.score(z, speeds),
                "k-means ellipses": self.clustered.score(z),
                "autoencoder": reconstruction_error(z, self.autoencoder.predict(z, verbose=0))}


def fit_detectors(fan, seed: int = 0, epochs: int = 150, clusters: int = 4,
                  restarts: int = 1, hidden_bias: float = HIDDEN_BIAS) -> Detectors:
    """Return :class:`Detectors` fitted on the standardised features of ``fan``'s normal
    training windows (``restarts`` autoencoders trained, the lowest validation loss kept)."""
    fan = _check_fan(fan)
    seed = checks.check_seed(seed)
    epochs = checks.check_int("epochs", epochs)
    clusters = checks.check_int("clusters", clusters)
    f_train = vibration.features(fan.x_train)
    scale = fit_scaler(f_train)
    z_train, z_val = scale(f_train), scale(vibration.features(fan.x_val))
    model, _ = train_autoencoder(z_train, z_val, epochs=epochs, seed=seed, restarts=restarts,
                                 hidden_bias=hidden_bias)
    return Detectors(scale, fit_mahalanobis(z_train),
                     fit_mahalanobis_groups(z_train, fan.speed_train),
                     fit_kmeans_mahalanobis(z_train, clusters, seed), model)


def evaluate_all(found: Detectors, fan, percentile: float = 99.0) -> dict[str, Metrics]:
    """Return {method: :class:`Metrics`} of detectors ``found`` on ``fan``: each threshold at
    the ``percentile`` of its normal validation scores, scored on the labelled test set."""
    if not isinstance(found, Detectors):
        raise TypeError(f"found must be the Detectors from fit_detectors, got "
                        f"{type(found).__name__}")
    fan = _check_fan(fan)
    percentile = check_percentile(percentile)
    val = found.scores(fan.x_val, fan.speed_val)
    test = found.scores(fan.x_test, fan.speed_test)
    return {method: evaluate(val[method], test[method], fan.y_test, percentile)
            for method in METHODS}


def compare(fan, seed: int = 0, epochs: int = 150, percentile: float = 99.0,
            clusters: int = 4, restarts: int = 1) -> dict[str, Metrics]:
    """Return {method: :class:`Metrics`} for every detector in :data:`METHODS` on ``fan``
    (simulated windows from :func:`vibration.dataset` or real ones from
    :func:`fan_recordings.split`), all fitted on the same normal windows and scored on the
    same test set."""
    percentile = check_percentile(percentile)
    return evaluate_all(fit_detectors(fan, seed, epochs, clusters, restarts), fan, percentile)


# --- what only the simulator can do: coins of every size, mounts never seen ---------------------

SEVERITIES = (0.25, 0.5, 0.75, 1.0)  # coin imbalance relative to lesson 07's coin
UNSEEN_MOUNTS = (6.0, 14.0)  # Hz: a softer and a stiffer mount than the training one (9 Hz)
_SIM_STREAM = 7  # the extra windows below come from a random stream of their own


def limits(found: Detectors, fan, percentile: float = 99.0) -> dict[str, float]:
    """Return {method: threshold}: the ``percentile`` of its scores on ``fan``'s normal
    validation windows."""
    if not isinstance(found, Detectors):
        raise TypeError(f"found must be the Detectors from fit_detectors, got "
                        f"{type(found).__name__}")
    fan = _check_fan(fan)
    percentile = check_percentile(percentile)
    val = found.scores(fan.x_val, fan.speed_val)
    return {method: threshold(val[method], percentile) for method in METHODS}


def _sim_windows(coin, count: int, seed: int, config) -> tuple[np.ndarray, np.ndarray]:
    speeds = ("low", "medium", "high") if coin else tuple(vibration.SPEEDS)
    stream = int(np.random.SeedSequence([seed, _SIM_STREAM]).generate_state(1)[0])
    w = [vibration.windows(s, count, imbalance=bool(coin), seed=stream, config=config)
         for s in speeds]
    return np.concatenate(w), np.repeat(speeds, count)


def severity_recall(found: Detectors, limit: dict[str, float], seed: int = 0,
                    severities=SEVERITIES, per_speed: int = 40) -> dict[str, list[float]]:
    """Return {method: [recall at each coin size in ``severities``]} on fresh simulated coin
    windows (fixed mount, low / medium / high), each with the same fan and noise, thresholds
    ``limit`` (from :func:`limits`)."""
    seed = checks.check_seed(seed)
    per_speed = checks.check_int("per_speed", per_speed)
    out = {method: [] for method in METHODS}
    for size in severities:
        size = checks.check_number("severity", size, low=0.0, low_open=True)
        windows, speeds = _sim_windows(True, per_speed, seed,
                                       vibration.FanConfig(coin_imbalance=size))
        scores = found.scores(windows, speeds)
        for method in METHODS:
            out[method].append(float(np.mean(scores[method] > limit[method])))
    return out


def unseen_mount(found: Detectors, limit: dict[str, float], mount_hz: float, seed: int = 0,
                 per_speed: int = 40) -> dict[str, tuple[float, float]]:
    """Return {method: (false-alarm rate, recall)} on fresh simulated windows whose mount has
    its natural frequency at ``mount_hz`` (the detectors were trained at 9 Hz)."""
    seed = checks.check_seed(seed)
    per_speed = checks.check_int("per_speed", per_speed)
    mount_hz = checks.check_number("mount_hz", mount_hz, low=0.0, low_open=True)
    config = vibration.FanConfig(mount_hz=mount_hz)
    normal, normal_speeds = _sim_windows(False, per_speed, seed, config)
    coins, coin_speeds = _sim_windows(True, per_speed, seed, config)
    s_normal, s_coin = found.scores(normal, normal_speeds), found.scores(coins, coin_speeds)
    return {method: (float(np.mean(s_normal[method] > limit[method])),
                     float(np.mean(s_coin[method] > limit[method]))) for method in METHODS}
