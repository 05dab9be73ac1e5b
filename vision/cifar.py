"""CIFAR-10 and CIFAR-100 from their official "python version" pickle batches (for users who have them).

Get them from https://www.cs.toronto.edu/~kriz/cifar.html (``cifar-10-python.tar.gz``,
``cifar-100-python.tar.gz``), extract, and pass ``root=`` or set ``OFMU_CIFAR10`` / ``OFMU_CIFAR100``.
``root`` may be the extracted folder (``cifar-10-batches-py`` / ``cifar-100-python``) or its parent.
Nothing is downloaded here.

Files: CIFAR-10 has ``data_batch_1`` … ``data_batch_5`` and ``test_batch`` (dict with ``b"data"``, a
uint8 ``(N, 3072)`` array of red, green, blue 32×32 planes, and ``b"labels"``); CIFAR-100 has ``train``
and ``test`` (``b"fine_labels"`` used, 100 classes). The official format is pickle, so it is read with
an unpickler that only resolves the few numpy names an array needs (``_reconstruct``, ``ndarray``,
``dtype``, ``_frombuffer``, plus ``_codecs.encode`` for bytes) and refuses every other global:
a tampered file cannot run code.
"""

from __future__ import annotations

import codecs
import importlib
import io
import os
import pickle
from pathlib import Path
from typing import Any

import numpy as np

from vision.data import DATASETS, VisionDataset, make_dataset, resolve_root

CIFAR_URL = "https://www.cs.toronto.edu/~kriz/cifar.html"
#: Per-channel constants used by SalUn / Unlearn-Sparse (their NormalizeByChannelMeanStd).
CIFAR10_MEAN, CIFAR10_STD = (0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616)
CIFAR100_MEAN, CIFAR100_STD = (0.5071, 0.4866, 0.4409), (0.2673, 0.2564, 0.2762)
CIFAR10_CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")

# (module, name) pairs an ndarray pickle may reference; numpy 1.x writes numpy.core, 2.x numpy._core.
_ALLOWED_GLOBALS = {
    ("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
    ("numpy.core.numeric", "_frombuffer"), ("numpy._core.numeric", "_frombuffer"),
    ("numpy", "ndarray"), ("numpy", "dtype"),
    ("_codecs", "encode"),  # bytes in protocol-2 pickles written by Python 3
}


class _ArrayOnlyUnpickler(pickle.Unpickler):
    """Resolves only numpy's array-reconstruction names; anything else is refused."""

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) not in _ALLOWED_GLOBALS:
            raise pickle.UnpicklingError(f"refusing to load global {module}.{name} from a CIFAR batch")
        if module == "numpy":
            return getattr(np, name)
        if module == "_codecs":
            return codecs.encode
        modern = module.replace("numpy.core", "numpy._core", 1)
        try:
            return getattr(importlib.import_module(modern), name)
        except ImportError:  # numpy < 2 has no numpy._core
            return getattr(importlib.import_module(module.replace("numpy._core", "numpy.core", 1)), name)


def load_cifar_batch(path: str | os.PathLike[str]) -> dict[bytes, Any]:
    """Read one CIFAR python batch safely (``encoding="bytes"`` as the files come from Python 2).

    Raises:
        ValueError: the file is not a CIFAR batch dict or references a non-numpy global.
    """
    data = Path(path).read_bytes()
    try:
        batch = _ArrayOnlyUnpickler(io.BytesIO(data), encoding="bytes").load()
    except (pickle.UnpicklingError, EOFError, AttributeError, ImportError, TypeError, ValueError) as err:
        raise ValueError(f"{path}: not a valid CIFAR python batch ({err})") from None
    if not isinstance(batch, dict):
        raise ValueError(f"{path}: a CIFAR batch must unpickle to a dict, got {type(batch).__name__}")
    return {k.encode() if isinstance(k, str) else k: v for k, v in batch.items()}


def _batch_arrays(path: Path, label_key: bytes) -> tuple[np.ndarray, np.ndarray]:
    batch = load_cifar_batch(path)
    for key in (b"data", label_key):
        if key not in batch:
            raise ValueError(f"{path}: missing key {key.decode()!r}; found {sorted(k.decode() for k in batch)}")
    data = np.asarray(batch[b"data"])
    if data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != 3 * 32 * 32:
        raise ValueError(f"{path}: data must be uint8 of shape (N, 3072), got {data.dtype} {data.shape}")
    labels = np.asarray(batch[label_key], dtype=np.int64)
    if labels.shape != (data.shape[0],):
        raise ValueError(f"{path}: {labels.shape} labels for {data.shape[0]} images")
    return data.reshape(-1, 3, 32, 32), labels  # rows are R, G, B planes: (N, 3, 32, 32)


def _folder(root: str | os.PathLike[str] | None, *, env_var: str, sub: str, first_file: str, tar: str) -> Path:
    base = resolve_root(root, env_var=env_var, default=None)
    if base is not None:
        for candidate in (base, base / sub):
            if (candidate / first_file).is_file():
                return candidate
    where = f"in {base} or {base / sub}" if base is not None else "(no root given)"
    raise FileNotFoundError(
        f"{sub}/{first_file} not found {where}. Download {tar} from {CIFAR_URL}, extract it, "
        f"and pass root= or set the environment variable {env_var}."
    )


def _load(files: list[Path], label_key: bytes) -> tuple[np.ndarray, np.ndarray]:
    for path in files:
        if not path.is_file():
            raise FileNotFoundError(f"CIFAR batch {path} is missing (download from {CIFAR_URL})")
    parts = [_batch_arrays(path, label_key) for path in files]
    pixels = np.concatenate([p for p, _ in parts]).astype(np.float32) / 255.0
    return pixels, np.concatenate([y for _, y in parts])


@DATASETS.register("cifar10")
def load_cifar10(*, root: str | os.PathLike[str] | None = None, normalize: bool = True) -> VisionDataset:
    """CIFAR-10: 50,000 train / 10,000 test colour 32×32 images, 10 classes (python pickle batches).

    Args:
        root: ``cifar-10-batches-py`` or its parent; default ``$OFMU_CIFAR10``.
        normalize: normalise with SalUn's constants (mean 0.4914, 0.4822, 0.4465; std 0.2470, 0.2435, 0.2616).

    Raises:
        FileNotFoundError: batches missing (the message says where to download them).
        ValueError: a batch is malformed or not a plain CIFAR pickle.
    """
    folder = _folder(root, env_var="OFMU_CIFAR10", sub="cifar-10-batches-py", first_file="data_batch_1",
                     tar="cifar-10-python.tar.gz")
    train_x, train_y = _load([folder / f"data_batch_{i}" for i in range(1, 6)], b"labels")
    test_x, test_y = _load([folder / "test_batch"], b"labels")
    return make_dataset(
        name="cifar10", train_pixels=train_x, train_labels=train_y, test_pixels=test_x, test_labels=test_y,
        num_classes=10, mean=CIFAR10_MEAN, std=CIFAR10_STD, normalize=normalize, class_names=CIFAR10_CLASSES,
    )


@DATASETS.register("cifar100")
def load_cifar100(*, root: str | os.PathLike[str] | None = None, normalize: bool = True) -> VisionDataset:
    """CIFAR-100 (fine labels): 50,000 train / 10,000 test colour 32×32 images, 100 classes.

    Args:
        root: ``cifar-100-python`` or its parent; default ``$OFMU_CIFAR100``.
        normalize: normalise with SalUn's constants (mean 0.5071, 0.4866, 0.4409; std 0.2673, 0.2564, 0.2762).

    Raises:
        FileNotFoundError: files missing (the message says where to download them).
        ValueError: a file is malformed or not a plain CIFAR pickle.
    """
    folder = _folder(root, env_var="OFMU_CIFAR100", sub="cifar-100-python", first_file="train",
                     tar="cifar-100-python.tar.gz")
    train_x, train_y = _load([folder / "train"], b"fine_labels")
    test_x, test_y = _load([folder / "test"], b"fine_labels")
    names: tuple[str, ...] = ()
    if (folder / "meta").is_file():
        meta = load_cifar_batch(folder / "meta").get(b"fine_label_names", [])
        names = tuple(n.decode() if isinstance(n, bytes) else str(n) for n in meta)
    return make_dataset(
        name="cifar100", train_pixels=train_x, train_labels=train_y, test_pixels=test_x, test_labels=test_y,
        num_classes=100, mean=CIFAR100_MEAN, std=CIFAR100_STD, normalize=normalize,
        class_names=names if len(names) == 100 else (),
    )
