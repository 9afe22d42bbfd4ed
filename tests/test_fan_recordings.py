"""Hymel's recordings as the package ships them, and the splits lesson 07 builds on them."""

import hashlib

import numpy as np
import pytest

from tinyml_helpers import fan_recordings, vibration

# The windows per recording, as recordings/README.md lists them (Hymel's CSV files).
COUNTS = {"fan_0_off_0_weight": 578, "fan_0_low_0_weight": 585, "fan_0_low_1_weight": 580,
          "fan_0_med_0_weight": 588, "fan_0_med_1_weight": 584, "fan_0_high_0_weight": 589,
          "fan_0_high_1_weight": 585, "fan_0_low_0_weight-moving": 299, "fan_0_low-deploy": 286}


@pytest.fixture(scope="module")
def rec():
    return fan_recordings.load()


def test_the_file_is_the_one_the_readme_describes():
    digest = hashlib.sha256(fan_recordings.DATA.read_bytes()).hexdigest()
    assert digest == fan_recordings.SHA256
    readme = (fan_recordings.DATA.parent / "README.md").read_text(encoding="utf-8")
    assert fan_recordings.SHA256 in readme and "Beerware" in readme and "Shawn Hymel" in readme


def test_every_window_is_loaded_in_g_with_its_labels(rec):
    with np.load(fan_recordings.DATA) as raw:
        assert {k: len(raw[k]) for k in raw.files} == COUNTS
        for name in rec.names():
            codes = raw[name]
            got = rec.windows[rec.recording == name]
            assert np.array_equal(got * fan_recordings.CODES_PER_G, codes)  # exact: powers of 2
            assert np.array_equal(rec.order[rec.recording == name], np.arange(len(codes)))
    assert "fan_0_low-deploy" not in rec.names()
    assert len(fan_recordings.load(deploy=True)) == len(rec) + COUNTS["fan_0_low-deploy"]
    assert set(rec.speed) == set(vibration.SPEEDS)
    med = rec.recording == "fan_0_med_1_weight"
    assert set(rec.speed[med]) == {"medium"} and rec.coin[med].all() and not rec.moving[med].any()
    moving = rec.recording == "fan_0_low_0_weight-moving"
    assert rec.moving[moving].all() and not rec.coin[moving].any()
    assert rec.windows.dtype == np.float32 and rec.windows.shape[1:] == (200, 3)


def _windows(rec, x):
    """The (recording, order) of each window of x, found by its exact samples."""
    index = {w.tobytes(): (r, o) for w, r, o in zip(rec.windows, rec.recording, rec.order,
                                                    strict=True)}
    return [index[w.tobytes()] for w in x]


def test_the_split_follows_recording_order(rec):
    fan = fan_recordings.split(rec)
    parts = {name: _windows(rec, x) for name, x in (("train", fan.x_train), ("val", fan.x_val),
                                                   ("test", fan.x_test))}
    for name, count in COUNTS.items():
        if name == "fan_0_low-deploy":
            continue
        where = {p: [o for r, o in found if r == name] for p, found in parts.items()}
        if "_1_" in name or name.endswith("-moving"):  # coins: test only; moving: left out
            assert not where["train"] and not where["val"]
            if "_1_" in name:
                test_start = round(0.5 * count) + round(0.2 * count)
                assert len(where["test"]) == 26 and min(where["test"]) >= test_start
            else:
                assert not where["test"]
            continue
        # Earlier windows train, the next validate, the last test: nothing interleaved.
        assert max(where["train"]) < min(where["val"]) and max(where["val"]) < min(where["test"])
        assert len(where["train"]) + len(where["val"]) + len(where["test"]) == count
    assert fan.y_test.sum() == 3 * 26 and np.all(fan.y_test[:np.sum(fan.y_test == 0)] == 0)
    assert set(fan.speed_test[fan.y_test == 1]) == {"low", "medium", "high"}
    assert len(fan.speed_train) == len(fan.x_train) and len(fan.speed_val) == len(fan.x_val)


def test_the_moving_recording_joins_every_part_when_asked(rec):
    fixed, moving = fan_recordings.split(rec), fan_recordings.split(rec, moving=True)
    extra = COUNTS["fan_0_low_0_weight-moving"]
    assert len(moving.x_train) + len(moving.x_val) == len(fixed.x_train) + len(fixed.x_val) + \
        round(0.5 * extra) + round(0.2 * extra)
    assert np.sum(moving.y_test == 0) - np.sum(fixed.y_test == 0) == \
        extra - round(0.5 * extra) - round(0.2 * extra)
    assert np.array_equal(moving.x_test[moving.y_test == 1], fixed.x_test[fixed.y_test == 1])
    assert len(fan_recordings.moving_test(rec)) == extra - round(0.5 * extra) - round(0.2 * extra)


def test_a_random_split_keeps_sizes_and_coins_and_shuffles_the_rest(rec):
    order, shuffled = fan_recordings.split(rec), fan_recordings.random_split(rec, seed=3)
    for part in ("x_train", "x_val", "x_test"):
        assert getattr(order, part).shape == getattr(shuffled, part).shape
    assert np.array_equal(order.x_test[order.y_test == 1], shuffled.x_test[shuffled.y_test == 1])
    assert not np.array_equal(order.x_train, shuffled.x_train)
    again = fan_recordings.random_split(rec, seed=3)
    assert np.array_equal(again.x_train, shuffled.x_train)


@pytest.mark.parametrize("call, error, words", [
    (lambda r: fan_recordings.split("recordings"), TypeError, "Recordings that load"),
    (lambda r: fan_recordings.split(r, coins_per_speed=0), ValueError, "coins_per_speed"),
    (lambda r: fan_recordings.split(r, coins_per_speed=1000), ValueError, "has only"),
    (lambda r: fan_recordings.split(r, moving="yes"), TypeError, "moving"),
    (lambda r: fan_recordings.random_split(r, seed=-1), ValueError, "seed"),
    (lambda r: fan_recordings.moving_test(None), TypeError, "Recordings that load"),
    (lambda r: fan_recordings.load(path="/nonexistent/fan.npz"), FileNotFoundError,
     "recordings are missing"),
    (lambda r: fan_recordings.load(deploy=1), TypeError, "deploy"),
])
def test_bad_input_is_refused_by_name(rec, call, error, words):
    with pytest.raises(error, match=words):
        call(rec)
