"""CUDA C++: emitted header-free, compiled to cubin by NVRTC or nvcc, run on NVIDIA GPUs
through cuda-python (cuda-bindings) or pycuda."""

from ..record import Target

TARGET = Target(
    name="cuda", order=1, description="CUDA C++ (NVRTC or nvcc; cuda-bindings or pycuda)",
    extension=".cu", dialect="dialect:DIALECT", template="program.cu.j2",
    builds="toolchain:builds", devices="devices:devices", prepare="loader:prepare",
    load="loader:load", facts="loader:facts",
    launch_options={"driver": "cuda-python", "groups": None})
