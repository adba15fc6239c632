"""The simulator: runs a program's IR in Python over the same arena and protocol as a
device; the oracle every device target is tested against. It emits no source."""

from ..record import Target

TARGET = Target(
    name="sim", order=9, description="the Python simulator (runs the IR; the oracle)",
    devices="devices:devices", prepare="device:prepare", load="device:load",
    facts="device:facts",
    launch_options={"groups": None})
