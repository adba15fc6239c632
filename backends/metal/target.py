"""Metal Shading Language: emitted and syntax-checked here (g++ over a shim header); ringc
has no Metal loader, so programs do not run."""

from ..record import Target

TARGET = Target(
    name="metal", order=2, description="Metal Shading Language (checked with a shim here)",
    extension=".metal", dialect="dialect:DIALECT", template="program.metal.j2",
    builds="toolchain:builds", devices="devices:devices",
    cannot_run="ringc cannot run Metal programs on a GPU: Metal runs only on Apple hardware, "
               "and ringc has no Metal loader yet (backend=\"metal-shim\" runs the emitted "
               "MSL on this CPU, to test it)")
