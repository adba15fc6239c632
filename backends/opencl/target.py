"""OpenCL C: emitted for OpenCL C 1.2 and 3.0, built and run through pyopencl (PoCL's CPU
device by default, any device with fine-grain SVM or memory shared with the host)."""

from ..record import Target

TARGET = Target(
    name="opencl", order=0, description="OpenCL C (pyopencl; PoCL's CPU device by default)",
    extension=".cl", dialect="dialect:DIALECT", template="program.cl.j2",
    builds="toolchain:builds", devices="devices:devices", load="loader:load",
    facts="loader:facts",
    launch_options={"memory": "auto", "groups": None})
