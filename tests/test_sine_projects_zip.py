"""sine_projects.zip_projects: lesson 06's projects as one zip (one download in Colab), the same
bytes for the same projects, written atomically, nothing but the projects inside."""

from __future__ import annotations

import zipfile

import pytest

from tinyml_helpers import sine_projects


def _tree(tmp_path):
    """Fake project folders as generate() lays them out, plus leftovers that are no project."""
    arduino, wokwi = tmp_path / "arduino", tmp_path / "wokwi"
    for root, names in ((arduino, sine_projects.ARDUINO_PROJECTS),
                        (wokwi, sine_projects.WOKWI_PROJECTS)):
        for name in names:
            (root / name / "sub").mkdir(parents=True)
            (root / name / f"{name}.txt").write_text(f"{name}\n")
            (root / name / "sub" / "data.bin").write_bytes(bytes(range(7)))
        (root / "README.md").write_text(f"# {root.name}\n")
    (arduino / "hello_world_plain.zip").write_bytes(b"an older per-project zip")
    (arduino / "fan_anomaly").mkdir()  # another lesson's project: not lesson 06's download
    (arduino / "fan_anomaly" / "fan_anomaly.ino").write_text("void setup() {}\n")
    return arduino, wokwi


def test_one_zip_holds_every_project_and_only_them(tmp_path):
    arduino, wokwi = _tree(tmp_path)
    path = sine_projects.zip_projects(arduino, wokwi, tmp_path / sine_projects.ZIP_NAME)
    assert path == tmp_path / sine_projects.ZIP_NAME
    with zipfile.ZipFile(path) as archive:
        names = archive.namelist()
        assert archive.read("wokwi/uno_hello_world_plain/sub/data.bin") == bytes(range(7))
        assert archive.testzip() is None
    expected = {"arduino/README.md", "wokwi/README.md"}
    for tree, projects in (("arduino", sine_projects.ARDUINO_PROJECTS),
                           ("wokwi", sine_projects.WOKWI_PROJECTS)):
        for name in projects:
            expected |= {f"{tree}/{name}/{name}.txt", f"{tree}/{name}/sub/data.bin"}
    assert sorted(names) == sorted(expected) and len(names) == len(expected)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["arduino", sine_projects.ZIP_NAME,
                                                          "wokwi"]  # no temporary file left


def test_the_same_projects_give_the_same_bytes(tmp_path):
    arduino, wokwi = _tree(tmp_path)
    first = sine_projects.zip_projects(arduino, wokwi, tmp_path / "a.zip").read_bytes()
    second = sine_projects.zip_projects(arduino, wokwi, tmp_path / "b.zip").read_bytes()
    assert first == second


def test_a_missing_project_folder_is_named_and_nothing_is_written(tmp_path):
    arduino, wokwi = _tree(tmp_path)
    for file in (wokwi / "esp32_hello_world_tflm").rglob("*"):
        if file.is_file():
            file.unlink()
    for folder in sorted((wokwi / "esp32_hello_world_tflm").rglob("*"), reverse=True):
        folder.rmdir()
    (wokwi / "esp32_hello_world_tflm").rmdir()
    with pytest.raises(FileNotFoundError, match="esp32_hello_world_tflm"):
        sine_projects.zip_projects(arduino, wokwi, tmp_path / "out.zip")
    assert not (tmp_path / "out.zip").exists()
