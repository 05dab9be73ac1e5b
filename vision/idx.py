"""Fashion-MNIST from its original IDX files (gzip-compressed or not).

IDX layout (LeCun's MNIST format): two zero bytes, a type byte (0x08 uint8, 0x09 int8, 0x0B int16,
0x0C int32, 0x0D float32, 0x0E float64), a byte with the number of dimensions d, then d big-endian
uint32 sizes, then the values in big-endian C order.

Offline source: Debian's ``dataset-fashion-mnist`` package installs the four files in
``/usr/share/datasets/fashion-mnist``; the environment variable ``OFMU_FASHION_MNIST`` or the ``root``
argument points elsewhere.
"""

from __future__ import annotations

import gzip
import os
from pathlib import Path

import numpy as np

from vision.data import DATASETS, VisionDataset, make_dataset, resolve_root

FASHION_MNIST_ENV = "OFMU_FASHION_MNIST"
FASHION_MNIST_DEFAULT_ROOT = "/usr/share/datasets/fashion-mnist"
#: Mean and std of the 60k training pixels in [0, 1] (measured: 0.28604, 0.35302).
FASHION_MNIST_MEAN = (0.2860,)
FASHION_MNIST_STD = (0.3530,)
FASHION_MNIST_CLASSES = (
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
)

_IDX_TYPES: dict[int, str] = {0x08: "u1", 0x09: "i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def parse_idx(raw: bytes, *, source: str = "<bytes>") -> np.ndarray:
    """Decode the bytes of one IDX file into an array of its declared shape and type.

    Raises:
        ValueError: bad magic number, unknown type code, or a size that does not match the header.
    """
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0:
        raise ValueError(f"{source}: not an IDX file (the first two bytes must be zero)")
    type_code, ndim = raw[2], raw[3]
    if type_code not in _IDX_TYPES:
        raise ValueError(f"{source}: unknown IDX type code 0x{type_code:02X}")
    if ndim < 1:
        raise ValueError(f"{source}: IDX header declares {ndim} dimensions; need at least 1")
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise ValueError(f"{source}: truncated IDX header ({len(raw)} bytes for {ndim} dimensions)")
    shape = tuple(int(d) for d in np.frombuffer(raw, dtype=">u4", count=ndim, offset=4))
    dtype = np.dtype(_IDX_TYPES[type_code])
    expected = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if len(raw) - header != expected:
        raise ValueError(
            f"{source}: IDX body has {len(raw) - header} bytes, header shape {shape} needs {expected}"
        )
    values = np.frombuffer(raw, dtype=dtype, offset=header).reshape(shape)
    return values.astype(dtype.newbyteorder("="), copy=True)


def read_idx(path: str | os.PathLike[str]) -> np.ndarray:
    """Read an IDX file; a name ending in ``.gz`` is decompressed first."""
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as handle:
            raw = handle.read()
    except gzip.BadGzipFile as err:
        raise ValueError(f"{path}: not a valid gzip file ({err})") from None
    return parse_idx(raw, source=str(path))


def _find(root: Path, stem: str) -> Path:
    for candidate in (root / f"{stem}.gz", root / stem):
        if candidate.is_file():
            return candidate
    raise FileNotFoundError(
        f"Fashion-MNIST file {stem}(.gz) not found in {root}. Install it with "
        f"`apt-get install dataset-fashion-mnist` (files land in {FASHION_MNIST_DEFAULT_ROOT}), "
        f"or point the environment variable {FASHION_MNIST_ENV} (or root=) to a folder with the IDX files."
    )


def _read_pair(root: Path, prefix: str) -> tuple[np.ndarray, np.ndarray]:
    images = read_idx(_find(root, f"{prefix}-images-idx3-ubyte"))
    labels = read_idx(_find(root, f"{prefix}-labels-idx1-ubyte"))
    if images.ndim != 3 or images.dtype != np.uint8:
        raise ValueError(f"Fashion-MNIST {prefix} images must be uint8 (N, H, W), got {images.dtype} {images.shape}")
    if labels.ndim != 1 or labels.shape[0] != images.shape[0]:
        raise ValueError(f"Fashion-MNIST {prefix}: {labels.shape} labels for {images.shape[0]} images")
    return images, labels


@DATASETS.register("fashion_mnist")
def load_fashion_mnist(
    *, root: str | os.PathLike[str] | None = None, normalize: bool = True
) -> VisionDataset:
    """Fashion-MNIST: 60,000 train / 10,000 test grey 28×28 images, 10 classes.

    Args:
        root: folder with ``{train,t10k}-{images-idx3,labels-idx1}-ubyte[.gz]``; default
            ``$OFMU_FASHION_MNIST`` or ``/usr/share/datasets/fashion-mnist``.
        normalize: subtract 0.2860 and divide by 0.3530 after scaling pixels to [0, 1].

    Raises:
        FileNotFoundError: the files are missing (the message names the Debian package and variable).
        ValueError: a file is not valid IDX or the labels are out of range.
    """
    folder = resolve_root(root, env_var=FASHION_MNIST_ENV, default=None) or Path(FASHION_MNIST_DEFAULT_ROOT)
    train_x, train_y = _read_pair(folder, "train")
    test_x, test_y = _read_pair(folder, "t10k")
    return make_dataset(
        name="fashion_mnist",
        train_pixels=train_x[:, None].astype(np.float32) / 255.0,  # (N, 1, 28, 28)
        train_labels=train_y,
        test_pixels=test_x[:, None].astype(np.float32) / 255.0,
        test_labels=test_y,
        num_classes=10,
        mean=FASHION_MNIST_MEAN,
        std=FASHION_MNIST_STD,
        normalize=normalize,
        class_names=FASHION_MNIST_CLASSES,
    )
