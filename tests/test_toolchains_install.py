"""toolchains.install_uno on a fake apt (no network, no root): with Debian's Arduino packages it
installs the sketch route; on a system whose package lists lack them (Colab's Ubuntu may) it
installs avr-gcc and simavr alone and says so in one line; apt-get's own failures still raise."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from tinyml_helpers.deploy import toolchains

# The fakes keep their state in files: which packages the lists offer, which are installed, and
# every apt-get call. dpkg-query and apt-cache answer as the real ones do for a known and an
# unknown name (apt-cache policy prints nothing for a name it does not know).
FAKES = {
    "dpkg-query": """#!/bin/sh
pkg="$3"
if grep -qx "$pkg" "$FAKE_APT/installed"; then printf 'install ok installed'; exit 0; fi
echo "dpkg-query: no packages found matching $pkg" >&2
exit 1
""",
    "apt-cache": """#!/bin/sh
[ "$1" = policy ] || exit 2
pkg="$2"
if grep -qx "$pkg" "$FAKE_APT/available"; then
  printf '%s:\\n  Installed: (none)\\n  Candidate: 1.0-1\\n' "$pkg"
fi
exit 0
""",
    "apt-get": """#!/bin/sh
echo "$*" >> "$FAKE_APT/calls"
[ -e "$FAKE_APT/fail" ] && { echo "E: Failed to fetch (no network)" >&2; exit 100; }
[ "$2" = update ] && exit 0
shift 4  # -q install -y --no-install-recommends
for pkg in "$@"; do
  grep -qx "$pkg" "$FAKE_APT/available" || {
    echo "E: Unable to locate package $pkg" >&2; exit 100; }
done
for pkg in "$@"; do echo "$pkg" >> "$FAKE_APT/installed"; done
""",
}


@pytest.fixture
def apt(tmp_path, monkeypatch):
    """A fake apt on the PATH, run as root; returns (set the lists, read the apt-get calls)."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name, script in FAKES.items():
        path = bin_dir / name
        path.write_text(script)
        path.chmod(path.stat().st_mode | stat.S_IXUSR)
    state = tmp_path / "state"
    state.mkdir()
    monkeypatch.setenv("FAKE_APT", str(state))
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}/usr/bin{os.pathsep}/bin")
    monkeypatch.setattr(toolchains.os, "geteuid", lambda: 0)
    monkeypatch.setattr(toolchains, "_apt_updated", False)

    def lists(available, installed=()):
        (state / "available").write_text("".join(f"{p}\n" for p in available))
        (state / "installed").write_text("".join(f"{p}\n" for p in installed))

    def calls() -> list[str]:
        path: Path = state / "calls"
        return path.read_text().splitlines() if path.exists() else []

    return lists, calls, state


def test_without_the_arduino_packages_it_installs_avr_gcc_and_simavr_alone(apt):
    lists, calls, state = apt
    lists(toolchains.AVR_PACKAGES)  # an Ubuntu without arduino-builder and arduino-core-avr
    message = toolchains.install_uno()
    assert calls() == ["-q update",
                       "-q install -y --no-install-recommends " + " ".join(toolchains.AVR_PACKAGES)]
    assert (state / "installed").read_text().split() == list(toolchains.AVR_PACKAGES)
    assert "\n" not in message
    assert "arduino-core-avr or arduino-builder" in message
    assert "avr-gcc and simavr alone" in message and "instead of building the Arduino sketch" \
        in message


def test_with_the_arduino_packages_it_installs_the_sketch_route(apt):
    lists, calls, _ = apt
    lists(toolchains.UNO_PACKAGES)
    assert toolchains.install_uno() == "toolchain ready: arduino-builder, avr-gcc and simavr"
    assert calls() == ["-q update",
                       "-q install -y --no-install-recommends " + " ".join(toolchains.UNO_PACKAGES)]


def test_only_the_missing_packages_are_installed_and_nothing_when_all_are(apt):
    lists, calls, _ = apt
    lists(toolchains.UNO_PACKAGES, installed=toolchains.UNO_PACKAGES)
    assert toolchains.install_uno().startswith("toolchain ready")
    assert calls() == []
    lists(toolchains.AVR_PACKAGES, installed=("simavr",))
    assert "alone" in toolchains.install_uno()
    assert calls()[-1] == "-q install -y --no-install-recommends gcc-avr avr-libc"


def test_a_failing_apt_get_raises_instead_of_falling_back(apt):
    lists, _, state = apt
    lists(toolchains.UNO_PACKAGES)
    (state / "fail").write_text("")
    with pytest.raises(RuntimeError, match=r"(?s)apt-get update.*failed.*no network"):
        toolchains.install_uno()


def test_not_root_installs_nothing_and_says_how(apt, monkeypatch):
    lists, calls, _ = apt
    lists(toolchains.UNO_PACKAGES)
    monkeypatch.setattr(toolchains.os, "geteuid", lambda: 1000)
    assert toolchains.install_uno() == "not root: install with: sudo " + \
        toolchains.install_command(toolchains.UNO_PACKAGES)
    assert calls() == []


def test_apt_has_reads_the_candidate(apt):
    lists, _, _ = apt
    lists(["simavr"])
    assert toolchains.apt_has("simavr")
    assert not toolchains.apt_has("arduino-builder")
    with pytest.raises(ValueError):
        toolchains.apt_has("not a name")


def test_no_apt_get_says_what_to_install(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))  # nothing on it
    message = toolchains.install_uno()
    assert message.startswith("no apt-get here") and "arduino-builder" in message
