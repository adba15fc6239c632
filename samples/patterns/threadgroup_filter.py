"""An image filter through threadgroup memory: a 3x3 blur by a whole work-group.

The guide's Metal section hands each image to Metal Performance Shaders' Gaussian blur.
MPS is a library of Apple's, outside any portable kernel; what it does inside is what a
Metal kernel does by hand: a threadgroup copies the image and a one-pixel border into
threadgroup memory once, waits at a barrier, and then every thread reads its neighbours
from that fast copy instead of from device memory. Here that kernel is a cooperative one
(`concurrency="cooperative", group_size=256`), so it is emitted with Metal's
`threadgroup` memory and `threadgroup_barrier`, OpenCL's `__local` and `barrier`, and
CUDA's `__shared__` and `__syncthreads`.

Each message is a 32x32 image. The 256 lanes copy its 34x34 padded tile (edges repeated)
into `tile`, an `rc.Shared[Array[f32, 1156]]`; after `rc.barrier()` each lane blurs four
pixels with the kernel [1 2 1; 2 4 2; 1 2 1] / 16 from the tile and stores them in the
shared `blurred`; after a second barrier lane 0 copies `blurred` into the reply (a
cooperative handler's `return` is lane 0's). Every product and sum is one IEEE f32
operation in a fixed order, so each reply equals numpy's blur, done the same way, bit for
bit.

Limits: a message holds one 32x32 f32 image (two such arrays: 8 KiB); a larger image is
sent as tiles that each carry their border. The Metal program is built and checked here
and run on this CPU by the Metal executing shim (`metal-shim`); ringc has no loader for
Apple GPUs yet.

    python samples/patterns/threadgroup_filter.py [opencl|sim|metal-shim|cuda-shim]
"""

import sys

import numpy as np

import ringc as rc
from ringc import Array, f32, i32

SIDE = 32                          # the image is SIDE x SIDE pixels
PADDED = SIDE + 2                  # with a one-pixel border on each side
LANES = 256


@rc.message
class Image:
    id: i32
    pixels: Array[f32, SIDE * SIDE]


@rc.ring_kernel(concurrency="cooperative", group_size=LANES)
class Blur:
    images: i32                    # images blurred (lane 0 counts)

    def on_image(self, m: Image) -> Image:
        tile: rc.Shared[Array[f32, PADDED * PADDED]]
        blurred: rc.Shared[Array[f32, SIDE * SIDE]]
        lane = rc.lane()
        for t in range(lane, PADDED * PADDED, rc.group_size()):     # the padded copy
            row = min(max(t // PADDED - 1, 0), SIDE - 1)
            col = min(max(t % PADDED - 1, 0), SIDE - 1)
            tile[t] = m.pixels[row * SIDE + col]                     # noqa: F821
        rc.barrier()                                                 # the tile is whole
        for p in range(lane, SIDE * SIDE, rc.group_size()):
            c = (p // SIDE + 1) * PADDED + p % SIDE + 1              # p's place in tile
            edges = tile[c - 1] + tile[c + 1] + tile[c - PADDED] + tile[c + PADDED]  # noqa: F821
            corners = (tile[c - PADDED - 1] + tile[c - PADDED + 1]             # noqa: F821
                       + tile[c + PADDED - 1] + tile[c + PADDED + 1])          # noqa: F821
            blurred[p] = (tile[c] * 4.0 + edges * 2.0 + corners) * 0.0625      # noqa: F821
        rc.barrier()                                                 # every pixel is done
        out = Image(id=m.id)
        if lane == 0:
            for p in range(SIDE * SIDE):
                out.pixels[p] = blurred[p]                           # noqa: F821
            self.images += 1
        return out


def numpy_blur(image: np.ndarray) -> np.ndarray:
    """The same blur in numpy, in float32 and in the kernel's order of operations."""
    t = np.pad(image.reshape(SIDE, SIDE), 1, mode="edge").astype(np.float32)
    centre = t[1:-1, 1:-1]
    edges = t[1:-1, :-2] + t[1:-1, 2:] + t[:-2, 1:-1] + t[2:, 1:-1]
    corners = t[:-2, :-2] + t[:-2, 2:] + t[2:, :-2] + t[2:, 2:]
    return ((centre * np.float32(4) + edges * np.float32(2) + corners)
            * np.float32(0.0625)).reshape(-1)


def images() -> list[np.ndarray]:
    """A gradient, a checkerboard, a single bright pixel in a corner, and noise."""
    y, x = np.mgrid[0:SIDE, 0:SIDE].astype(np.float32)
    point = np.zeros((SIDE, SIDE), np.float32)
    point[0, 0] = 16.0
    noise = np.random.default_rng(34).random((SIDE, SIDE), dtype=np.float32)
    return [(x + y) / (2 * SIDE - 2), ((x + y) % 2).astype(np.float32), point, noise]


def main(backend: str = "opencl") -> dict:
    """Blur four images; compare each with numpy's blur bit for bit."""
    names = ["gradient", "checkerboard", "corner point", "noise"]
    equal = []
    with rc.launch(Blur, backend=backend) as rt:
        for i, (name, image) in enumerate(zip(names, images())):
            got = rt.request(Blur, Image(id=i, pixels=image.reshape(-1)), timeout=60.0)
            want = numpy_blur(image)
            same = got.pixels.tobytes() == want.tobytes()
            equal.append(same)
            print(f"{name:13s}: sum {float(image.sum()):8.3f} -> {float(got.pixels.sum()):8.3f}"
                  f", corner {float(got.pixels[0]):.4f}; equals numpy's blur bit for bit: "
                  f"{'yes' if same else 'NO'}")
        blurred = rt.checkpoint(Blur)["images"]
    print(f"{int(blurred)} images blurred by {LANES} lanes each through threadgroup memory")
    return {"equal": equal, "blurred": int(blurred)}


if __name__ == "__main__":
    main(*sys.argv[1:])
