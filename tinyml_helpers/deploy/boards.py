"""The simulated boards the harness runs on: how to compile for each (C, and C++ where TFLM is
built), run a program on it, read its sizes, its clock, and which tools and Debian packages it
needs. This is the one board table: :mod:`firmware` and :mod:`tflm_build` both read it."""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from . import toolchains


@dataclass(frozen=True)
class CxxBuild:
    """How a board compiles and links C++: what TensorFlow Lite Micro is built with."""

    title: str  # the board as the C++ builds describe it
    compiler: str  # the C++ compiler (the C one is Target.compiler)
    archiver: str
    arch: tuple[str, ...]  # machine flags, the same for C and C++
    compile: tuple[str, ...]  # further flags of every C and C++ compile (the C library)
    link: tuple[str, ...]  # link flags; "{templates}" is the harness folder (linker script)
    link_driver: str  # the program that links
    packages: tuple[str, ...]  # Debian/Ubuntu packages that provide the tools
    tools: tuple[str, ...]  # the executables it needs
    header_probe: bool  # the C++ headers come in a package of their own: check they are there


@dataclass(frozen=True)
class Target:
    """A board: how to compile for it, run it, read its sizes, and its real clock."""

    name: str
    title: str
    compiler: str
    cflags: tuple[str, ...]
    platform_files: tuple[str, ...]
    run_command: tuple[str, ...]  # "{elf}" is replaced by the firmware path
    size_tool: str
    unit: str  # what the harness's counter counts
    clock_hz: float | None  # the real board's clock, to turn counts into microseconds
    packages: tuple[str, ...]  # Debian/Ubuntu packages that provide the tools
    tools: tuple[str, ...]  # the executables it needs
    cxx: CxxBuild | None = None  # None: no C++ (TFLM) builds for this board


_COMMON = ("-std=gnu99", "-Wall", "-Wextra", "-Werror", "-ffunction-sections",
           "-fdata-sections", "-Wl,--gc-sections")
_M4_ARCH = ("-mcpu=cortex-m4", "-mthumb", "-mfloat-abi=hard", "-mfpu=fpv4-sp-d16")
_SEMIHOSTING = "enable=on,target=native"  # QEMU's -semihosting-config value

TARGETS = {
    # The Arduino IDE's own flags for the Uno (-Os, link-time optimization).
    "uno": Target(
        "uno", "Arduino Uno (ATmega328P, 16 MHz) on simavr", "avr-gcc",
        ("-mmcu=atmega328p", "-DF_CPU=16000000UL", "-Os", "-flto", "-fuse-linker-plugin",
         *_COMMON),
        ("platform_uno.c",), (*toolchains.SIMAVR_UNO, "{elf}"),
        "avr-size", "cycles", 16e6, toolchains.AVR_PACKAGES,
        ("avr-gcc", "simavr", "avr-size")),
    "m4": Target(
        "m4", "Cortex-M4F (mps2-an386) on QEMU", "arm-none-eabi-gcc",
        (*_M4_ARCH, "-O2", *_COMMON, "--specs=nano.specs", "--specs=rdimon.specs",
         "-T{templates}/m4.ld"),
        ("platform_m4.c",),
        ("qemu-system-arm", "-M", "mps2-an386", "-nographic", "-monitor", "none", "-serial",
         "none", "-semihosting-config", _SEMIHOSTING, "-icount", "shift=0", "-kernel", "{elf}"),
        "arm-none-eabi-size", "instructions", 64e6, toolchains.M4_PACKAGES,
        ("arm-none-eabi-gcc", "qemu-system-arm", "arm-none-eabi-size"),
        # Linked by the C driver: only the C++ headers are installed for arm-none-eabi, and
        # tflm_harness/cxx_runtime.cc provides the little of libsupc++ a TFLM program uses.
        CxxBuild("Cortex-M4F (mps2-an386) on QEMU", "arm-none-eabi-g++", "arm-none-eabi-ar",
                 _M4_ARCH, ("--specs=nano.specs",),
                 ("-Wl,--gc-sections", "--specs=nano.specs", "--specs=rdimon.specs",
                  "-T{templates}/m4.ld", "-u", "_printf_float"),
                 "arm-none-eabi-gcc", toolchains.M4_CXX_PACKAGES,
                 ("arm-none-eabi-g++", "arm-none-eabi-gcc", "arm-none-eabi-ar",
                  "arm-none-eabi-size", "qemu-system-arm"), True)),
    "host": Target(
        "host", "this PC (gcc -O2)", "gcc", ("-O2", *_COMMON), ("platform_host.c",),
        ("{elf}",), "size", "none", None, toolchains.HOST_PACKAGES, ("gcc", "size"),
        CxxBuild("this PC (g++ -O2, 64-bit)", "g++", "ar", (), (), ("-Wl,--gc-sections",),
                 "g++", toolchains.HOST_CXX_PACKAGES, ("g++", "gcc", "ar", "size"), False)),
}

# The Nano 33 BLE (nRF52840) runs its Cortex-M4F at 64 MHz; QEMU counts instructions, so
# microseconds there assume one instruction per cycle.
M4_CLOCK_NOTE = "at 64 MHz (Nano 33 BLE), assuming 1 instruction/cycle"
# The real boards the simulated targets stand for: (name, flash bytes, RAM bytes). The
# firmware checks a model against them before any compiler runs.
MEMORY = {
    "uno": ("the Arduino Uno", toolchains.UNO_FLASH_BYTES, toolchains.UNO_RAM_BYTES),
    "m4": ("the Nano 33 BLE's nRF52840 (Cortex-M4F)", 1024 * 1024, 256 * 1024),
}


class FirmwareError(RuntimeError):
    """A firmware build or run failed; the message carries the captured output."""


class ToolchainMissing(FirmwareError):
    """A compiler or simulator is not installed."""


def get_target(name: str) -> Target:
    """Return the :class:`Target` called ``name`` ("uno", "m4" or "host")."""
    if not isinstance(name, str) or name not in TARGETS:
        raise ValueError(f"unknown target {name!r}; choose from {', '.join(TARGETS)}")
    return TARGETS[name]


def cxx_build(name: str) -> CxxBuild:
    """Return how board ``name`` builds C++; ValueError for a board without C++ builds."""
    cxx = get_target(name).cxx
    if cxx is None:
        with_cxx = [n for n, t in TARGETS.items() if t.cxx is not None]
        raise ValueError(f"no C++ builds for target {name!r}; choose from {', '.join(with_cxx)}")
    return cxx


_HEADERS_FOUND: dict[str, bool] = {}


def _cxx_headers_found(name: str) -> bool:
    """Return True if the C++ compiler of ``name`` finds the standard C++ headers."""
    cxx = cxx_build(name)
    if name not in _HEADERS_FOUND:
        probe = toolchains.run_program([cxx.compiler, *cxx.arch, "-std=gnu++17", "-x", "c++",
                                        "-E", "-include", "cstdint", "-o", os.devnull,
                                        os.devnull], 120.0)
        _HEADERS_FOUND[name] = probe.returncode == 0
    return _HEADERS_FOUND[name]


def missing_tools(target: str, cxx: bool = False) -> list[str]:
    """Return the executables ``target`` needs that are not on PATH; with ``cxx`` those of its
    C++ builds, and its C++ headers when they come in a package of their own."""
    if not cxx:
        return [tool for tool in get_target(target).tools if shutil.which(tool) is None]
    build = cxx_build(target)
    missing = [tool for tool in build.tools if shutil.which(tool) is None]
    if build.header_probe and build.compiler not in missing and not _cxx_headers_found(target):
        missing.append(f"the C++ headers for {build.compiler.removesuffix('-g++')}")
    return missing


def install_hint(target: str | None = None, cxx: bool = False) -> str:
    """Return the one-line apt command that installs the simulated boards' toolchains (with a
    ``target``: that board's; with ``cxx`` too: its C++ builds')."""
    if target is None:
        return toolchains.install_command()
    packages = cxx_build(target).packages if cxx else get_target(target).packages
    return toolchains.install_command(packages)


def require(target: str, cxx: bool = False) -> None:
    """Raise :class:`ToolchainMissing` naming the packages if ``target``'s tools (with
    ``cxx``: those of its C++ builds) are absent."""
    missing = missing_tools(target, cxx)
    if missing:
        raise ToolchainMissing(f"{', '.join(missing)} not found; install with: "
                               f"{install_hint(target, cxx)}")


def program_command(target: str, program, args: tuple[str, ...] = ()) -> list[str]:
    """Return the command that runs ``program`` (a firmware or host executable) on ``target``.

    ``args`` are the program's command line: its argv on this PC, the semihosting command line
    on QEMU (a program reads it with SYS_GET_CMDLINE). simavr has no way to pass them.
    """
    spec = get_target(target)
    command = [part.format(elf=Path(program).resolve()) for part in spec.run_command]
    args = tuple(str(a) for a in args)
    if not args:
        return command
    if target == "host":
        return [*command, *args]
    if "-semihosting-config" in command:
        at = command.index("-semihosting-config") + 1
        command[at] = ",".join([command[at], "arg=program", *(f"arg={a}" for a in args)])
        return command
    raise ValueError(f"programs on {target} take no command-line arguments")
