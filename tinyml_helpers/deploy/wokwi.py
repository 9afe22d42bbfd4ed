"""Wokwi ``diagram.json`` files: build them from a few parts and check them before a student
pastes one into wokwi.com.

A diagram lists parts (``{"type", "id", "top", "left", "attrs"}``) and wires
(``[from, to, color, path]`` with endpoints ``"part_id:pin"``). Wokwi accepts a diagram with a
misspelled pin and just leaves the wire dangling, so :func:`validate` checks every endpoint
against the pin names of the part types used here (copied from wokwi-boards / wokwi-elements /
wokwi-docs), that the serial monitor is wired TX -> RX and RX -> TX, that no wire or chain of
wires joins a supply pin to a ground pin, that no LED has its anode on the ground side, and
that every SSD1306 OLED has its supply on a board's supply, its ground on a ground and its I2C
data and clock on the pins the board's Wire library uses by default.

:func:`led_diagram` builds a board with an LED, :func:`display_diagram` a board with an
SSD1306 OLED on I2C.

CLI: ``python -m tinyml_helpers.deploy.wokwi validate wokwi/*/diagram.json``.
"""

from __future__ import annotations

import json
import math
import re
import sys
from pathlib import Path

# Pin names of each part type (what goes after "id:" in a connection).
ESP32_DEVKIT_C_V4_PINS = (  # wokwi-boards boards/esp32-devkit-c-v4/board.json
    "3V3", "EN", "VP", "VN", "34", "35", "32", "33", "25", "26", "27", "14", "12", "GND.1",
    "13", "D2", "D3", "CMD", "5V", "GND.2", "23", "22", "TX", "RX", "21", "GND.3", "19", "18",
    "5", "17", "16", "4", "0", "2", "15", "D1", "D0", "CLK",
)
ARDUINO_UNO_PINS = (  # wokwi-elements arduino-uno-element.ts pinInfo
    *(str(i) for i in range(14)), "A0", "A1", "A2", "A3", "A4", "A5", "A4.2", "A5.2",
    "GND.1", "GND.2", "GND.3", "5V", "3.3V", "VIN", "IOREF", "RESET", "AREF",
)
# A 128x64 SSD1306 OLED on I2C (wokwi-docs parts/board-ssd1306). The older part type
# "wokwi-ssd1306" (deprecated by Wokwi) names its pins differently: DATA is SDA, CLK is SCL,
# VIN the supply; DC, RST and CS serve SPI, which Wokwi does not simulate, and 3V3 is an output.
SSD1306_PINS = ("GND", "VCC", "SCL", "SDA")
OLD_SSD1306_PINS = ("DATA", "CLK", "DC", "RST", "CS", "3V3", "GND", "VIN")
PART_PINS: dict[str, frozenset[str]] = {
    "board-esp32-devkit-c-v4": frozenset(ESP32_DEVKIT_C_V4_PINS),
    "wokwi-arduino-uno": frozenset(ARDUINO_UNO_PINS),
    "wokwi-led": frozenset({"A", "C"}),  # anode, cathode
    "wokwi-resistor": frozenset({"1", "2"}),
    "board-ssd1306": frozenset(SSD1306_PINS),
    "wokwi-ssd1306": frozenset(OLD_SSD1306_PINS),
}
# Each board's ground pins and supply pins (a wire between the two shorts the supply).
BOARD_GROUND_PINS: dict[str, frozenset[str]] = {
    "board-esp32-devkit-c-v4": frozenset({"GND.1", "GND.2", "GND.3"}),
    "wokwi-arduino-uno": frozenset({"GND.1", "GND.2", "GND.3"}),
}
BOARD_SUPPLY_PINS: dict[str, frozenset[str]] = {
    "board-esp32-devkit-c-v4": frozenset({"3V3", "5V"}),
    "wokwi-arduino-uno": frozenset({"5V", "3.3V", "VIN", "IOREF"}),
}
# Parts that conduct both ways, so a pin reaches what is wired to their other pin.
CONDUCTING_PARTS = frozenset({"wokwi-resistor"})
# Virtual parts that exist without being listed in "parts".
VIRTUAL_PINS: dict[str, frozenset[str]] = {"$serialMonitor": frozenset({"RX", "TX"})}
# Each board's UART0 (the port behind Serial) as (TX pin, RX pin).
BOARD_SERIAL: dict[str, tuple[str, str]] = {
    "board-esp32-devkit-c-v4": ("TX", "RX"),
    "wokwi-arduino-uno": ("1", "0"),
}
# Each board's I2C pins as the Wire library uses them without arguments: (SDA pins, SCL pins).
# The Uno's TWI is wired to A4/A5, which its header repeats as A4.2/A5.2 (SDA/SCL); an ESP32
# can route I2C to other GPIOs with Wire.begin(sda, scl), but its default is GPIO 21 / 22.
BOARD_I2C: dict[str, tuple[frozenset[str], frozenset[str]]] = {
    "board-esp32-devkit-c-v4": (frozenset({"21"}), frozenset({"22"})),
    "wokwi-arduino-uno": (frozenset({"A4", "A4.2"}), frozenset({"A5", "A5.2"})),
}
# Display parts on I2C: their pin for each role (data, clock, supply in, ground).
I2C_DISPLAYS: dict[str, dict[str, str]] = {
    "board-ssd1306": {"SDA": "SDA", "SCL": "SCL", "supply": "VCC", "ground": "GND"},
    "wokwi-ssd1306": {"SDA": "DATA", "SCL": "CLK", "supply": "VIN", "ground": "GND"},
}

TOP_LEVEL_KEYS = {"version", "author", "editor", "parts", "connections", "dependencies",
                  "serialMonitor"}
PART_KEYS = {"type", "id", "top", "left", "attrs", "rotate", "hide"}
_WIRE_STEP = re.compile(r"\*|[hv]-?\d+(\.\d+)?")


# --- building diagrams ----------------------------------------------------------------------

def part(type_: str, id_: str, top: float = 0, left: float = 0, rotate: int = 0,
         **attrs: str) -> dict:
    """Return one diagram part; ``attrs`` are the part's string attributes."""
    if not isinstance(type_, str) or type_ not in PART_PINS:
        raise ValueError(f"unknown part type {type_!r}; known: {', '.join(sorted(PART_PINS))}")
    if not isinstance(id_, str) or not id_ or ":" in id_ or id_.startswith("$"):
        raise ValueError(f"part id must be a non-empty string without ':' and not starting "
                         f"with '$', got {id_!r}")
    for name, value in (("top", top), ("left", left)):
        if not _is_number(value):
            raise TypeError(f"{name} must be a finite number, got {value!r}")
    if isinstance(rotate, bool) or not isinstance(rotate, int):
        raise TypeError(f"rotate must be an int (degrees), got {rotate!r}")
    item = {"type": type_, "id": id_, "top": top, "left": left}
    if rotate:
        item["rotate"] = rotate
    item["attrs"] = {key: str(value) for key, value in attrs.items()}
    return item


def wire(start: str, end: str, color: str = "", path: tuple[str, ...] = ()) -> list:
    """Return one connection ``[start, end, color, path]``."""
    for name, value in (("start", start), ("end", end)):
        if not isinstance(value, str) or ":" not in value:
            raise ValueError(f"{name} must be a string 'part_id:pin', got {value!r}")
    if not isinstance(color, str):
        raise TypeError(f"color must be a str, got {type(color).__name__}")
    if isinstance(path, str) or not isinstance(path, (list, tuple)) or not all(
            isinstance(step, str) and _WIRE_STEP.fullmatch(step) for step in path):
        raise ValueError(f"path must be a list like ['h9.6', 'v-20', '*'], got {path!r}")
    return [start, end, color, list(path)]


def diagram(parts: list[dict], connections: list[list], author: str = "") -> dict:
    """Return a complete diagram.json document (version 1) after validating it."""
    if not isinstance(author, str):
        raise TypeError(f"author must be a str, got {type(author).__name__}")
    doc = {"version": 1, "author": author, "editor": "wokwi", "parts": parts,
           "connections": connections, "dependencies": {}}
    validate(doc)
    return doc


def led_diagram(board: str, led_pin: str, author: str = "") -> dict:
    """Return a diagram of ``board`` ("esp32" or "uno") with an LED + 220 Ω on ``led_pin``."""
    if not isinstance(led_pin, str):
        raise TypeError(f"led_pin must be a pin name (str), got {led_pin!r}")
    if board == "esp32":
        board_part = part("board-esp32-devkit-c-v4", "esp", 0, 0)
        led = part("wokwi-led", "led1", 30, 170, color="red")
        resistor = part("wokwi-resistor", "r1", 125, 110, value="220")
        ground = "GND.3"
    elif board == "uno":
        board_part = part("wokwi-arduino-uno", "uno", 0, 0)
        led = part("wokwi-led", "led1", -110, 130, color="red")
        resistor = part("wokwi-resistor", "r1", -40, 150, rotate=90, value="220")
        ground = "GND.1"
    else:
        raise ValueError(f"board must be 'esp32' or 'uno', got {board!r}")
    board_id = board_part["id"]
    tx, rx = BOARD_SERIAL[board_part["type"]]
    connections = [
        wire(f"{board_id}:{tx}", "$serialMonitor:RX"),
        wire(f"{board_id}:{rx}", "$serialMonitor:TX"),
        wire(f"{board_id}:{led_pin}", "r1:1", "green"),
        wire("r1:2", "led1:A", "green"),
        wire("led1:C", f"{board_id}:{ground}", "black"),
    ]
    return diagram([board_part, led, resistor], connections, author)


def display_diagram(board: str, author: str = "") -> dict:
    """Return a diagram of ``board`` ("esp32" or "uno") with a 128x64 SSD1306 OLED
    (``board-ssd1306``, I2C address 0x3C) powered by the board and wired to its default I2C
    pins (:data:`BOARD_I2C`: GPIO 21/22 on the ESP32, A4/A5 on the Uno), and the serial
    monitor."""
    if board == "esp32":
        board_part = part("board-esp32-devkit-c-v4", "esp", 0, 0)
        oled = part("board-ssd1306", "oled1", 40, 170, i2cAddress="0x3c")
        supply, ground = "3V3", "GND.2"
    elif board == "uno":
        board_part = part("wokwi-arduino-uno", "uno", 0, 0)
        oled = part("board-ssd1306", "oled1", -130, 90, i2cAddress="0x3c")
        supply, ground = "5V", "GND.2"
    else:
        raise ValueError(f"board must be 'esp32' or 'uno', got {board!r}")
    board_id = board_part["id"]
    tx, rx = BOARD_SERIAL[board_part["type"]]
    sda, scl = (sorted(pins)[0] for pins in BOARD_I2C[board_part["type"]])
    connections = [
        wire(f"{board_id}:{tx}", "$serialMonitor:RX"),
        wire(f"{board_id}:{rx}", "$serialMonitor:TX"),
        wire("oled1:VCC", f"{board_id}:{supply}", "red"),
        wire("oled1:GND", f"{board_id}:{ground}", "black"),
        wire("oled1:SDA", f"{board_id}:{sda}", "blue"),
        wire("oled1:SCL", f"{board_id}:{scl}", "purple"),
    ]
    return diagram([board_part, oled], connections, author)


def dumps(doc: dict) -> str:
    """Return ``doc`` as diagram.json text, one part or wire per line as Wokwi writes it."""
    if not isinstance(doc, dict):
        raise TypeError(f"doc must be a diagram dict, got {type(doc).__name__}")

    def one_line(value) -> str:
        try:
            return json.dumps(value, ensure_ascii=False, separators=(", ", ": "),
                              allow_nan=False)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"the diagram holds a value JSON cannot store: {exc}") from None

    lines = ["{"]
    keys = list(doc)
    for n, key in enumerate(keys):
        comma = "," if n < len(keys) - 1 else ""
        value = doc[key]
        if key in ("parts", "connections") and isinstance(value, list) and value:
            items = [f"    {one_line(item)}" for item in value]
            lines.append(f'  {one_line(key)}: [\n' + ",\n".join(items) + f"\n  ]{comma}")
        else:
            lines.append(f"  {one_line(key)}: {one_line(value)}{comma}")
    return "\n".join(lines) + "\n}\n"


# --- validating diagrams ----------------------------------------------------------------------

def _load(doc) -> tuple[dict, str]:
    if isinstance(doc, dict):
        return doc, "diagram"
    if isinstance(doc, (str, Path)):
        path = Path(doc)
        if not path.is_file():
            raise FileNotFoundError(f"{path}: cannot read the diagram (no such file)")
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise ValueError(f"{path}: cannot read the diagram ({exc.strerror})") from exc
        except UnicodeDecodeError:
            raise ValueError(f"{path}: cannot read the diagram (not UTF-8 text)") from None
        try:
            loaded = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ValueError(f"{path}: not valid JSON: {exc.msg} at line {exc.lineno}, "
                             f"column {exc.colno}") from exc
        if not isinstance(loaded, dict):  # bad file content, not a bad argument type
            raise ValueError(f"{path}: the top level must be a JSON object")  # noqa: TRY004
        return loaded, str(path)
    raise TypeError(f"expected a diagram dict or a path, got {type(doc).__name__}")


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) \
        and math.isfinite(value)


def _check_parts(parts, problems: list[str]) -> dict[str, str]:
    """Return {part id: type} of the well-formed parts, adding problems found."""
    types: dict[str, str] = {}
    first_index: dict[str, int] = {}
    for i, item in enumerate(parts):
        where = f"parts[{i}]"
        if not isinstance(item, dict):
            problems.append(f"{where}: a part must be an object, got {type(item).__name__}")
            continue
        pid = item.get("id")
        if isinstance(pid, str):
            where += f" ({pid!r})"
        for key in ("type", "id", "top", "left", "attrs"):
            if key not in item:
                problems.append(f"{where}: missing key {key!r}")
        unknown = sorted(set(item) - PART_KEYS)
        if unknown:
            problems.append(f"{where}: unknown keys {unknown}")
        for key in ("top", "left"):
            if key in item and not _is_number(item[key]):
                problems.append(f"{where}: {key!r} must be a number, got {item[key]!r}")
        if "attrs" in item and not isinstance(item["attrs"], dict):
            problems.append(f"{where}: 'attrs' must be an object, got {item['attrs']!r}")
        ptype = item.get("type")
        if "type" in item and not isinstance(ptype, str):
            problems.append(f"{where}: 'type' must be a string, got {ptype!r}")
            ptype = None
        elif isinstance(ptype, str) and ptype not in PART_PINS:
            problems.append(f"{where}: unknown part type {ptype!r} (known: "
                            f"{', '.join(sorted(PART_PINS))})")
        if "id" not in item:
            continue
        if not isinstance(pid, str) or not pid or ":" in pid or pid.startswith("$"):
            problems.append(f"{where}: 'id' must be a non-empty string without ':' and not "
                            f"starting with '$', got {pid!r}")
            continue
        if pid in first_index:
            problems.append(f"duplicate part id {pid!r} (parts[{first_index[pid]}] and "
                            f"parts[{i}])")
            continue
        first_index[pid] = i
        types[pid] = ptype if isinstance(ptype, str) else ""
    return types


def _check_endpoint(endpoint, where: str, types: dict[str, str], problems: list[str]) -> bool:
    if not isinstance(endpoint, str) or ":" not in endpoint:
        problems.append(f"{where}: endpoint {endpoint!r} must be a string 'part_id:pin'")
        return False
    pid, pin = endpoint.split(":", 1)
    if pid in VIRTUAL_PINS:
        pins = VIRTUAL_PINS[pid]
        label = pid
    elif pid in types:
        ptype = types[pid]
        if ptype not in PART_PINS:
            return True  # the unknown type is reported once, with the part
        pins = PART_PINS[ptype]
        label = f"part {pid!r} ({ptype})"
    else:
        problems.append(f"{where}: {endpoint!r}: no part with id {pid!r}")
        return False
    if pin not in pins:
        problems.append(f"{where}: {endpoint!r}: {label} has no pin {pin!r} (pins: "
                        f"{', '.join(sorted(pins))})")
        return False
    return True


def _check_connections(connections, types: dict[str, str], problems: list[str]) -> set:
    """Return the set of well-formed wires as frozensets {a, b}, adding problems found."""
    wires = set()
    for i, item in enumerate(connections):
        where = f"connections[{i}]"
        if not isinstance(item, list) or len(item) not in (3, 4):
            problems.append(f"{where}: a connection must be [from, to, color, path], got "
                            f"{item!r}")
            continue
        if not isinstance(item[2], str):
            problems.append(f"{where}: the color must be a string, got {item[2]!r}")
        if len(item) == 4:
            path = item[3]
            if not isinstance(path, list) or not all(
                    isinstance(step, str) and _WIRE_STEP.fullmatch(step) for step in path):
                problems.append(f"{where}: the path must be a list like ['h9.6', 'v-20', '*'],"
                                f" got {path!r}")
        ok_a = _check_endpoint(item[0], where, types, problems)
        ok_b = _check_endpoint(item[1], where, types, problems)
        if ok_a and ok_b:
            wires.add(frozenset((item[0], item[1])))
    return wires


def _check_serial(types: dict[str, str], wires: set, problems: list[str]) -> None:
    boards = [(pid, ptype) for pid, ptype in types.items() if ptype in BOARD_SERIAL]
    if not boards:
        problems.append(f"no board part (one of: {', '.join(sorted(BOARD_SERIAL))})")
        return
    for pid, ptype in boards:
        tx, rx = BOARD_SERIAL[ptype]
        for pin, monitor in ((tx, "$serialMonitor:RX"), (rx, "$serialMonitor:TX")):
            if frozenset((f"{pid}:{pin}", monitor)) not in wires:
                problems.append(f"serial monitor: {pid}:{pin} is not wired to {monitor} "
                                f"(add [\"{pid}:{pin}\", \"{monitor}\", \"\", []])")


class _Nets:
    """Union-find over "part:pin" endpoints."""

    def __init__(self):
        self.parent: dict[str, str] = {}

    def find(self, pin: str) -> str:
        self.parent.setdefault(pin, pin)
        while self.parent[pin] != pin:
            self.parent[pin] = self.parent[self.parent[pin]]
            pin = self.parent[pin]
        return pin

    def join(self, a: str, b: str) -> None:
        self.parent[self.find(a)] = self.find(b)

    def groups(self) -> list[list[str]]:
        found: dict[str, list[str]] = {}
        for pin in self.parent:
            found.setdefault(self.find(pin), []).append(pin)
        return sorted(sorted(members) for members in found.values())


def _board_pins(types: dict[str, str], table: dict[str, frozenset[str]]) -> set[str]:
    return {f"{pid}:{pin}" for pid, ptype in types.items() for pin in table.get(ptype, ())}


def _check_circuit(types: dict[str, str], wires: set, problems: list[str]) -> None:
    """Report supplies wired to ground and LEDs wired the wrong way round."""
    grounds = _board_pins(types, BOARD_GROUND_PINS)
    supplies = _board_pins(types, BOARD_SUPPLY_PINS)
    wired = _Nets()  # pins joined by wires only
    for item in wires:
        ends = sorted(item)
        wired.join(ends[0], ends[-1])
    for net in wired.groups():
        shorted = [pin for pin in net if pin in supplies]
        ground = [pin for pin in net if pin in grounds]
        if shorted and ground:
            label = "supply pins" if len(shorted) > 1 else "supply pin"
            problems.append(f"short circuit: {label} {' and '.join(shorted)} wired to "
                            f"ground ({', '.join(ground)}) through the net "
                            f"{' - '.join(net)}; remove one of those wires")
    # Which pins a pin reaches through wires and conducting parts (not through an LED).
    reach = _Nets()
    for pin in wired.parent:
        reach.join(pin, wired.find(pin))
    for pid, ptype in types.items():
        if ptype in CONDUCTING_PARTS:
            first, *rest = sorted(PART_PINS[ptype])
            for pin in rest:
                reach.join(f"{pid}:{first}", f"{pid}:{pin}")
    boards = {pid: ptype for pid, ptype in types.items() if ptype in BOARD_GROUND_PINS}
    drives = _board_pins(boards, PART_PINS) - grounds  # GPIOs and supplies of the boards
    drives &= set(reach.parent)
    grounds &= set(reach.parent)
    for pid, ptype in sorted(types.items()):
        if ptype != "wokwi-led":
            continue
        anode, cathode = f"{pid}:A", f"{pid}:C"
        anode_ground = sorted(p for p in grounds if reach.find(p) == reach.find(anode))
        cathode_ground = [p for p in grounds if reach.find(p) == reach.find(cathode)]
        if not anode_ground or cathode_ground:
            continue
        cathode_drive = sorted(p for p in drives if reach.find(p) == reach.find(cathode))
        other = f"while its cathode (C) reaches {', '.join(cathode_drive)}" \
            if cathode_drive else "and its cathode (C) reaches no ground"
        problems.append(f"LED {pid!r} is wired in reverse: its anode (A) reaches ground "
                        f"({', '.join(anode_ground)}) {other}; it never lights. Swap the "
                        f"wires on {anode} and {cathode}: the cathode goes to GND, the anode "
                        "to the GPIO side (through the resistor)")


def _check_displays(types: dict[str, str], wires: set, problems: list[str]) -> None:
    """Report I2C displays whose supply, ground, data or clock pin is not wired where the
    board powers it and its Wire library talks to it."""
    displays = sorted((pid, ptype) for pid, ptype in types.items() if ptype in I2C_DISPLAYS)
    if not displays:
        return
    wired = _Nets()
    for item in wires:
        ends = sorted(item)
        wired.join(ends[0], ends[-1])
    boards = {pid: ptype for pid, ptype in types.items() if ptype in BOARD_I2C}
    i2c = {role: {f"{pid}:{pin}" for pid, ptype in boards.items()
                  for pin in BOARD_I2C[ptype][k]} for k, role in enumerate(("SDA", "SCL"))}
    wanted = {"SDA": i2c["SDA"], "SCL": i2c["SCL"],
              "supply": _board_pins(boards, BOARD_SUPPLY_PINS),
              "ground": _board_pins(boards, BOARD_GROUND_PINS)}
    names = {"SDA": "an I2C data pin (SDA)", "SCL": "an I2C clock pin (SCL)",
             "supply": "a supply pin", "ground": "a ground pin"}
    defaults = "; ".join(f"{ptype}: SDA {'/'.join(sorted(sda))}, SCL {'/'.join(sorted(scl))}"
                         for ptype, (sda, scl) in sorted(BOARD_I2C.items()))
    for pid, ptype in displays:
        for role, pin in I2C_DISPLAYS[ptype].items():
            end = f"{pid}:{pin}"
            if end not in wired.parent:
                problems.append(f"display {pid!r} ({ptype}): {end} is not wired; it needs "
                                f"{names[role]} of the board")
                continue
            net = {p for p in wired.parent if wired.find(p) == wired.find(end)}
            if net & wanted[role]:
                continue
            other = {"SDA": "SCL", "SCL": "SDA"}.get(role)
            if other and net & wanted[other]:
                problems.append(f"display {pid!r} ({ptype}): SDA and SCL are swapped: {end} "
                                f"reaches {', '.join(sorted(net & wanted[other]))}")
            else:
                reached = sorted(net - {end}) or ["nothing"]
                problems.append(f"display {pid!r} ({ptype}): {end} reaches "
                                f"{', '.join(reached)}, not {names[role]} of a board"
                                + (f" (Wire's default pins: {defaults})" if other else ""))


def problems(doc) -> list[str]:
    """Return every problem found in a diagram (dict or path); an empty list if it is valid."""
    doc, _ = _load(doc)
    found: list[str] = []
    unknown = sorted(set(doc) - TOP_LEVEL_KEYS)
    if unknown:
        found.append(f"unknown top-level keys {unknown}")
    if doc.get("version") != 1 or isinstance(doc.get("version"), bool):
        found.append(f"'version' must be 1, got {doc.get('version')!r}")
    for key in ("author", "editor"):
        if key in doc and not isinstance(doc[key], str):
            found.append(f"{key!r} must be a string, got {doc[key]!r}")
    if "dependencies" in doc and not isinstance(doc["dependencies"], dict):
        found.append(f"'dependencies' must be an object, got {doc['dependencies']!r}")
    parts, connections = doc.get("parts"), doc.get("connections")
    if not isinstance(parts, list):
        found.append(f"'parts' must be a list, got {parts!r}")
        parts = []
    if not isinstance(connections, list):
        found.append(f"'connections' must be a list, got {connections!r}")
        connections = []
    types = _check_parts(parts, found)
    wires = _check_connections(connections, types, found)
    _check_serial(types, wires, found)
    _check_circuit(types, wires, found)
    _check_displays(types, wires, found)
    return found


def validate(doc) -> None:
    """Return None if the diagram (dict or path) is valid; raise ValueError listing problems."""
    _, name = _load(doc)
    found = problems(doc)
    if found:
        raise ValueError(f"{name} is not a valid Wokwi diagram:\n  - " + "\n  - ".join(found))


def main(argv: list[str] | None = None) -> int:
    """Validate the diagram files given on the command line; return the exit status."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) < 2 or args[0] != "validate":
        print("usage: python -m tinyml_helpers.deploy.wokwi validate DIAGRAM.json...",
              file=sys.stderr)
        return 2
    status = 0
    for name in args[1:]:
        try:
            validate(Path(name))
        except (ValueError, FileNotFoundError) as exc:
            print(exc, file=sys.stderr)
            status = 1
        else:
            print(f"ok: {name}")
    return status


if __name__ == "__main__":
    sys.exit(main())
