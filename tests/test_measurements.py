"""Every stored measurement names the benchmark that writes it, and a missing one says so."""

import json

import pytest

from tinyml_helpers import measurements
from tinyml_helpers.tooling import paths

STORED = sorted(measurements.FOLDER.glob("*.json"))


def test_every_stored_file_has_a_writer_that_exists():
    assert len(STORED) >= 11
    for path in STORED:
        script = measurements.WRITERS[path.name]
        assert (paths.REPO / "benchmarks" / script).is_file(), script
        record = json.loads(path.read_text(encoding="utf-8"))
        if isinstance(record, dict) and "command" in record:  # the run's own command line
            assert f"benchmarks/{script}" in record["command"] and "--write" in record["command"]


def test_a_missing_file_names_its_command_and_an_unknown_name_is_refused(tmp_path):
    with pytest.raises(FileNotFoundError, match="benchmarks/compression_seeds.py --write"):
        measurements.load(tmp_path / measurements.COMPRESSION_SEEDS.name)
    with pytest.raises(FileNotFoundError, match="run my command"):
        measurements.load(tmp_path / "other.json", writer="my command")
    with pytest.raises(FileNotFoundError, match="the benchmark that writes it"):
        measurements.load(tmp_path / "other.json")
    with pytest.raises(ValueError, match="no benchmark is known to write other.json"):
        measurements.command(tmp_path / "other.json")
    assert measurements.command(measurements.TFLM_VS_PLAIN_C) == \
        measurements.TFLM_VS_PLAIN_C_COMMAND


def test_spread_text_prints_mean_min_and_max():
    assert measurements.spread_text([0.9, 0.95, 0.91]) == "0.920 [0.900, 0.950]"
    assert measurements.spread_text([10, 16, 13], 1, 0) == "13.0 [10, 16]"  # counts
    with pytest.raises(ValueError, match="non-empty"):
        measurements.spread_text([])
