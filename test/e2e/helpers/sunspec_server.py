#!/usr/bin/python3
"""A SunSpec meter on Modbus TCP for the end-to-end tests, served by pymodbus (Debian's
python3-pymodbus, 3.0): an implementation independent of the agent's modbus-serial client.

    sunspec_server.py PORT UNIT=FIXTURE.json [UNIT=FIXTURE.json ...]

Each fixture (test/fixtures/sunspec/*.json) becomes the holding registers of one unit id: the
"SunS" marker at its baseAddress, its models with their id/length headers, and the end model
0xFFFF. Points are encoded here from the SunSpec model layouts (names, types, sizes as in the
SunSpec models repository), so the agent's decoder is checked against a second reading of the
specification. Only the registers of the map exist: reading elsewhere gets exception 2.

Control, one JSON object per line on stdin, each answered by one JSON line on stdout:
    {"unit": 1, "model": 203, "point": "Evt", "value": 4}   set a point (raw value)
Printed once listening: {"ready": true, "port": PORT}.
"""

import asyncio
import json
import logging
import sys
import threading

from pymodbus.datastore import (
    ModbusServerContext,
    ModbusSlaveContext,
    ModbusSparseDataBlock,
)
from pymodbus.server import StartAsyncTcpServer

# (name, type, size in registers), in register order after the ID and L header.
COMMON_1 = [
    ("Mn", "string", 16),
    ("Md", "string", 16),
    ("Opt", "string", 8),
    ("Vr", "string", 8),
    ("SN", "string", 16),
    ("DA", "uint16", 1),
    ("Pad", "pad", 1),
]


def _meter_layout():
    points = [
        ("A", "int16", 1), ("AphA", "int16", 1), ("AphB", "int16", 1), ("AphC", "int16", 1),
        ("A_SF", "sunssf", 1),
        ("PhV", "int16", 1), ("PhVphA", "int16", 1), ("PhVphB", "int16", 1),
        ("PhVphC", "int16", 1),
        ("PPV", "int16", 1), ("PhVphAB", "int16", 1), ("PhVphBC", "int16", 1),
        ("PhVphCA", "int16", 1),
        ("V_SF", "sunssf", 1),
        ("Hz", "int16", 1), ("Hz_SF", "sunssf", 1),
    ]
    for quantity in ("W", "VA", "VAR", "PF"):
        points += [(quantity, "int16", 1)]
        points += [(f"{quantity}ph{p}", "int16", 1) for p in "ABC"]
        points += [(f"{quantity}_SF", "sunssf", 1)]
    for group, sf in (
        (("TotWhExp", "TotWhImp"), "TotWh_SF"),
        (("TotVAhExp", "TotVAhImp"), "TotVAh_SF"),
        (("TotVArhImpQ1", "TotVArhImpQ2", "TotVArhExpQ3", "TotVArhExpQ4"), "TotVArh_SF"),
    ):
        for name in group:
            points += [(name, "acc32", 2)]
            points += [(f"{name}Ph{p}", "acc32", 2) for p in "ABC"]
        points += [(sf, "sunssf", 1)]
    points += [("Evt", "bitfield32", 2)]
    return points


METER = _meter_layout()
LAYOUTS = {1: COMMON_1, 201: METER, 202: METER, 203: METER, 204: METER}
assert sum(size for _, _, size in METER) == 105, "models 201-204 are 105 registers long"

NOT_IMPLEMENTED = {
    "int16": [0x8000],
    "sunssf": [0x8000],
    "uint16": [0xFFFF],
    "acc32": [0, 0],
    "bitfield32": [0xFFFF, 0xFFFF],
    "pad": [0x8000],
}


def encode(kind, size, value):
    if value is None:
        return [0] * size if kind == "string" else list(NOT_IMPLEMENTED[kind])
    if kind == "string":
        raw = str(value).encode("ascii")[: size * 2].ljust(size * 2, b"\0")
        return [(raw[i] << 8) | raw[i + 1] for i in range(0, size * 2, 2)]
    value = int(value)
    if kind in ("int16", "sunssf", "pad"):
        return [value & 0xFFFF]
    if kind == "uint16":
        return [value & 0xFFFF]
    if kind in ("acc32", "bitfield32"):
        value &= 0xFFFFFFFF
        return [value >> 16, value & 0xFFFF]
    raise ValueError(f"unknown point type {kind}")


class Device:
    """One unit: its register map, and where each point of each model lives."""

    def __init__(self, fixture):
        self.registers = {}
        self.points = {}  # (model id, point name) -> (address, type, size)
        base = fixture["baseAddress"]
        self._put(base, [0x5375, 0x6E53])  # "SunS"
        address = base + 2
        for model in fixture["models"]:
            model_id, length = model["id"], model["length"]
            self._put(address, [model_id, length])
            data = address + 2
            if "raw" in model:
                self._put(data, [int(v) & 0xFFFF for v in model["raw"]][:length])
            else:
                offset = 0
                values = model.get("points", {})
                for name, kind, size in LAYOUTS[model_id]:
                    if offset + size > length:
                        break  # model 1 with L = 65 has no Pad
                    self.points[(model_id, name)] = (data + offset, kind, size)
                    self._put(data + offset, encode(kind, size, values.get(name)))
                    offset += size
            address = data + length
        self._put(address, [0xFFFF, 0])

    def _put(self, address, values):
        for i, value in enumerate(values):
            self.registers[address + i] = value

    def set_point(self, model_id, name, value):
        address, kind, size = self.points[(model_id, name)]
        values = encode(kind, size, value)
        self._put(address, values)
        return address, values


def main():
    logging.basicConfig(level=logging.CRITICAL)
    port = int(sys.argv[1])
    devices = {}
    for arg in sys.argv[2:]:
        unit, path = arg.split("=", 1)
        with open(path, encoding="utf-8") as f:
            devices[int(unit)] = Device(json.load(f))
    slaves = {
        unit: ModbusSlaveContext(hr=ModbusSparseDataBlock(dict(d.registers)), zero_mode=True)
        for unit, d in devices.items()
    }
    context = ModbusServerContext(slaves=slaves, single=False)

    def answer(obj):
        sys.stdout.write(json.dumps(obj) + "\n")
        sys.stdout.flush()

    def control():
        for line in sys.stdin:
            line = line.strip()
            if not line:
                continue
            try:
                request = json.loads(line)
                unit = int(request["unit"])
                address, values = devices[unit].set_point(
                    int(request["model"]), request["point"], request["value"]
                )
                context[unit].setValues(3, address, values)
                answer({"ok": True, "address": address, "values": values})
            except Exception as error:  # pylint: disable=broad-except
                answer({"ok": False, "error": str(error)})

    async def serve():
        server = await StartAsyncTcpServer(
            context=context,
            address=("127.0.0.1", port),
            defer_start=True,
            allow_reuse_address=True,
        )
        task = asyncio.create_task(server.serve_forever())
        await server.serving
        answer({"ready": True, "port": port})
        threading.Thread(target=control, daemon=True).start()
        await task

    asyncio.run(serve())


if __name__ == "__main__":
    main()
