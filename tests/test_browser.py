"""Every lesson in a real browser, as a student runs it on their own computer.

JupyterLab (the command ``make lab`` runs) serves a copy of notebooks/ with the outputs cleared,
on 127.0.0.1 with a token; Playwright drives Debian's headless Chromium. Each lesson is opened,
run with Run All and read back from the rendered page: no error or warning block, every widget
drawn as a control (not as ``interactive(...)`` text), nothing a reader would stumble on (float
noise such as ``0.04999999999999999`` in a figure title or a printed line, a function's return
value printed under a widget, a cut-off slider label, a progress bar left at 0 %). Then the
first slider is dragged with the mouse and the output under it must change. Screenshots of the
slider's cell before and after, and of any failure, go to build/browser/.

Two lessons run at a time, each in its own page and kernel (a lesson keeps about one core
busy). The server is stopped at the end by its process id, and shuts its kernels down.

Figures are drawn as SVG with their text kept as text (IPython's inline backend, configured for
this run only) so the titles can be read from the page; the students' PNG figures carry the
same text. A lesson without a slider (a lesson may have none) is only run and read.

Skips with one line when Playwright, JupyterLab or Chromium is missing.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tinyml_helpers.tooling import course

try:
    from playwright.sync_api import TimeoutError as PlaywrightTimeout
    from playwright.sync_api import sync_playwright
except ModuleNotFoundError:  # the tests skip, saying what to install
    PlaywrightTimeout = sync_playwright = None

SHOTS = course.ROOT / "build" / "browser"
CHROMIUM = Path("/usr/bin/chromium")  # Debian's package, installed by `make toolchains`
VIEWPORT = {"width": 1400, "height": 1000}
SERVER_START_S = 90  # JupyterLab answers in ~3 s; generous for a loaded CI machine
KERNEL_READY_S = 120
LESSON_RUN_S = 900  # a lesson runs in < 60 s on 2 cores; only a hang gets near this
SLIDER_REDRAW_S = 120
WIDGETS_DRAWN_S = 60
SETTLE_S = 1.5  # the output must stay the same this long to count as redrawn
# What JupyterLab reads for this run only, instead of the user's own settings: every cell kept
# in the page (so hidden ones are measured too), no news or update pop-up over the notebook.
LAB_SETTINGS = {
    "@jupyterlab/notebook-extension/tracker": {"windowingMode": "none"},
    "@jupyterlab/apputils-extension/notification": {"fetchNews": "false",
                                                    "checkForUpdates": False},
}
# IPython in the kernels of this run: figures as SVG whose text stays <text> (readable).
KERNEL_CONFIG = ('c.InlineBackend.figure_formats = {"svg"}\n'
                 'c.InlineBackend.rc = {"svg.fonttype": "none"}\n')


def _missing() -> str | None:
    """Return one line naming what to install for this test, or None if all is there."""
    if sync_playwright is None:
        return "Playwright's Python package is missing: pip install -r requirements.txt"
    try:
        import jupyterlab  # noqa: F401
    except ModuleNotFoundError:
        return "JupyterLab is missing: pip install -r requirements.txt"
    if _chromium() is None:
        return "Chromium is missing: `make toolchains` as root, or apt-get install chromium"
    return None


def _chromium() -> Path | None:
    """Return Debian's Chromium (or another `chromium` on the PATH), or None."""
    if CHROMIUM.is_file() and os.access(CHROMIUM, os.X_OK):
        return CHROMIUM
    found = shutil.which("chromium")
    return Path(found) if found else None


def _lab_command(root: Path, port: int, token: str) -> list[str]:
    """Return the command that starts this Python's JupyterLab on ``root``, as `make lab` does
    (with --allow-root as root), but on 127.0.0.1:``port`` with ``token`` and no browser."""
    command = [sys.executable, "-m", "jupyterlab", f"--ServerApp.root_dir={root}",
               "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={port}",
               "--ServerApp.port_retries=0", f"--IdentityProvider.token={token}",
               "--no-browser"]
    return command + (["--allow-root"] if os.geteuid() == 0 else [])


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _without_outputs(source: Path, target: Path) -> None:
    """Copy a notebook with every output and execution count cleared (so only this run's
    outputs are on the page)."""
    nb = json.loads(source.read_text(encoding="utf-8"))
    for cell in nb["cells"]:
        if cell["cell_type"] == "code":
            cell["outputs"], cell["execution_count"] = [], None
    target.write_text(json.dumps(nb, indent=1, ensure_ascii=False), encoding="utf-8")


class Lab:
    """A JupyterLab server started for this test, reached at ``url`` with ``token``."""

    def __init__(self, root: Path, home: Path):
        self.root, self.token, self.port = root, secrets.token_hex(16), _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = {k: v for k, v in os.environ.items() if k != "MPLBACKEND"}
        dirs = {name: home / name for name in ("config", "data", "runtime", "settings",
                                                "workspaces", "ipython")}
        for folder in dirs.values():
            folder.mkdir(parents=True)
        env.update(JUPYTER_CONFIG_DIR=str(dirs["config"]), JUPYTER_DATA_DIR=str(dirs["data"]),
                   JUPYTER_RUNTIME_DIR=str(dirs["runtime"]),
                   JUPYTERLAB_SETTINGS_DIR=str(dirs["settings"]),
                   JUPYTERLAB_WORKSPACES_DIR=str(dirs["workspaces"]),
                   IPYTHONDIR=str(dirs["ipython"]))
        for plugin, values in LAB_SETTINGS.items():
            path = dirs["settings"] / f"{plugin}.jupyterlab-settings"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(values))
        profile = dirs["ipython"] / "profile_default"
        profile.mkdir()
        (profile / "ipython_kernel_config.py").write_text(KERNEL_CONFIG)
        # window.jupyterapp: the test runs the menu's commands and reads the notebook's model
        command = _lab_command(root, self.port, self.token) + [
            "--LabApp.expose_app_in_browser=True", "--LabApp.news_url=None"]
        self.log = home / "server.log"
        with open(self.log, "wb") as log:
            self.process = subprocess.Popen(command, cwd=root, env=env, stdout=log,
                                            stderr=subprocess.STDOUT)
        self._wait_until_up()

    def api(self, path: str, method: str = "GET"):
        """Return the decoded JSON answer of the server's REST API at ``path``."""
        request = urllib.request.Request(f"{self.url}{path}", method=method,
                                         headers={"Authorization": f"token {self.token}"})
        with urllib.request.urlopen(request, timeout=30) as answer:
            body = answer.read()
        return json.loads(body) if body else None

    def _wait_until_up(self) -> None:
        deadline = time.monotonic() + SERVER_START_S
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"JupyterLab exited with {self.process.returncode}:\n"
                                   + self.log.read_text(errors="replace")[-3000:])
            try:
                self.api("/api/status")
                return
            except (urllib.error.URLError, ConnectionError):
                time.sleep(0.3)
        self.stop()
        raise RuntimeError(f"JupyterLab did not answer within {SERVER_START_S} s:\n"
                           + self.log.read_text(errors="replace")[-3000:])

    def shut_down(self, path: str) -> None:
        """Shut down the kernel of the notebook at ``path`` (relative to the served folder)."""
        for session in self.api("/api/sessions"):
            if session["path"] == path:
                self.api(f"/api/sessions/{session['id']}", method="DELETE")

    def stop(self) -> None:
        """Stop the server by its own process id (it shuts down its kernels first)."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=30)


@pytest.fixture(scope="module")
def lab_server(tmp_path_factory):
    """JupyterLab serving a copy of the lessons without outputs (the committed notebooks are
    never opened)."""
    reason = _missing()
    if reason:
        pytest.skip(reason)
    root = tmp_path_factory.mktemp("lessons")
    for path in course.lessons():
        _without_outputs(path, root / path.name)
    for attempt in range(3):  # the free port can be taken between asking and binding
        try:
            server = Lab(root, tmp_path_factory.mktemp("lab-home"))
            break
        except RuntimeError:
            if attempt == 2:
                raise
    yield server
    server.stop()
    assert server.process.returncode is not None


@pytest.fixture(scope="module")
def browser(lab_server):
    """Headless Chromium from Debian's package, driven by Playwright."""
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(_chromium()))
        yield chromium
        chromium.close()


# --- reading the page ------------------------------------------------------------------------

_PANEL = """name => window.jupyterapp && Array.from(window.jupyterapp.shell.widgets('main'))
    .find(w => w.context && w.context.path === name && w.sessionContext)"""

# The kernel's state and, from the notebook's model, every code cell not run and every error.
_STATE = f"""name => {{
  const panel = ({_PANEL})(name);
  if (!panel) return {{status: 'no notebook'}};
  const cells = panel.content.model.cells, unrun = [], errors = [];
  for (let i = 0; i < cells.length; i++) {{
    const cell = cells.get(i);
    if (cell.type !== 'code') continue;
    if (cell.executionCount === null && cell.sharedModel.source.trim()) unrun.push(i);
    for (const out of cell.outputs.toJSON())
      if (out.output_type === 'error') errors.push(`cell ${{i}}: ${{out.ename}}: ${{out.evalue}}`);
  }}
  const kernel = panel.sessionContext.session && panel.sessionContext.session.kernel;
  return {{status: kernel ? kernel.status : 'no kernel', unrun, errors,
           ran: window.__runAll || null}};
}}"""

# Run All as the menu does; when it ends, whether it ran every cell and how long it took.
_RUN_ALL = """() => {
  window.__runAll = null;
  const start = performance.now(), took = () => (performance.now() - start) / 1000;
  window.jupyterapp.commands.execute('notebook:run-all-cells').then(
    ok => { window.__runAll = {ok: ok, seconds: took()}; },
    e => { window.__runAll = {error: String(e), seconds: took()}; });
}"""

# Everything a reader would notice, as [kind, detail] pairs.
_FINDINGS = r"""() => {
  const found = [], seen = new Set();
  const add = (kind, text) => {
    const detail = text.replace(/\s+/g, ' ').trim().slice(0, 160);
    if (!seen.has(kind + detail)) { seen.add(kind + detail); found.push([kind, detail]); }
  };
  const noise = /\d\.\d{12,}|\d\.\d*?(?:0{6,}[1-9]|9{6,}\d)/;
  const texts = [];
  for (const el of document.querySelectorAll('.jp-OutputArea-output')) {
    const mime = el.getAttribute('data-mime-type') || '';
    if (mime === 'application/vnd.jupyter.stderr') {
      const text = el.innerText;
      add(/Traceback|^\w*(Error|Exception)\b/m.test(text) ? 'error output' : 'warning block',
          text);
    }
    if (el.closest('.widget-output') && mime === 'text/plain')
      add('return value under a widget', el.innerText);
    if (mime.startsWith('text/') || mime.includes('stdout') || mime.includes('markdown'))
      texts.push(el.innerText);
    for (const img of el.querySelectorAll('img[src^="data:image/svg+xml"]')) {
      const svg = decodeURIComponent(img.src.slice(img.src.indexOf(',') + 1));
      const doc = new DOMParser().parseFromString(svg, 'image/svg+xml');
      for (const t of doc.querySelectorAll('text')) texts.push(t.textContent);
    }
  }
  for (const el of document.querySelectorAll('.jp-MarkdownOutput, .widget-readout'))
    texts.push(el.innerText);
  for (const text of texts) {
    for (const line of text.split('\n')) {
      if (noise.test(line)) add('float noise', line);
      if (/Error displaying widget|interactive\(children=|Loading widget\.\.\./.test(line))
        add('widget not drawn', line);
      if (/\|[·\s]*\|\s*0\/\d+\b|\b0%\|/.test(line)) add('progress bar at 0 %', line);
    }
  }
  for (const el of document.querySelectorAll('.jupyter-widgets .widget-label, .widget-readout')) {
    if (el.offsetParent !== null && el.scrollWidth > el.clientWidth + 1)
      add('cut-off label', `"${el.textContent}" needs ${el.scrollWidth}px, has ${el.clientWidth}`);
  }
  for (const bar of document.querySelectorAll('.jupyter-widgets .progress .progress-bar')) {
    const size = bar.closest('.widget-vprogress') ? bar.style.height : bar.style.width;
    if (parseFloat(size || '0') === 0) add('progress bar at 0 %', 'a widget bar');
  }
  return found;
}"""

_WIDGETS_DRAWN = """() => [...document.querySelectorAll(
    '.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.widget-view+json"]')]
    .every(el => el.querySelector('.jupyter-widgets') || /Error/.test(el.innerText))"""

# The first slider in the outputs, the region its figure is drawn in (the interact's output,
# or else the slider cell's outputs) and what that region shows now.
_SLIDER = r"""() => {
  const slider = document.querySelector('.jp-OutputArea-output .widget-slider');
  if (!slider) return null;
  slider.setAttribute('data-test-slider', '1');
  const cell = slider.closest('.jp-Cell');
  const interact = slider.closest('.widget-interact');
  const region = (interact && interact.querySelector('.widget-output')) ||
                 cell.querySelector('.jp-Cell-outputArea');
  const images = [...region.querySelectorAll('img')].map(img => img.src);
  const readout = slider.querySelector('.widget-readout');
  return {label: slider.querySelector('.widget-label').textContent,
          readout: readout ? readout.innerText : '',
          images, text: region.innerText,
          manual: !!(interact && interact.querySelector('button'))};
}"""


class LessonFailed(AssertionError):
    """A notebook could not be run or read in the browser (the message says where)."""


def _state(page, name: str, what: str) -> dict:
    """Return the notebook's state (see _STATE); raise LessonFailed if its kernel died."""
    state = page.evaluate(_STATE, name)
    if state["status"] in ("dead", "autorestarting", "restarting"):
        raise LessonFailed(f"the kernel died ({state['status']}) while {what}")
    return state


def _drag(page, handle, fraction: float) -> None:
    """Drag the slider ``handle`` by ``fraction`` of its track, with the mouse."""
    track = handle.locator("xpath=ancestor::div[contains(@class,'noUi-base')]").bounding_box()
    box = handle.bounding_box()
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    room_right = track["x"] + track["width"] - x
    dx = fraction * track["width"] * (1 if room_right > track["width"] / 2 else -1)
    page.mouse.move(x, y)
    page.mouse.down()
    page.mouse.move(x + dx, y, steps=4)
    page.mouse.up()


class _Lesson:
    """One notebook in its own browser page: opened, run with Run All, read, closed.

    ``failure`` is None or says what went wrong; ``findings`` lists what a reader would
    notice, as [kind, detail]; ``report`` says how long it ran and what the slider did.
    """

    def __init__(self, browser, server: Lab, name: str):
        self.server, self.name, self.stem = server, name, Path(name).stem
        self.failure = self.report = None
        self.findings, self.console_errors = [], []
        self.context = browser.new_context(viewport=VIEWPORT)
        self.context.set_default_timeout(KERNEL_READY_S * 1000)  # a loaded machine is slow
        self.page = self.context.new_page()
        self.page.on("console", self._console)
        self.started = 0.0

    def _console(self, message) -> None:
        if message.type == "error" and re.search(r"comm|widget", message.text, re.IGNORECASE):
            self.console_errors.append(message.text)

    def attempt(self, step):
        """Return what ``step()`` returns; if it raises, record the failure (with a screenshot),
        close the page and return None."""
        try:
            return step()
        except Exception as exc:  # a lesson's failure must not stop the other lessons
            self.failure = f"{type(exc).__name__}: {exc}"
            with contextlib.suppress(Exception):  # best effort: the page may have crashed
                self.page.screenshot(path=SHOTS / f"{self.stem}-failed.png")
            self.close()
            return None

    def start(self) -> bool:
        """Open the notebook, wait for its kernel and press Run All; return True."""
        self.page.goto(f"{self.server.url}/lab/workspaces/{self.stem}/tree/{self.name}"
                       f"?token={self.server.token}")
        self.page.wait_for_function(f"() => ({_PANEL})({json.dumps(self.name)})",
                                    timeout=KERNEL_READY_S * 1000)
        deadline = time.monotonic() + KERNEL_READY_S
        while _state(self.page, self.name, "starting")["status"] != "idle":
            if time.monotonic() > deadline:
                raise LessonFailed(f"the kernel was not ready after {KERNEL_READY_S} s")
            time.sleep(0.5)
        self.started = time.monotonic()
        self.page.evaluate(_RUN_ALL)
        return True

    def ran(self) -> bool:
        """Return True once Run All has finished and the kernel is idle."""
        state = _state(self.page, self.name, "running all cells")
        if state["ran"] and state["status"] == "idle":
            return True
        if time.monotonic() - self.started > LESSON_RUN_S:
            raise LessonFailed(f"Run All not done after {LESSON_RUN_S} s")
        return False

    def read(self) -> bool:
        """Check the run, read the page, drag the first slider, read the page again; return
        True."""
        state = _state(self.page, self.name, "reading the outputs")
        if state["errors"]:
            raise LessonFailed(f"error outputs: {state['errors']}")
        if not state["ran"].get("ok") or state["unrun"]:
            raise LessonFailed(f"Run All stopped ({state['ran']}); cells not run: "
                               f"{state['unrun']}")
        # Widgets are drawn after the kernel answers: wait until no view is still loading.
        try:
            self.page.wait_for_function(_WIDGETS_DRAWN, timeout=WIDGETS_DRAWN_S * 1000)
        except PlaywrightTimeout:
            self.findings.append(["widget not drawn", f"still loading after {WIDGETS_DRAWN_S} s"])
        self.findings += self.page.evaluate(_FINDINGS)
        self.report = f"Run All {state['ran']['seconds']:.1f} s; "
        if self.page.evaluate(_SLIDER):
            started = time.monotonic()
            moved = self._move_slider()
            self.report += f"slider {moved} in {time.monotonic() - started:.1f} s"
        else:
            self.report += "no slider"
        self.findings += [f for f in self.page.evaluate(_FINDINGS) if f not in self.findings]
        self.findings += [["widget error in the console", text] for text in self.console_errors]
        if self.findings:
            self.page.screenshot(path=SHOTS / f"{self.stem}-findings.png")
        return True

    def _move_slider(self) -> str:
        """Drag the first slider and wait until the output under it has changed and settled;
        return what changed."""
        before = self.page.evaluate(_SLIDER)
        slider = self.page.locator("[data-test-slider]")
        cell = slider.locator(
            "xpath=ancestor::div[contains(concat(' ', @class, ' '), ' jp-Cell ')]")
        cell.scroll_into_view_if_needed()
        cell.screenshot(path=SHOTS / f"{self.stem}-slider-before.png")
        _drag(self.page, slider.locator(".noUi-handle"), 0.3)
        if before["manual"]:  # interact_manual: the figure is redrawn on the button
            slider.locator("xpath=ancestor::div[contains(@class,'widget-interact')][1]") \
                .locator("button").first.click()
        what = "figure" if before["images"] else "output"
        deadline, last, stable_since = time.monotonic() + SLIDER_REDRAW_S, None, None
        while True:
            now = self.page.evaluate(_SLIDER)
            idle = _state(self.page, self.name, "redrawing")["status"] == "idle"
            changed = now["images"] != before["images"] if before["images"] \
                else now["text"] != before["text"]
            if changed and idle and now == last:
                if stable_since and time.monotonic() - stable_since >= SETTLE_S:
                    break
                stable_since = stable_since or time.monotonic()
            else:
                stable_since = None
            last = now
            if time.monotonic() > deadline:
                cell.screenshot(path=SHOTS / f"{self.stem}-slider-failed.png")
                raise LessonFailed(f"dragged slider {before['label']!r} from "
                                   f"{before['readout']} to {now['readout']}, but the {what} "
                                   f"under it did not change within {SLIDER_REDRAW_S} s")
            time.sleep(0.25)
        cell.screenshot(path=SHOTS / f"{self.stem}-slider-after.png")
        if now["readout"] == before["readout"]:
            raise LessonFailed(f"the slider {before['label']!r} did not move")
        return f"{before['label']} {before['readout']} -> {now['readout']}: {what} redrawn"

    def close(self) -> None:
        """Close the page and shut down the notebook's kernel (once)."""
        if not self.page.is_closed():
            self.context.close()
            self.server.shut_down(self.name)


def _run_notebooks(browser, server: Lab, names: list[str], at_once: int = 2) -> dict:
    """Run the notebooks ``names`` in the browser, ``at_once`` at a time; return
    {name: _Lesson}.

    A lesson keeps about one core busy (Python between small TensorFlow calls), so two at a
    time use the 2 cores of CI: every lesson took 153 s here instead of 270 s one after the
    other; three at a time gained nothing more.
    """
    SHOTS.mkdir(parents=True, exist_ok=True)
    waiting, running, done = list(names), [], {}
    while waiting or running:
        while waiting and len(running) < at_once:
            name = waiting.pop(0)
            lesson = done[name] = _Lesson(browser, server, name)
            if lesson.attempt(lesson.start):
                running.append(lesson)
        for lesson in list(running):
            finished = lesson.attempt(lesson.ran)
            if finished is False:
                continue
            running.remove(lesson)
            if finished and lesson.attempt(lesson.read):
                lesson.close()
        time.sleep(0.5 if running else 0)
    return done


@pytest.fixture(scope="module")
def lessons_in_browser(browser, lab_server):
    """Every lesson run in the browser, two at a time: {file name: _Lesson}."""
    started = time.monotonic()
    done = _run_notebooks(browser, lab_server, [path.name for path in course.lessons()])
    print(f"every lesson in the browser: {time.monotonic() - started:.0f} s")
    return done


@pytest.mark.parametrize("path", course.lessons(), ids=lambda p: p.stem)
def test_lesson_runs_in_the_browser(lessons_in_browser, path):
    lesson = lessons_in_browser[path.name]
    assert lesson.failure is None, f"{path.name}: {lesson.failure}"
    assert lesson.findings == [], f"{path.name}: " + "; ".join(
        f"{kind}: {detail}" for kind, detail in lesson.findings)
    print(f"{path.name}: {lesson.report}")


# A notebook that shows each thing the lesson test must catch, run through the same steps.
_BAD_CELLS = [
    "import warnings\n\nimport ipywidgets as widgets\nimport matplotlib.pyplot as plt\n"
    "from tqdm.notebook import tqdm\n\n"
    "from tinyml_helpers import models",
    "def show(learning_rate=0.1):\n"
    "    plt.figure(figsize=(3, 2))\n"
    "    plt.title(f'lr = {learning_rate + 0.2}')\n"
    "    plt.plot([0, 1], [0, learning_rate])\n"
    "    plt.show()\n"
    "    return learning_rate + 0.2\n\n\n"
    "widgets.interact(show, learning_rate=widgets.FloatSlider(value=0.1, min=0, max=1,\n"
    "                 step=0.05, description='learning_rate_of_the_optimizer'));",
    "warnings.warn('this API is deprecated')",
    "bar = tqdm(total=10)",
    "progress = models._TextProgress(150, 'training')",
    "print(repr(widgets.interactive(lambda x=1: None, x=1)))  # as shown without a manager",
    "1 / 0",
]


def test_page_checks_catch_what_a_reader_notices(browser, lab_server):
    """Each check fires on a page that shows its problem (a check that cannot fail is none)."""
    nb = {"cells": [{"cell_type": "code", "execution_count": None, "metadata": {},
                     "outputs": [], "source": source} for source in _BAD_CELLS],
          "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3",
                                      "language": "python"}},
          "nbformat": 4, "nbformat_minor": 5}
    (lab_server.root / "zz_error.ipynb").write_text(json.dumps(nb))
    # Without the error cell Run All completes, and every other check must fire.
    nb["cells"] = nb["cells"][:-1]
    (lab_server.root / "zz_reader.ipynb").write_text(json.dumps(nb))
    done = _run_notebooks(browser, lab_server, ["zz_error.ipynb", "zz_reader.ipynb"])
    failure = done["zz_error.ipynb"].failure
    assert failure and "error outputs: ['cell 6: ZeroDivisionError" in failure, failure
    reader = done["zz_reader.ipynb"]
    assert reader.failure is None, reader.failure
    kinds = {kind for kind, _ in reader.findings}
    assert kinds == {"float noise", "return value under a widget", "warning block",
                     "cut-off label", "progress bar at 0 %", "widget not drawn"}, reader.findings
    details = " | ".join(detail for _, detail in reader.findings)
    assert "0.30000000000000004" in details and "learning_rate_of_the_optimizer" in details
    assert "a widget bar" in details and "0/150 epochs" in details, reader.findings
    assert "figure redrawn" in reader.report, reader.report


def test_make_lab_starts_jupyterlab_from_the_venv_on_the_lessons():
    """`make lab` (printed, not run): the .venv's JupyterLab, on notebooks/, with --allow-root
    exactly when this runs as root."""
    if shutil.which("make") is None:
        pytest.skip("make is missing: apt-get install make")
    env = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL")}
    shown = subprocess.run(["make", "-n", "lab"], cwd=course.ROOT, capture_output=True,
                           text=True, check=True, env=env).stdout.splitlines()
    lab_line = [line for line in shown if " lab " in f"{line} "]
    assert lab_line and lab_line[-1].startswith(".venv/bin/jupyter lab "), shown
    assert "--ServerApp.root_dir=notebooks" in lab_line[-1]
    assert ("--allow-root" in lab_line[-1]) == (os.geteuid() == 0)
