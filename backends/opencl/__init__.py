"""The opencl target."""
