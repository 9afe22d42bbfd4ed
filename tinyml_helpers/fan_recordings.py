"""Lesson 07's real data: Shawn Hymel's ceiling-fan recordings, shipped in ``recordings/``.

An ESP32 with an MSA301 accelerometer taped to a ceiling fan recorded windows of 200 samples x 3
axes at 200 Hz, the fan off / low / medium / high, without and with a coin taped to one blade,
plus a low-speed set where the fan was moved around while recording and a low-speed set for
deployment (``recordings/README.md`` has the source, commit and Beerware notice).

:func:`load` returns every window in g with its labels and its place in its recording.
:func:`split` makes a :class:`vibration.FanData` by **recording order**: in every recording the
earliest windows train, the next ones validate and the latest ones test, so no test window sits
between two training windows of the same recording. :func:`random_split` makes the same sizes
from a shuffled order, to measure what shuffling changes.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import checks, vibration

DATA = Path(__file__).resolve().parent / "recordings" / "hymel_ceiling_fan.npz"
CODES_PER_G = 2048  # the recordings hold int16 codes; g = code / 2048
SHA256 = "49f21dc31badab6d801b74c06ca6cfac096fa2058f6deba0db3aa3f17e7fbbca"
_SPEED_NAMES = {"off": "off", "low": "low", "med": "medium", "high": "high"}
DEPLOY_KEY = "fan_0_low-deploy"
FRACTIONS = (0.5, 0.2, 0.3)  # train, validation, test: of every recording, in recording order


@dataclass(frozen=True)
class Recordings:
    """Every recorded window, in recording order within each recording."""

    windows: np.ndarray  # (n, 200, 3) float32, in g
    speed: np.ndarray  # "off", "low", "medium" or "high"
    coin: np.ndarray  # True: a coin was taped to a blade
    moving: np.ndarray  # True: the fan was moved around while recording
    recording: np.ndarray  # the recording's name (its folder in Hymel's repository)
    order: np.ndarray  # the window's place in its recording: 0, 1, 2, ...

    def __len__(self) -> int:
        return len(self.windows)

    def select(self, keep) -> Recordings:
        """Return the windows where the boolean mask (or index array) ``keep`` selects."""
        return Recordings(*(getattr(self, name)[keep] for name in
                            ("windows", "speed", "coin", "moving", "recording", "order")))

    def names(self) -> list[str]:
        """Return the recordings' names in the order they appear."""
        return list(dict.fromkeys(self.recording.tolist()))


def _labels(key: str) -> tuple[str, bool, bool]:
    """Return (speed, coin, moving) from a recording name such as fan_0_med_1_weight-moving."""
    if key == DEPLOY_KEY:
        return "low", False, False
    parts = key.split("-")[0].split("_")  # fan, 0, speed, coins, weight
    return _SPEED_NAMES[parts[2]], parts[3] != "0", key.endswith("-moving")


def load(deploy: bool = False, path=None) -> Recordings:
    """Return every window of the recordings (the deployment set too if ``deploy``)."""
    deploy = checks.check_bool("deploy", deploy)
    path = DATA if path is None else Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"the fan recordings are missing: {path} (they ship with "
                                "tinyml_helpers; reinstall the package)")
    parts = {name: [] for name in ("windows", "speed", "coin", "moving", "recording", "order")}
    with np.load(path) as data:
        for key in sorted(data.files, key=_sort_key):
            if key == DEPLOY_KEY and not deploy:
                continue
            codes = data[key]
            if codes.dtype != np.int16 or codes.ndim != 3 or codes.shape[1:] != (200, 3):
                raise ValueError(f"{path.name}: {key} must be int16 windows (n, 200, 3), got "
                                 f"{codes.dtype} {codes.shape}")
            speed, coin, moving = _labels(key)
            n = len(codes)
            parts["windows"].append(codes.astype(np.float32) / CODES_PER_G)
            parts["speed"].append(np.full(n, speed))
            parts["coin"].append(np.full(n, coin))
            parts["moving"].append(np.full(n, moving))
            parts["recording"].append(np.full(n, key))
            parts["order"].append(np.arange(n))
    return Recordings(*(np.concatenate(parts[name]) for name in parts))


def _sort_key(key: str) -> tuple:
    speed, coin, moving = _labels(key)
    return (key == DEPLOY_KEY, moving, list(vibration.SPEEDS).index(speed), coin)


def _part_masks(rec: Recordings, order) -> dict[str, np.ndarray]:
    """Mark each window train / val / test by its rank in ``order`` within its recording."""
    masks = {part: np.zeros(len(rec), bool) for part in ("train", "val", "test")}
    for name in rec.names():
        idx = np.flatnonzero(rec.recording == name)
        ranked = idx[order(len(idx), name)]
        n_train = round(FRACTIONS[0] * len(idx))
        n_val = round(FRACTIONS[1] * len(idx))
        masks["train"][ranked[:n_train]] = True
        masks["val"][ranked[n_train:n_train + n_val]] = True
        masks["test"][ranked[n_train + n_val:]] = True
    return masks


def _fan_data(rec: Recordings, masks: dict[str, np.ndarray], moving: bool,
              coins_per_speed: int) -> vibration.FanData:
    normal = ~rec.coin & (moving | ~rec.moving)
    train, val = masks["train"] & normal, masks["val"] & normal
    test_normal = np.flatnonzero(masks["test"] & normal)
    coins = []
    for name in rec.names():
        idx = np.flatnonzero(masks["test"] & rec.coin & (rec.recording == name))
        if len(idx) == 0:
            continue
        if coins_per_speed > len(idx):
            raise ValueError(f"coins_per_speed={coins_per_speed}: the test part of {name} has "
                             f"only {len(idx)} windows")
        # Evenly spaced over the test part, in recording order.
        coins.append(np.sort(idx)[np.linspace(0, len(idx) - 1, coins_per_speed).round()
                                  .astype(int)])
    test = np.r_[np.sort(test_normal), np.concatenate(coins)]
    y = np.r_[np.zeros(len(test_normal), np.int64), np.ones(len(test) - len(test_normal),
                                                            np.int64)]
    return vibration.FanData(rec.windows[train], rec.windows[val], rec.windows[test], y,
                             rec.speed[test], rec.speed[train], rec.speed[val])


def _check_recordings(rec) -> Recordings:
    if not isinstance(rec, Recordings):
        raise TypeError(f"rec must be the Recordings that load() returns, got "
                        f"{type(rec).__name__}")
    return rec


def _check(rec, moving, coins_per_speed) -> tuple[bool, int]:
    _check_recordings(rec)
    return checks.check_bool("moving", moving), checks.check_int("coins_per_speed",
                                                                  coins_per_speed, 1)


def split(rec: Recordings, moving: bool = False, coins_per_speed: int = 26) -> vibration.FanData:
    """Return train / validation / test by recording order (first 50 %, next 20 %, last 30 %
    of every recording).

    Training and validation hold normal windows only (no coin; the moving recording too if
    ``moving``). The test set holds the normal windows of every recording's last 30 %, then
    ``coins_per_speed`` coin windows from the last 30 % of each coin recording, evenly spaced,
    so that coins are rare (26 per speed: about 10 % of the test windows).
    """
    moving, coins_per_speed = _check(rec, moving, coins_per_speed)
    return _fan_data(rec, _part_masks(rec, lambda n, name: np.arange(n)), moving,
                     coins_per_speed)


def random_split(rec: Recordings, seed: int = 0, moving: bool = False,
                 coins_per_speed: int = 26) -> vibration.FanData:
    """Return a split of the same sizes as :func:`split`, but with the windows of every
    recording without the coin shuffled (seeded) before they are cut into train / validation /
    test. The coin windows are those of :func:`split`, so only how the normal windows were
    split differs."""
    moving, coins_per_speed = _check(rec, moving, coins_per_speed)
    seed = checks.check_seed(seed)
    names = rec.names()
    has_coin = set(rec.recording[rec.coin].tolist())

    def shuffled(n, name):
        if name in has_coin:
            return np.arange(n)
        return np.random.default_rng([seed, names.index(name)]).permutation(n)

    return _fan_data(rec, _part_masks(rec, shuffled), moving, coins_per_speed)


def moving_test(rec: Recordings) -> np.ndarray:
    """Return the moving recording's test windows (its last 30 %), all normal."""
    _check_recordings(rec)
    masks = _part_masks(rec, lambda n, name: np.arange(n))
    return rec.windows[masks["test"] & rec.moving]
