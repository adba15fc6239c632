"""The executing shims: backends that run another target's emitted source on this CPU
(docs/shims.md). `cuda-shim` runs the CUDA C++ ringc emits, `metal-shim` its Metal Shading
Language, each compiled as C++ by g++ (or clang++) with a header giving the target's
builtins bodies, on host threads driven by the same `Runtime`. They test the emitted
programs where no GPU is; they are not GPUs, and never the default backend."""

from ..record import Target

RUNNERS = (
    Target(name="cuda-shim", order=10, runs_source_of="cuda",
           description="the emitted CUDA C++ run on this CPU (g++ + executing shim; not a GPU)",
           devices="devices:cuda_devices", load="loader:load_cuda",
           facts="loader:cuda_facts",
           launch_options={"groups": None}),
    Target(name="metal-shim", order=11, runs_source_of="metal",
           description="the emitted Metal run on this CPU (g++ + executing shim; not a GPU)",
           devices="devices:metal_devices", load="loader:load_metal",
           facts="loader:metal_facts",
           launch_options={"groups": None}),
)
