"""Arduino sketch folders and Wokwi simulator projects as values, written atomically.

A :class:`Project` is one folder: which tree it belongs to (``arduino/`` or ``wokwi/``), its
files, the facts its README states, and whether it is a Wokwi Uno project whose firmware is
compiled beside it. The lessons build their projects as values (the sine sketches of lesson
06 in :mod:`tinyml_helpers.sine_projects`, the fan detector of lesson 07 in
:mod:`tinyml_helpers.fan_detector`); nothing here knows what a project computes.

The pieces every project shares live here too: :func:`sketch_yaml` (arduino-cli build profiles
with pinned cores), :func:`wokwi_toml`, :func:`libraries_txt`, :func:`led_diagram_json`,
:func:`copied` (hand-written files with a banner naming their origin) and
:func:`wokwi_sketch_project` (a sketch with its C sources, a board, an LED and a README).

:func:`write` replaces each tree as a whole: the new folders are built beside the old ones and
swapped in, so a failure leaves the previous projects untouched.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from . import cgen, toolchains, wokwi
from .cgen import banner
from .files import new_folder_beside, swap_in, write_atomic

TREES = ("arduino", "wokwi")
ESP32_CORE_VERSION = "3.3.7"  # arduino-esp32, ships the "TFLite Micro" library
AVR_CORE_VERSION = "1.8.6"
ESP32_INDEX_URL = "https://espressif.github.io/arduino-esp32/package_esp32_index.json"
WOKWI_BUILD = "build"  # firmware folder inside a Wokwi project, named in its wokwi.toml
# arduino-cli build profiles: (name, notes, FQBN, platform)
UNO_PROFILE = ("uno", "Arduino Uno (ATmega328P, 32 KB flash, 2 KB RAM)", "arduino:avr:uno",
               f"arduino:avr ({AVR_CORE_VERSION})")
ESP32_PROFILE = ("esp32", "ESP32 DevKit (ESP32-WROOM-32), Espressif core 3.x",
                 "esp32:esp32:esp32", f"esp32:esp32 ({ESP32_CORE_VERSION})")
CORE_FACTS = {"ESP32_CORE": ESP32_CORE_VERSION, "AVR_CORE": AVR_CORE_VERSION,
              "ESP32_INDEX_URL": ESP32_INDEX_URL}


@dataclass(frozen=True)
class Project:
    """One project folder: its tree, name, files, the facts it states, and whether its Uno
    firmware is compiled into ``build/`` (a Wokwi Uno project)."""

    tree: str  # "arduino" or "wokwi"
    folder: str
    files: Mapping[str, str | bytes]
    facts: Mapping[str, str] = field(default_factory=dict)
    uno_firmware: bool = False

    def __post_init__(self):
        if self.tree not in TREES:
            raise ValueError(f"tree must be one of {TREES}, got {self.tree!r}")
        cgen.file_name(self.folder, "project folder")
        if not isinstance(self.files, Mapping) or not self.files:
            raise TypeError(f"{self.folder}: files must be a non-empty {{name: content}} mapping")
        for name, content in self.files.items():
            cgen.file_name(name, f"a {self.folder} file name")
            if not isinstance(content, (str, bytes)):
                raise TypeError(f"{self.folder}/{name} must be str or bytes, got "
                                f"{type(content).__name__}")
        if not isinstance(self.facts, Mapping) or not all(
                isinstance(k, str) and isinstance(v, str) for k, v in self.facts.items()):
            raise TypeError(f"{self.folder}: facts must map names to str")
        if not isinstance(self.uno_firmware, bool):
            raise TypeError(f"uno_firmware must be True or False, got {self.uno_firmware!r}")
        if self.uno_firmware and self.tree != "wokwi":
            raise ValueError(f"{self.folder}: only a Wokwi project has firmware compiled "
                             "beside it")
        object.__setattr__(self, "files", dict(self.files))
        object.__setattr__(self, "facts", dict(self.facts))


# --- pieces every project shares --------------------------------------------------------------

def copied(files: Mapping[str, str], origin: str) -> dict[str, str]:
    """Return hand-written files with a banner naming the folder they are copied from."""
    return {name: banner(f"{name} (copied from {origin})") + text for name, text in files.items()}


def readme(template: Path, project: str, **facts: str) -> str:
    """Return a project's README.md from ``template``: the generated-file banner, the project's
    name (``{{PROJECT}}``) and the facts it quotes."""
    return cgen.render(template, BANNER=banner(f"{project}/README.md", "html").rstrip("\n"),
                       PROJECT=project, **facts)


def sketch_yaml(project: str, profiles) -> str:
    """Return an arduino-cli ``sketch.yaml`` with one build profile per (name, notes, FQBN,
    platform) in ``profiles``; the first is the default."""
    lines = [banner(f"{project}/sketch.yaml", "#").rstrip("\n"),
             "# arduino-cli build profiles (reproducible builds with pinned cores):",
             f"#   arduino-cli compile --profile {profiles[0][0]} .", "profiles:"]
    for name, notes, fqbn, platform in profiles:
        lines += [f"  {name}:", f"    notes: {notes}", f"    fqbn: {fqbn}", "    platforms:",
                  f"      - platform: {platform}"]
        if platform.startswith("esp32:"):
            lines.append(f"        platform_index_url: {ESP32_INDEX_URL}")
    lines.append(f"default_profile: {profiles[0][0]}")
    return "\n".join(lines) + "\n"


def wokwi_toml(project: str, firmware: str) -> str:
    """Return the ``wokwi.toml`` of a project whose firmware is ``build/<firmware>``."""
    return (banner(f"{project}/wokwi.toml", "#")
            + "# Wokwi for VS Code: build the firmware first (see README.md), then\n"
              "# F1 -> \"Wokwi: Start Simulator\". Paths are relative to this file.\n"
              f"[wokwi]\nversion = 1\nfirmware = '{WOKWI_BUILD}/{firmware}'\n"
              f"elf = '{WOKWI_BUILD}/sketch.ino.elf'\n")


def libraries_txt(project: str, note: str) -> str:
    """Return a Wokwi ``libraries.txt`` that needs no library, saying why in ``note``."""
    return banner(f"{project}/libraries.txt", "#") + f"# {note}\n"


def led_diagram_json(project: str, board: str, led_pin: str) -> str:
    """Return the checked ``diagram.json`` of a board with an LED (and resistor) on a pin."""
    author = banner(f"{project}/diagram.json", "#")[2:].rstrip("\n")
    return wokwi.dumps(wokwi.led_diagram(board, led_pin, author=author))


def wokwi_sketch_project(project: str, board: str, pin: str, sketch: str,
                         sources: Mapping[str, str], what: str, readme: str,
                         kept: Mapping[str, str | bytes], facts: Mapping[str, str]) -> Project:
    """Return a Wokwi project of a library-free sketch: ``sketch.ino``, its C sources, a board
    (``"esp32"`` or ``"uno"``) with an LED on ``pin``, libraries.txt, wokwi.toml, the README
    and the files it was made from (``kept``). An Uno project gets its firmware compiled."""
    firmware = "sketch.ino.merged.bin" if board == "esp32" else "sketch.ino.hex"
    files = {"sketch.ino": sketch, **sources,
             "diagram.json": led_diagram_json(project, board, pin),
             "libraries.txt": libraries_txt(
                 project, f"No Library Manager library needed: {what} is plain C in this "
                          "folder."),
             "wokwi.toml": wokwi_toml(project, firmware), "README.md": readme, **kept}
    return Project("wokwi", project, files, facts, uno_firmware=board == "uno")


def by_folder(projects: Iterable[Project]) -> dict[str, dict[str, str | bytes]]:
    """Return {folder: files} of ``projects`` (e.g. to write one of them somewhere else)."""
    return {p.folder: dict(p.files) for p in projects}


# --- writing ----------------------------------------------------------------------------------

def _write_tree(root: Path, projects: list[Project], index: str) -> None:
    write_atomic(root / "README.md", index)
    for project in projects:
        (root / project.folder).mkdir()
        for name, content in project.files.items():
            write_atomic(root / project.folder / name, content)


def _compile_uno_firmware(project_dir: Path) -> None:
    """Compile the Uno Wokwi sketch into ``build/sketch.ino.{hex,elf}`` beside its wokwi.toml."""
    with tempfile.TemporaryDirectory(prefix="uno_build_") as tmp:
        elf = toolchains.compile_uno(project_dir, Path(tmp))
        target = project_dir / WOKWI_BUILD
        target.mkdir(exist_ok=True)
        for source in (elf, elf.with_suffix(".hex")):
            shutil.copyfile(source, target / source.name)


def check_roots(roots) -> dict[str, Path]:
    """Return {tree: resolved folder} after checking ``roots`` can be written as whole trees
    (:func:`write` checks them; a caller may check first, before costlier work)."""
    if not isinstance(roots, Mapping) or not roots or not set(roots) <= set(TREES):
        raise TypeError(f"roots must map trees ({', '.join(TREES)}) to folders, got {roots!r}")
    checked = {}
    for tree, value in roots.items():
        if isinstance(value, bool) or not isinstance(value, (str, Path)) or not str(value):
            raise TypeError(f"the {tree} folder must be a path, got {value!r}")
        if Path(value).exists() and not Path(value).is_dir():
            raise ValueError(f"the {tree} folder {value} is a file, not a folder")
        checked[tree] = Path(value).resolve()
    paths = list(checked.values())
    for a in paths:
        for b in paths:
            if a != b and (a in b.parents):
                raise ValueError(f"{b} lies inside {a}: each tree is replaced as a whole")
    if len(set(paths)) != len(paths):
        raise ValueError("each tree needs a folder of its own")
    return checked


def write(projects: Iterable[Project], roots: Mapping[str, str | Path],
          indexes: Mapping[str, str], keep: Iterable[str] = (),
          compile_uno: bool = True) -> list[Path]:
    """(Re)write every tree in ``roots`` ({"arduino": folder, "wokwi": folder}) atomically with
    its ``projects`` and index README (``indexes[tree]``); return the files written.

    Folders named in ``keep`` that are not among the new projects are carried over from the
    old tree unchanged (projects a caller did not regenerate this time). ``compile_uno``
    compiles the Uno firmware of every project that asks for it, when arduino-builder is
    installed.
    """
    projects = list(projects)
    if not all(isinstance(p, Project) for p in projects):
        raise TypeError("projects must be projects.Project values")
    if not isinstance(compile_uno, bool):
        raise TypeError(f"compile_uno must be True or False, got {compile_uno!r}")
    roots = check_roots(roots)
    if set(indexes) != set(roots) or not all(isinstance(v, str) for v in indexes.values()):
        raise ValueError(f"indexes must give one README text per tree: {sorted(roots)}")
    keep = set(keep)
    names = [(p.tree, p.folder) for p in projects]
    if len(set(names)) != len(names):
        raise ValueError("two projects share a folder: "
                         f"{sorted({n for n in names if names.count(n) > 1})}")
    outside = sorted({p.tree for p in projects} - set(roots))
    if outside:
        raise ValueError(f"projects of the {outside} tree(s) have no folder in roots")
    staged: list[tuple[Path, Path]] = []
    try:
        for tree, target in roots.items():
            mine = [p for p in projects if p.tree == tree]
            new = new_folder_beside(target)
            staged.append((new, target))
            _write_tree(new, mine, indexes[tree])
            for folder in sorted(keep - {p.folder for p in mine}):
                if (target / folder).is_dir():
                    shutil.copytree(target / folder, new / folder)
            if compile_uno and toolchains.have("arduino-builder"):
                for project in mine:
                    if project.uno_firmware:
                        _compile_uno_firmware(new / project.folder)
        swap_in(staged)
    finally:
        for new, _ in staged:
            if new.exists():
                shutil.rmtree(new, ignore_errors=True)
    return sorted(p for target in roots.values() for p in target.rglob("*") if p.is_file())
