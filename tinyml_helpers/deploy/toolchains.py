"""Offline microcontroller toolchains from Debian/Ubuntu packages: install them, compile a
sketch for the Arduino Uno with ``arduino-builder``, read flash and RAM sizes with ``avr-size``,
run the result in ``simavr`` and read what it printed.

Everything here runs without an account or network access beyond the distribution's package
mirror. The package names are Debian's (bookworm); Colab runs Ubuntu, where the AVR compiler and
simavr exist under the same names but the Arduino packages may not: :func:`install_uno` then
installs the AVR tools alone, which run the generated C in the course's test program
(:mod:`~tinyml_helpers.deploy.firmware`) without building the sketch.

CLI:
  ``python -m tinyml_helpers.deploy.toolchains install``   install the packages (root + apt only)
  ``python -m tinyml_helpers.deploy.toolchains compile-uno SKETCH_DIR BUILD_DIR [NAME=VALUE...]``
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

# Every Debian/Ubuntu package name the course uses is spelled here, once; boards.py takes each
# board's list from these groups.
AVR_PACKAGES = ("gcc-avr", "avr-libc", "simavr")  # plain C on the Uno, run by simavr
# What an Arduino sketch needs to build for the Uno and run on simavr (lesson 06 installs these
# in Colab). The Arduino two are Debian's; an Ubuntu release may not have them.
ARDUINO_PACKAGES = ("arduino-core-avr", "arduino-builder")
UNO_PACKAGES = (*AVR_PACKAGES, *ARDUINO_PACKAGES)
M4_PACKAGES = ("gcc-arm-none-eabi", "libnewlib-arm-none-eabi", "qemu-system-arm")
# C++ on the Cortex-M4F (TFLM built from source) also needs the C++ headers for arm-none-eabi.
M4_CXX_PACKAGES = (*M4_PACKAGES, "libstdc++-arm-none-eabi-dev")
# This PC's own compilers: assumed present (build-essential), so not in DEBIAN_PACKAGES.
HOST_PACKAGES = ("gcc", "binutils")
HOST_CXX_PACKAGES = ("g++", "binutils")
DEBIAN_PACKAGES = (
    *UNO_PACKAGES, "libsimavr-dev", *M4_CXX_PACKAGES,
    "qemu-user",  # runs the course's Python on an emulated older x86-64 CPU (portability test)
)
UNO_FQBN = "arduino:avr:uno"
UNO_FLASH_BYTES = 32_256  # 32 KB minus the 512-byte bootloader, as the Arduino IDE reports
UNO_RAM_BYTES = 2_048
# Debian's AVR core with gcc-avr 5.4 needs DECIMAL_DIG defined for <cmath>.
_UNO_CPP_FLAGS = "-DDECIMAL_DIG=__DECIMAL_DIG__"
_apt_updated = False


def have(tool: str) -> bool:
    """Return True if the executable ``tool`` is on the PATH."""
    if not isinstance(tool, str) or not tool:
        raise ValueError(f"tool must be a non-empty executable name, got {tool!r}")
    return shutil.which(tool) is not None


_PACKAGE = re.compile(r"[a-z0-9][a-z0-9+.-]+")  # Debian package name rules


def _check_packages(packages) -> tuple[str, ...]:
    if isinstance(packages, (str, bytes)) or not isinstance(packages, (list, tuple)):
        raise TypeError(f"packages must be a list or tuple of package names, got {packages!r}")
    packages = tuple(packages)
    if not packages or not all(isinstance(p, str) and _PACKAGE.fullmatch(p) for p in packages):
        raise ValueError(f"packages must be non-empty package names, got {packages!r}")
    return packages


def install_command(packages=DEBIAN_PACKAGES) -> str:
    """Return the shell command that installs ``packages`` by hand."""
    return "apt-get install -y --no-install-recommends " + " ".join(_check_packages(packages))


def _installed(package: str) -> bool:
    probe = subprocess.run(["dpkg-query", "-W", "-f=${Status}", package],
                           check=False, capture_output=True, text=True)
    return probe.returncode == 0 and probe.stdout.strip() == "install ok installed"


def _apt(args: list[str]) -> None:
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    run = subprocess.run(["apt-get", "-q", *args], check=False, capture_output=True,
                         text=True, env=env)
    if run.returncode != 0:
        tail = "\n".join((run.stdout + run.stderr).strip().splitlines()[-15:])
        raise RuntimeError(f"`apt-get {' '.join(args)}` failed (exit {run.returncode}):\n{tail}")


def _apt_update_once() -> None:
    global _apt_updated
    if not _apt_updated:
        _apt(["update"])
        _apt_updated = True


def apt_has(package: str) -> bool:
    """Return True if apt's package lists offer a version of ``package`` (``apt-cache policy``
    names a candidate); False for a name this distribution does not have."""
    (package,) = _check_packages([package])
    probe = subprocess.run(["apt-cache", "policy", package], check=False, capture_output=True,
                           text=True)
    candidates = [line.split(":", 1)[1].strip() for line in probe.stdout.splitlines()
                  if line.strip().startswith("Candidate:")]
    return probe.returncode == 0 and any(c and c != "(none)" for c in candidates)


def install_debian(packages=DEBIAN_PACKAGES) -> bool:
    """Install ``packages`` with apt-get; return True if they are installed, False if this
    machine cannot (not root, or no apt-get). Raise RuntimeError if apt-get fails."""
    packages = _check_packages(packages)
    if not have("apt-get") or not have("dpkg-query"):
        return False
    missing = [p for p in packages if not _installed(p)]
    if not missing:
        return True
    if os.geteuid() != 0:
        return False
    _apt_update_once()
    _apt(["install", "-y", "--no-install-recommends", *missing])
    return True


def install_uno() -> str:
    """Install the simulated Uno's tools with apt-get (as in Colab: root, apt); return one line
    saying what is ready.

    With the Arduino packages in the package lists: the Arduino sketch route (UNO_PACKAGES:
    arduino-builder builds the sketch, simavr runs it). Without them (the names are Debian's; an
    Ubuntu release may lack them): avr-gcc and simavr alone, which run the generated C in the
    course's test program instead of the sketch. Raise RuntimeError if apt-get fails.
    """
    if not have("apt-get") or not have("dpkg-query") or not have("apt-cache"):
        return ("no apt-get here: install with your package manager: "
                + " ".join(UNO_PACKAGES))
    wanted = [p for p in UNO_PACKAGES if not _installed(p)]
    if not wanted:
        return "toolchain ready: arduino-builder, avr-gcc and simavr"
    if os.geteuid() != 0:
        return "not root: install with: sudo " + install_command(UNO_PACKAGES)
    _apt_update_once()  # apt-cache knows nothing before the lists are read
    absent = [p for p in ARDUINO_PACKAGES if p in wanted and not apt_has(p)]
    if not absent:
        install_debian(UNO_PACKAGES)
        return "toolchain ready: arduino-builder, avr-gcc and simavr"
    install_debian(AVR_PACKAGES)
    return (f"this system's packages have no {' or '.join(absent)}: installed avr-gcc and "
            "simavr alone, so the lesson runs the generated C on the simulated Uno in the "
            "course's test program instead of building the Arduino sketch")


def _main_sketch(sketch_dir: Path) -> Path:
    inos = sorted(sketch_dir.glob("*.ino"))
    if not inos:
        raise ValueError(f"{sketch_dir} holds no .ino sketch")
    for name in (f"{sketch_dir.name}.ino", "sketch.ino"):
        if sketch_dir / name in inos:
            return sketch_dir / name
    if len(inos) == 1:
        return inos[0]
    raise ValueError(f"{sketch_dir} holds several .ino files and none is named after the folder")


def compile_uno(sketch_dir, build_dir, defines: dict | None = None) -> Path:
    """Compile a sketch folder for the Arduino Uno with arduino-builder; return the .elf path.

    The Intel HEX file for uploading sits next to it (same name, ``.hex``). ``defines`` become
    ``-DNAME=VALUE`` flags for the sketch's C++ files. Raise RuntimeError with the compiler
    output if the build fails.
    """
    for name, value in (("sketch_dir", sketch_dir), ("build_dir", build_dir)):
        if isinstance(value, bool) or not isinstance(value, (str, os.PathLike)) \
                or not str(value):
            raise TypeError(f"{name} must be a folder path, got {value!r}")
    if defines is not None and not isinstance(defines, dict):
        raise TypeError(f"defines must be a {{name: value}} dict, got {type(defines).__name__}")
    sketch_dir, build_dir = Path(sketch_dir).resolve(), Path(build_dir).resolve()
    if not sketch_dir.is_dir():
        raise FileNotFoundError(f"sketch folder {sketch_dir} does not exist")
    if build_dir.exists() and not build_dir.is_dir():
        raise ValueError(f"build_dir {build_dir} is a file, not a folder")
    sketch = _main_sketch(sketch_dir)
    flags = [_UNO_CPP_FLAGS]
    for name, value in (defines or {}).items():
        if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
            raise ValueError(f"define name {name!r} is not an ASCII C identifier")
        if isinstance(value, bool) or not isinstance(value, (str, int, float)) \
                or not re.fullmatch(r"[A-Za-z0-9_.+-]+", str(value)):
            raise ValueError(f"define {name}: the value {value!r} must be a number or a name "
                             "(letters, digits, _ . + -), without spaces or quotes")
        flags.append(f"-D{name}={value}")
    if not have("arduino-builder"):
        raise RuntimeError("arduino-builder is not installed; install with: "
                           + install_command())
    build_dir.mkdir(parents=True, exist_ok=True)
    command = ["arduino-builder", "-compile",
               "-hardware", "/usr/share/arduino/hardware",
               "-hardware", "/usr/share/arduino-builder",
               "-tools", "/usr/bin", "-fqbn", UNO_FQBN,
               "-prefs=compiler.cpp.extra_flags=" + " ".join(flags),
               "-build-path", str(build_dir), str(sketch)]
    run = subprocess.run(command, check=False, capture_output=True, text=True)
    elf = build_dir / f"{sketch.name}.elf"
    if run.returncode != 0 or not elf.exists():
        output = (run.stdout + run.stderr).strip()
        raise RuntimeError(f"compiling {sketch} for the Uno failed (exit {run.returncode}):\n"
                           f"{output[-6000:]}")
    return elf


_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
SIMAVR_UNO = ("simavr", "-m", "atmega328p", "-f", "16000000")  # an Uno at 16 MHz


class SimulationTimeout(RuntimeError):
    """A simulated board did not stop in time; carries what it printed until then."""

    def __init__(self, message: str, stdout: str, stderr: str):
        super().__init__(message)
        self.stdout, self.stderr = stdout, stderr


def _text(value) -> str:
    if isinstance(value, bytes):
        return value.decode(errors="replace")
    return value or ""


def run_program(command: list[str], timeout_s: float,
                env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """Run a simulator (or a host program) to its end; return the completed process.

    ``env`` replaces the environment when given. Raises :class:`SimulationTimeout`, holding
    the partial output, after ``timeout_s`` s.
    """
    if isinstance(command, str) or not isinstance(command, (list, tuple)) or not command \
            or not all(isinstance(part, str) for part in command):
        raise TypeError(f"command must be a non-empty list of str, got {command!r}")
    if isinstance(timeout_s, bool) or not isinstance(timeout_s, (int, float)):
        raise TypeError(f"timeout_s must be a number of seconds, got {timeout_s!r}")
    if not 0 < timeout_s < float("inf"):
        raise ValueError(f"timeout_s must be > 0 and finite, got {timeout_s}")
    if env is not None and not isinstance(env, dict):
        raise TypeError(f"env must be a dict of environment variables or None, got {env!r}")
    try:
        return subprocess.run(command, capture_output=True, text=True, errors="replace",
                              timeout=timeout_s, check=False, env=env)
    except FileNotFoundError:
        raise FileNotFoundError(f"cannot run {command[0]}: no such program") from None
    except OSError as exc:  # not executable, wrong format, ...
        raise ValueError(f"cannot run {command[0]}: {exc.strerror or exc} (not a program for "
                         "this computer?)") from None
    except subprocess.TimeoutExpired as exc:
        raise SimulationTimeout(f"{Path(command[-1]).name} did not stop within {timeout_s:g} s "
                                f"in {command[0]} (a hang?)", _text(exc.stdout),
                                _text(exc.stderr)) from None


def uart_lines(stderr: str) -> list[str]:
    """Return the lines an AVR program printed on UART0 under simavr, which writes them to its
    stderr coloured, with a '.' for each unprintable byte (the CR LF ending each line).
    simavr's own messages (such as "Loaded ... .text") are among them."""
    if not isinstance(stderr, str):
        raise TypeError(f"stderr must be the simulator's output as a str, got "
                        f"{type(stderr).__name__}")
    return [line.rstrip(".") for line in _ANSI.sub("", stderr).splitlines()]


def run_uno(elf, timeout_s: float = 120.0) -> list[str]:
    """Run an Uno firmware ``elf`` (e.g. from :func:`compile_uno`) in simavr at 16 MHz until it
    sleeps with interrupts off; return its :func:`uart_lines`. Raise RuntimeError if simavr
    is missing, fails or does not stop within ``timeout_s`` seconds."""
    elf = firmware_path(elf)
    if not have("simavr"):
        raise RuntimeError("simavr is not installed; install with: " + install_command())
    run = run_program([*SIMAVR_UNO, str(elf)], timeout_s)
    if run.returncode != 0:
        raise RuntimeError(f"simavr failed on {elf} (exit {run.returncode}):\n"
                           f"{run.stderr[-3000:]}")
    return uart_lines(run.stderr)


def firmware_path(elf) -> Path:
    """Return ``elf`` as a Path after checking it names an existing firmware file."""
    if isinstance(elf, bool) or not isinstance(elf, (str, os.PathLike)) or not str(elf):
        raise TypeError(f"elf must be the path of a firmware file, got {elf!r}")
    elf = Path(elf)
    if not elf.is_file():
        raise FileNotFoundError(f"no firmware at {elf}")
    return elf


@dataclass(frozen=True)
class Sizes:
    """Section sizes of a firmware image, in bytes (as ``size`` counts them)."""

    text: int
    data: int
    bss: int  # .bss and other zero-filled RAM (.noinit)

    @property
    def flash(self) -> int:
        """Return the flash the image occupies: code + constants + .data's initial values."""
        return self.text + self.data

    @property
    def ram(self) -> int:
        """Return the statically allocated RAM: .data + .bss (the stack comes on top)."""
        return self.data + self.bss


def read_sizes(elf, size_tool: str = "size") -> Sizes:
    """Return the :class:`Sizes` of ``elf`` read with ``size_tool`` (size, avr-size, ...)."""
    elf = firmware_path(elf)
    if not isinstance(size_tool, str) or not re.fullmatch(r"[A-Za-z0-9_.-]*size", size_tool):
        raise ValueError(f"size_tool must be a size program (size, avr-size, "
                         f"arm-none-eabi-size), got {size_tool!r}")
    if not have(size_tool):
        raise RuntimeError(f"{size_tool} is not installed; install with: " + install_command())
    run = subprocess.run([size_tool, "-B", str(elf)], capture_output=True, text=True,
                         check=False)
    rows = run.stdout.strip().splitlines()
    if run.returncode != 0 or len(rows) < 2:
        raise ValueError(f"{size_tool} cannot read {elf}: {run.stderr.strip() or run.stdout}")
    fields = rows[1].split()[:3]
    if len(fields) != 3 or not all(f.isdigit() for f in fields):
        raise ValueError(f"{size_tool} printed an unexpected table for {elf}:\n{run.stdout}")
    text, data, bss = (int(v) for v in fields)
    return Sizes(text, data, bss)


def avr_size(elf) -> dict[str, int]:
    """Return {"flash": bytes, "ram": bytes} of an AVR .elf, counted as the Arduino IDE does
    (flash = .text + .data; static RAM = .data + .bss + .noinit)."""
    sizes = read_sizes(elf, "avr-size")
    return {"flash": sizes.flash, "ram": sizes.ram}


def main(argv: list[str] | None = None) -> int:
    """Run the command-line interface; return the exit status."""
    args = sys.argv[1:] if argv is None else argv
    if args == ["install"]:
        if not have("apt-get"):
            print("skipping toolchain install: no apt-get here; install with your package "
                  "manager: " + " ".join(DEBIAN_PACKAGES))
            return 0
        try:
            done = install_debian()
        except RuntimeError as exc:
            print(f"toolchain install failed: {exc}", file=sys.stderr)
            return 1
        if done:
            print("toolchains ready: " + " ".join(DEBIAN_PACKAGES))
        else:
            print("skipping toolchain install: not root; install with: sudo "
                  + install_command())
        return 0
    if len(args) >= 3 and args[0] == "compile-uno":
        defines = dict(item.split("=", 1) for item in args[3:] if "=" in item)
        try:
            elf = compile_uno(args[1], args[2], defines)
        except (RuntimeError, ValueError, TypeError, OSError) as exc:
            print(exc, file=sys.stderr)
            return 1
        size = avr_size(elf)
        print(f"{elf}: flash {size['flash']} of {UNO_FLASH_BYTES} bytes, "
              f"RAM {size['ram']} of {UNO_RAM_BYTES} bytes")
        return 0
    print("usage: python -m tinyml_helpers.deploy.toolchains install\n"
          "       python -m tinyml_helpers.deploy.toolchains compile-uno SKETCH_DIR BUILD_DIR "
          "[NAME=VALUE...]", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
