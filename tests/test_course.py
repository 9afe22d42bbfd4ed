"""Every lesson follows the notebook template and is committed executed, badges in sync."""

import configparser
import json
import re

import pytest

from tinyml_helpers.tooling import build, course

LESSONS = course.lessons()


def _cells(path):
    return json.loads(path.read_text(encoding="utf-8"))["cells"]


def _text(cell):
    return "".join(cell["source"])


def test_lessons_are_numbered_in_order():
    numbers = [int(p.name[:2]) for p in LESSONS]
    assert numbers == list(range(1, len(numbers) + 1)), [p.name for p in LESSONS]
    assert len(numbers) >= 2


@pytest.mark.parametrize("path", LESSONS, ids=lambda p: p.name)
def test_notebook_follows_the_template(path):
    cells = _cells(path)
    first = _text(cells[0])
    assert cells[0]["cell_type"] == "markdown" and first.startswith("# ")
    assert course.badge(path.name) in first
    assert "What you'll learn" in first
    code = [c for c in cells if c["cell_type"] == "code"]
    assert _text(code[0]) == course.setup_cell_source(), "first code cell must be the setup cell"
    assert "parameters" in code[1].get("metadata", {}).get("tags", []), "second: parameters"
    headings = [line for c in cells if c["cell_type"] == "markdown"
                for line in _text(c).splitlines() if line.startswith("## ")]
    for needed in ("## Summary", "## Exercises"):
        assert any(h.startswith(needed) for h in headings), f"{path.name} lacks {needed}"
    assert any("assert" in _text(c) for c in code), "a lesson checks its claims"


@pytest.mark.parametrize("path", LESSONS, ids=lambda p: p.name)
def test_notebook_is_committed_executed_without_errors_or_noise(path):
    nb = json.loads(path.read_text(encoding="utf-8"))
    assert "papermill" not in nb["metadata"]
    for cell in nb["cells"]:
        if cell["cell_type"] != "code":
            continue
        assert cell["execution_count"] is not None, f"unexecuted cell: {_text(cell)[:60]}"
        for out in cell["outputs"]:
            assert out["output_type"] != "error", f"error output in {path.name}"
            if out.get("name") == "stderr":
                text = "".join(out["text"])
                assert "Warning" not in text and "WARNING" not in text, text[:200]


# The test and build machinery's words: cell tags and metadata carry these, never the page a
# student reads ("the test set" is the student's word and is allowed).
MACHINERY = re.compile(r"(?i:nbval|papermill|pytest|\bmake (build|test|lab|refresh|colab)\b|"
                       r"\bthe tests\b|\btests? (prove|check)|test suite)|\bCI\b")


@pytest.mark.parametrize("path", LESSONS, ids=lambda p: p.name)
def test_no_test_or_build_machinery_on_the_students_page(path):
    found = [(i, line.strip()) for i, cell in enumerate(_cells(path))
             for line in _text(cell).splitlines() if MACHINERY.search(line)]
    assert found == [], f"{path.name}: cell, line: {found[:5]}"


def test_the_machinery_pattern_finds_what_it_should_and_spares_the_test_set():
    for line in ("# NBVAL_IGNORE_OUTPUT", "# Parameters (papermill can override these)",
                 "run `make build`", "the tests prove each kernel", "CI runs it"):
        assert MACHINERY.search(line), line
    for line in ("the test set", "test MSE", "compare with the noisy test labels",
                 "for ci in codes:"):
        assert not MACHINERY.search(line), line


@pytest.mark.parametrize("path", LESSONS, ids=lambda p: p.name)
def test_saved_widgets_say_what_to_do_not_their_repr(path):
    texts = ["".join(out.get("data", {}).get("text/plain", ""))
             for cell in _cells(path) if cell["cell_type"] == "code"
             for out in cell["outputs"]]
    reprs = [t[:60] for t in texts if re.match(r"(interactive|[VH]?Box)\(children=", t)]
    assert reprs == [], f"{path.name} saves a widget's repr: {reprs}"


def test_nbval_maps_a_fresh_widget_repr_to_the_saved_line():
    cfg = configparser.ConfigParser()
    cfg.read(course.ROOT / "tests" / "nbval_sanitize.cfg")
    rule = cfg["widget repr"]
    fresh = "interactive(children=(FloatSlider(value=0.05, description='lr', max=0.2), …"
    assert re.sub(rule["regex"], rule["replace"], fresh) == build.WIDGET_TEXT


@pytest.mark.parametrize("path", LESSONS, ids=lambda p: p.name)
def test_exercise_check_cells_are_folded(path):
    """A check cell holds the expected answer, so it opens folded: a Colab form title and the
    source hidden in Jupyter; the student sees the title and the checker's feedback."""
    checks = [c for c in _cells(path)
              if c["cell_type"] == "code" and "exercises.check" in _text(c)]
    assert len(checks) >= 3, f"{path.name}: {len(checks)} check cells"
    for cell in checks:
        assert _text(cell).startswith("#@title Check your answer"), _text(cell)[:80]
        assert cell["metadata"].get("cellView") == "form"
        assert cell["metadata"].get("jupyter", {}).get("source_hidden") is True


def test_badges_and_setup_cells_are_in_sync_with_the_repo_address():
    assert course.out_of_sync() == []


def test_readme_has_a_badge_per_lesson_and_the_two_commands():
    readme = (course.ROOT / "README.md").read_text(encoding="utf-8")
    for path in LESSONS:
        assert course.badge(path.name) in readme, path.name
    assert "make build" in readme and "make test" in readme


def test_setup_cell_does_nothing_outside_colab():
    namespace = {}
    # Runs the cell's code as a notebook would; it must not try to pip install here.
    exec(course.setup_cell_source(), namespace)  # noqa: S102
    assert namespace["REPO_URL"] == course.REPO_URL


def test_sync_rewrites_a_stale_badge(tmp_path, monkeypatch):
    src = LESSONS[0]
    copy = tmp_path / "notebooks" / src.name
    copy.parent.mkdir()
    copy.write_text(src.read_text(encoding="utf-8").replace(course.REPO, "someone/old-fork"))
    monkeypatch.setattr(course, "NOTEBOOK_DIR", copy.parent)
    monkeypatch.setattr(course, "ROOT", tmp_path)
    monkeypatch.setattr(course, "lessons", lambda d=copy.parent: [copy])
    assert course.out_of_sync() == [src.name]
    assert course.sync() == [src.name]
    assert course.out_of_sync() == []
    assert "someone/old-fork" not in copy.read_text(encoding="utf-8")


def test_setup_cell_installs_what_the_colab_job_tested():
    """The setup cell's pins are the versions requirements-colab.txt gives the Colab job."""
    lines = (course.ROOT / "requirements-colab.txt").read_text().splitlines()
    tested = {line.split("#")[0].strip() for line in lines} - {""}
    assert set(course.COLAB_PINS) <= tested
    assert "tensorflow==" not in course.setup_cell_source()  # Colab's own TF is kept
