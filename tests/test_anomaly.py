"""Anomaly detection: metrics against hand examples, the Mahalanobis distance against a
direct solve, and the int8 autoencoder's plain C against the TFLM runtime, bit for bit."""

import numpy as np
import pytest

from tinyml_helpers import anomaly, vibration


def test_auc_of_the_classic_four_point_example():
    scores, labels = [0.1, 0.4, 0.35, 0.8], [0, 0, 1, 1]
    # Pairs (anomaly, normal): (0.35, 0.1) ok, (0.35, 0.4) wrong, (0.8, both) ok -> 3/4.
    assert anomaly.auc(scores, labels) == pytest.approx(0.75)
    assert anomaly.auc_rank(scores, labels) == pytest.approx(0.75)
    fpr, tpr, thr = anomaly.roc_curve(scores, labels)
    np.testing.assert_allclose(fpr, [0, 0, 0.5, 0.5, 1])
    np.testing.assert_allclose(tpr, [0, 0.5, 0.5, 1, 1])
    np.testing.assert_allclose(thr, [np.inf, 0.8, 0.4, 0.35, 0.1])


def test_ties_count_half_and_perfect_separation_scores_one():
    assert anomaly.auc([1, 1], [0, 1]) == pytest.approx(0.5)
    assert anomaly.auc_rank([1, 1], [0, 1]) == pytest.approx(0.5)
    assert anomaly.auc([0, 1, 2, 3], [0, 0, 1, 1]) == 1.0
    assert anomaly.auc([3, 2, 1, 0], [0, 0, 1, 1]) == 0.0


def test_trapezoid_and_rank_auc_agree_on_random_scores_with_ties():
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 2, 500)
    scores = np.round(rng.normal(labels * 0.8, 1.0), 1)  # rounding makes many ties
    assert anomaly.auc(scores, labels) == pytest.approx(anomaly.auc_rank(scores, labels),
                                                        abs=1e-12)


def test_confusion_matrix_counts():
    cm = anomaly.confusion_matrix([0, 0, 0, 1, 1], [0, 1, 0, 1, 0])
    assert cm.tolist() == [[2, 1], [1, 1]]


def test_mahalanobis_matches_a_direct_solve():
    rng = np.random.default_rng(1)
    x = rng.multivariate_normal([1, -2, 0.5], [[2, 0.9, 0], [0.9, 1, 0.3], [0, 0.3, 0.5]], 400)
    det = anomaly.fit_mahalanobis(x, ridge=0.0)
    q = rng.normal(size=(5, 3))
    cov, mu = np.cov(x, rowvar=False), x.mean(axis=0)
    direct = [np.sqrt((v - mu) @ np.linalg.solve(cov, v - mu)) for v in q]
    np.testing.assert_allclose(det.score(q), direct, rtol=1e-10)
    assert np.median(det.score(x) ** 2) == pytest.approx(3 - 2 / 3, rel=0.15)  # χ²₃ median


def test_threshold_and_scaler():
    assert anomaly.threshold(np.arange(101), 99) == pytest.approx(99.0)
    scale = anomaly.fit_scaler([[1.0, 5.0], [3.0, 5.0]])
    np.testing.assert_allclose(scale([[2.0, 5.0], [3.0, 6.0]]), [[0, 0], [1, 1]])


def test_precision_and_recall_count_alarms_and_coins():
    # 2 real alarms, 1 false alarm, 1 missed anomaly.
    assert anomaly.precision_recall([0, 0, 1, 1, 1], [0, 1, 1, 1, 0]) == \
        pytest.approx((2 / 3, 2 / 3))
    precision, recall = anomaly.precision_recall([0, 1], [0, 0])
    assert np.isnan(precision) and recall == 0.0


def _blobs(rng, centres, n=120):
    return np.concatenate([rng.normal(c, 0.3, size=(n, 2)) for c in centres])


def test_kmeans_finds_well_separated_blobs_and_is_repeatable():
    rng = np.random.default_rng(0)
    centres = [(0, 0), (5, 0), (0, 5)]
    x = _blobs(rng, centres)
    found, labels = anomaly.kmeans(x, 3, seed=1)
    assert sorted(map(tuple, np.round(found))) == sorted(centres)
    for blob in range(3):  # every blob in one cluster of its own
        assert len(set(labels[blob * 120:(blob + 1) * 120])) == 1
    assert len(set(labels)) == 3
    again, labels_again = anomaly.kmeans(x, 3, seed=1)
    np.testing.assert_array_equal(again, found)
    np.testing.assert_array_equal(labels_again, labels)


def test_one_ellipse_per_group_scores_the_nearest_or_the_given_group():
    rng = np.random.default_rng(2)
    x = _blobs(rng, [(0, 0), (6, 0)])
    groups = np.array(["a"] * 120 + ["b"] * 120)
    det = anomaly.fit_mahalanobis_groups(x, groups)
    assert det.names == ("a", "b")
    q = np.array([[0.0, 0.0], [6.0, 0.0], [3.0, 0.0]])
    a = anomaly.fit_mahalanobis(x[:120]).score(q)
    b = anomaly.fit_mahalanobis(x[120:]).score(q)
    np.testing.assert_allclose(det.distances(q), np.c_[a, b])
    np.testing.assert_allclose(det.score(q), np.minimum(a, b))
    np.testing.assert_allclose(det.score(q, ["b", "a", "a"]), [b[0], a[1], a[2]])
    assert det.nearest(q[:2]).tolist() == ["a", "b"]
    # Halfway between two tight blobs is far from both; one wide ellipse would call it normal.
    assert det.score(q)[2] > 5 and anomaly.fit_mahalanobis(x).score(q)[2] < 2


def test_kmeans_ellipses_drop_clusters_too_small_for_a_covariance():
    rng = np.random.default_rng(3)
    x = np.concatenate([_blobs(rng, [(0, 0), (8, 0)]), rng.normal((0, 40), 0.3, size=(2, 2))])
    det = anomaly.fit_kmeans_mahalanobis(x, 3, seed=0)  # 2 far points form their own cluster
    assert len(det.names) == 2
    _, labels = anomaly.kmeans(x, 3, seed=0)
    assert np.bincount(labels).min() == 2
    means = sorted(tuple(d.mean) for d in det.detectors)
    assert means[0][1] == pytest.approx(80 / 122, abs=0.1)  # (0, 0)'s ellipse took them in


_SMALL_FAN = vibration.dataset(40, 4, seed=1, test_normal_per_speed=27)


@pytest.mark.parametrize("call, error, words", [
    (lambda: anomaly.auc([1, 2], [1, 1]), ValueError, "both classes"),
    (lambda: anomaly.auc([1, 2], [0, 2]), ValueError, "labels must be 0"),
    (lambda: anomaly.auc([1, 2, 3], [0, 1]), ValueError, "equally long"),
    (lambda: anomaly.auc([np.nan, 2], [0, 1]), ValueError, "NaN"),
    (lambda: anomaly.threshold([1, 2], 101), ValueError, "percentile"),
    (lambda: anomaly.fit_mahalanobis(np.zeros((3, 5))), ValueError, "more samples"),
    (lambda: anomaly.fit_mahalanobis(np.eye(20)[:, :2]).score(np.ones((1, 3))), ValueError,
     "expected 2 features"),
    (lambda: anomaly.confusion_matrix([0, 1], [0]), ValueError, "equally long"),
    (lambda: anomaly.reconstruction_error(np.ones((2, 3)), np.ones((2, 2))), ValueError,
     "differ in shape"),
    (lambda: anomaly.precision_recall([0, 0], [1, 0]), ValueError, "no anomaly"),
    (lambda: anomaly.kmeans(np.ones((3, 2)), 4), ValueError, "at least 4 samples"),
    (lambda: anomaly.kmeans(np.ones((3, 2)), 0), ValueError, "k must be positive"),
    (lambda: anomaly.kmeans(np.ones((3, 2)), 2.0), TypeError, "k must be an int"),
    (lambda: anomaly.kmeans(np.ones((3, 2)), 2, seed=-1), ValueError, "seed must be >= 0"),
    (lambda: anomaly.fit_mahalanobis_groups(np.ones((5, 2)), [0, 1]), ValueError,
     "one name per row"),
    (lambda: anomaly.fit_mahalanobis_groups(np.ones((5, 2)), "abcde"), TypeError,
     "groups must be a list"),
    (lambda: anomaly.fit_mahalanobis_groups(np.ones((5, 2)), [0.5] * 5), TypeError,
     "strings or integers"),
    (lambda: anomaly.fit_mahalanobis_groups(np.random.default_rng(0).normal(size=(20, 2)),
                                            [0] * 18 + [1] * 2), ValueError,
     "group 1 has 2 samples"),
    (lambda: anomaly.fit_mahalanobis_groups(np.eye(20)[:, :2] + np.arange(20)[:, None],
                                            ["a"] * 20).score(np.ones((1, 2)), ["z"]),
     ValueError, "unknown groups"),
    (lambda: anomaly.fit_kmeans_mahalanobis(np.ones((2, 3)), 1), ValueError, "more samples"),
    (lambda: anomaly.compare("yes"), TypeError, "fan must be a vibration.FanData"),
    (lambda: anomaly.compare(_SMALL_FAN, clusters=0), ValueError, "clusters must be positive"),
    (lambda: anomaly.compare(_SMALL_FAN, percentile=120), ValueError, "percentile"),
    (lambda: anomaly.train_autoencoder(np.ones((4, 2)), np.ones((4, 2)), restarts=0),
     ValueError, "restarts must be positive"),
    (lambda: anomaly.train_autoencoder(np.ones((4, 2)), np.ones((4, 2)), restarts=101),
     ValueError, "restarts must be at most 100"),
    (lambda: anomaly.pr_curve([0.1, 0.2], [0, 0]), ValueError, "both classes"),
    (lambda: anomaly.average_precision([0.1, np.nan], [0, 1]), ValueError, "NaN"),
    (lambda: anomaly.false_alarm_interval([1.0, 2.0], [1.5], resamples=5), ValueError,
     "resamples must be >= 10"),
    (lambda: anomaly.false_alarm_interval([1.0, 2.0], [1.5], level=0), ValueError, "level"),
    (lambda: anomaly.limits("detectors", _SMALL_FAN), TypeError, "fit_detectors"),
    (lambda: anomaly.evaluate_all("detectors", _SMALL_FAN), TypeError, "fit_detectors"),
])
def test_bad_input_is_refused(call, error, words):
    with pytest.raises(error, match=words):
        call()


def test_compare_scores_every_method_on_one_rare_anomaly_test_set(tf):
    out = anomaly.compare(_SMALL_FAN, seed=1, epochs=2)
    assert tuple(out) == anomaly.METHODS
    for m in out.values():
        assert m.confusion.sum() == 4 * 27 + 3 * 4 and m.confusion[1].sum() == 12
        assert 0 <= m.auc <= 1 and m.recall == m.confusion[1, 1] / 12
        assert m.false_alarms == m.confusion[0, 1] / (4 * 27)
        assert 0 <= m.ap <= 1
    assert out["ellipse per speed"].auc > out["one ellipse"].auc


def _sklearn_average_precision(scores, labels):
    from sklearn.metrics import average_precision_score
    return average_precision_score(labels, scores)


@pytest.mark.parametrize("ties", [False, True])
def test_average_precision_and_pr_curve_equal_scikit_learn(ties):
    from sklearn.metrics import precision_recall_curve
    rng = np.random.default_rng(3)
    labels = np.r_[np.zeros(300, int), np.ones(30, int)]
    scores = rng.normal(size=330) + labels
    if ties:
        scores = np.round(scores, 1)
    assert anomaly.average_precision(scores, labels) == pytest.approx(
        _sklearn_average_precision(scores, labels), abs=1e-12)
    precision, recall, thresholds = anomaly.pr_curve(scores, labels)
    p_ref, r_ref, t_ref = precision_recall_curve(labels, scores)
    # scikit-learn lists thresholds from the lowest up and ends on (precision 1, recall 0)
    assert np.allclose(precision, p_ref[:-1][::-1]) and np.allclose(recall, r_ref[:-1][::-1])
    assert np.array_equal(thresholds, t_ref[::-1])


def test_false_alarm_interval_holds_the_measured_rate_and_narrows_with_data():
    rng = np.random.default_rng(0)
    small = anomaly.false_alarm_interval(rng.normal(size=50), rng.normal(size=50), seed=1)
    big = anomaly.false_alarm_interval(rng.normal(size=2000), rng.normal(size=2000), seed=1)
    assert small[0] <= 0.01 <= small[1] and big[0] <= 0.01 <= big[1]
    assert big[1] - big[0] < (small[1] - small[0]) / 2
    again = anomaly.false_alarm_interval(rng.normal(size=50), rng.normal(size=50), seed=1)
    assert again != small  # other data, other interval; the same data and seed repeat:
    assert anomaly.false_alarm_interval(np.arange(50.0), np.arange(50.0), seed=2) == \
        anomaly.false_alarm_interval(np.arange(50.0), np.arange(50.0), seed=2)


def test_restarts_keep_the_lowest_validation_loss(tf):
    rng = np.random.default_rng(0)
    x_train, x_val = rng.normal(size=(64, 6)), rng.normal(size=(32, 6))
    losses = []
    for r in range(3):
        m, _ = anomaly.train_autoencoder(x_train, x_val, epochs=3, hidden=(4, 2, 4),
                                         seed=5 + anomaly.RESTART_STRIDE * r)
        losses.append(m.evaluate(x_val, x_val, verbose=0))
    model, _ = anomaly.train_autoencoder(x_train, x_val, epochs=3, hidden=(4, 2, 4), seed=5,
                                         restarts=3)
    assert model.evaluate(x_val, x_val, verbose=0) == min(losses)
    assert len(set(losses)) == 3  # three different starts
    assert len(anomaly.dead_units(model, x_train)) == 3


def test_the_simulator_sweeps_coin_size_and_mounts(tf):
    found = anomaly.fit_detectors(_SMALL_FAN, seed=1, epochs=2)
    limit = anomaly.limits(found, _SMALL_FAN)
    sweep = anomaly.severity_recall(found, limit, seed=1, severities=(0.25, 1.0), per_speed=6)
    assert set(sweep) == set(anomaly.METHODS)
    per_speed = sweep["ellipse per speed, speed known"]
    assert len(per_speed) == 2 and per_speed[0] <= per_speed[1]  # a bigger coin: caught more
    mounts = anomaly.unseen_mount(found, limit, 14.0, seed=1, per_speed=6)
    assert all(0 <= fa <= 1 and 0 <= r <= 1 for fa, r in mounts.values())


@pytest.fixture(scope="module")
def int8_autoencoder(fan):
    from tinyml_helpers import vibration
    detector, data = fan
    z_test = (vibration.features(data.x_test) - detector.mean) / detector.std
    return detector.tflite, detector.model, detector.model.quantize(z_test)


def test_autoencoder_has_the_lesson_shape(int8_autoencoder):
    _, layers, codes = int8_autoencoder
    assert [lay.weights.shape for lay in layers.layers] == [(8, 12), (4, 8), (8, 4), (12, 8)]
    assert codes.shape == (48, 12) and codes.dtype == np.int8


@pytest.mark.parametrize("target", ["host", "uno", "m4"])
def test_int8_autoencoder_in_plain_c_equals_tflm(int8_autoencoder, target, tmp_path):
    from tinyml_helpers.deploy import dense, export, firmware, tflm
    if firmware.missing_tools(target):
        pytest.skip(f"{target} tools missing: {firmware.install_hint(target)}")
    tflite, layers, codes = int8_autoencoder
    expected = tflm.run(tflite, codes)
    np.testing.assert_array_equal(dense.int8_reference(layers, codes), expected)
    elf = firmware.build(target, export.plain_c_files(layers, "fan_ae"), codes,
                         build_dir=tmp_path)
    np.testing.assert_array_equal(firmware.run(target, elf).outputs, expected)
