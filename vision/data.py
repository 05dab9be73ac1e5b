"""Image data held in memory: a validated, read-only container and a registry of loaders.

Every loader returns a :class:`VisionDataset` (a train :class:`ImageSet` and a test :class:`ImageSet`)
whose images are float32 ``(N, C, H, W)`` arrays, scaled to [0, 1] and then normalised per channel
with the fixed constants stored on the dataset (``mean``, ``std``), so ``x * std + mean`` recovers
the [0, 1] pixels.

SalUn / Unlearn-Sparse keep the pixels in [0, 1] and normalise inside the network
(``NormalizeByChannelMeanStd`` with the same CIFAR constants); normalising the data once instead gives
the same network inputs and keeps the models plain. One thing for future training code: SalUn's
``RandomCrop(32, padding=4)`` pads with black *before* normalising, i.e. with ``-mean / std`` here.

Loaders register themselves in :data:`DATASETS` (``fashion_mnist``, ``digits``, ``cifar10``,
``cifar100``); :func:`load_dataset` is the single entry point. Nothing here downloads anything.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ofmu_theory.registry import Registry

logger = logging.getLogger(__name__)

DatasetLoader = Callable[..., "VisionDataset"]

#: Dataset loaders by name; each is called as ``loader(root=..., normalize=...)``.
DATASETS: Registry[DatasetLoader] = Registry("dataset")


def _read_only(array: np.ndarray) -> np.ndarray:
    """A read-only view (the caller's own array keeps its flags)."""
    view = array.view()
    view.setflags(write=False)
    return view


@dataclass(frozen=True, kw_only=True, eq=False)
class ImageSet:
    """Images and integer labels of one part (train or test) of a dataset.

    Args:
        name: a label for messages and reports, e.g. ``"cifar10/train"``.
        images: float32 array of shape ``(N, C, H, W)`` with finite values.
        labels: int64 array of shape ``(N,)`` with values in ``[0, num_classes)``.
        num_classes: number of classes K (>= 1).

    Raises:
        ValueError: naming the issue when a shape, dtype, label range or pixel value is wrong.
    """

    name: str
    images: np.ndarray
    labels: np.ndarray
    num_classes: int

    def __post_init__(self) -> None:
        images, labels = self.images, self.labels
        if not isinstance(images, np.ndarray) or images.ndim != 4:
            shape = getattr(images, "shape", type(images).__name__)
            raise ValueError(f"{self.name}: images must be an array of shape (N, C, H, W), got shape {shape}")
        if images.dtype != np.float32:
            raise ValueError(f"{self.name}: images must be float32, got dtype {images.dtype}")
        if min(images.shape[1:]) < 1:
            raise ValueError(f"{self.name}: images must have C, H, W >= 1, got shape {images.shape}")
        if not isinstance(labels, np.ndarray) or labels.ndim != 1:
            shape = getattr(labels, "shape", type(labels).__name__)
            raise ValueError(f"{self.name}: labels must be a 1-D array, got shape {shape}")
        if labels.dtype != np.int64:
            raise ValueError(f"{self.name}: labels must be int64, got dtype {labels.dtype}")
        if labels.shape[0] != images.shape[0]:
            raise ValueError(
                f"{self.name}: {labels.shape[0]} labels for {images.shape[0]} images; the counts must match"
            )
        if isinstance(self.num_classes, bool) or not isinstance(self.num_classes, (int, np.integer)):
            raise ValueError(f"{self.name}: num_classes must be an int, got {self.num_classes!r}")
        if self.num_classes < 1:
            raise ValueError(f"{self.name}: num_classes must be >= 1, got {self.num_classes}")
        if labels.size and (labels.min() < 0 or labels.max() >= self.num_classes):
            bad = labels[(labels < 0) | (labels >= self.num_classes)]
            raise ValueError(
                f"{self.name}: labels out of range [0, {self.num_classes}): {bad.size} bad, e.g. {int(bad[0])}"
            )
        if not np.isfinite(images).all():
            n_bad = int(np.count_nonzero(~np.isfinite(images).reshape(images.shape[0], -1).all(axis=1)))
            raise ValueError(f"{self.name}: non-finite pixel values (NaN or inf) in {n_bad} image(s)")
        object.__setattr__(self, "num_classes", int(self.num_classes))
        object.__setattr__(self, "images", _read_only(images))
        object.__setattr__(self, "labels", _read_only(labels))

    def __len__(self) -> int:
        return int(self.labels.shape[0])

    @property
    def image_shape(self) -> tuple[int, int, int]:
        """``(C, H, W)``."""
        _, c, h, w = self.images.shape
        return (c, h, w)

    def subset(self, indices: np.ndarray, *, name: str | None = None) -> ImageSet:
        """The images at ``indices`` (in that order) as a new :class:`ImageSet`."""
        idx = np.asarray(indices)
        if idx.ndim != 1 or not np.issubdtype(idx.dtype, np.integer):
            raise ValueError(f"indices must be a 1-D integer array, got shape {idx.shape} dtype {idx.dtype}")
        if idx.size and (idx.min() < 0 or idx.max() >= len(self)):
            raise ValueError(f"indices out of range [0, {len(self)}) for {self.name}")
        return ImageSet(
            name=name or self.name,
            images=np.ascontiguousarray(self.images[idx]),
            labels=np.ascontiguousarray(self.labels[idx]),
            num_classes=self.num_classes,
        )


@dataclass(frozen=True, kw_only=True, eq=False)
class VisionDataset:
    """A named train/test pair with its normalisation constants and class names.

    Args:
        name: registry name of the dataset (``"cifar10"``, ...).
        train: the training images (validation and forget sets are cut from it by ``vision.splits``).
        test: the test images.
        mean: per-channel mean that was subtracted from [0, 1] pixels (zeros when not normalised).
        std: per-channel scale the pixels were divided by (ones when not normalised).
        class_names: one name per class.
    """

    name: str
    train: ImageSet
    test: ImageSet
    mean: tuple[float, ...]
    std: tuple[float, ...]
    class_names: tuple[str, ...] = field(default=())

    def __post_init__(self) -> None:
        if self.train.image_shape != self.test.image_shape:
            raise ValueError(
                f"{self.name}: train images {self.train.image_shape} and test images "
                f"{self.test.image_shape} must have the same (C, H, W)"
            )
        if self.train.num_classes != self.test.num_classes:
            raise ValueError(
                f"{self.name}: train num_classes={self.train.num_classes} != test num_classes={self.test.num_classes}"
            )
        channels = self.train.image_shape[0]
        if len(self.mean) != channels or len(self.std) != channels:
            raise ValueError(f"{self.name}: mean and std need {channels} values (one per channel)")
        if self.class_names and len(self.class_names) != self.num_classes:
            raise ValueError(
                f"{self.name}: {len(self.class_names)} class_names for num_classes={self.num_classes}"
            )

    @property
    def num_classes(self) -> int:
        """Number of classes K."""
        return self.train.num_classes

    @property
    def in_channels(self) -> int:
        """Image channels C (1 for grey, 3 for colour)."""
        return self.train.image_shape[0]

    @property
    def image_size(self) -> tuple[int, int]:
        """``(H, W)``."""
        return self.train.image_shape[1:]

    def to_dict(self) -> dict[str, object]:
        """Sizes and constants for run records (no pixels)."""
        return {
            "name": self.name,
            "n_train": len(self.train),
            "n_test": len(self.test),
            "num_classes": self.num_classes,
            "image_shape": list(self.train.image_shape),
            "mean": list(self.mean),
            "std": list(self.std),
        }


def normalize_images(
    pixels01: np.ndarray, *, mean: tuple[float, ...], std: tuple[float, ...]
) -> np.ndarray:
    """``(x - mean_c) / std_c`` per channel of ``(N, C, H, W)`` pixels in [0, 1], as float32."""
    if pixels01.ndim != 4 or pixels01.shape[1] != len(mean) or len(mean) != len(std):
        raise ValueError(f"pixels of shape {pixels01.shape} need one mean and std per channel, got {mean=} {std=}")
    if min(std) <= 0:
        raise ValueError(f"std must be > 0 for every channel, got {std=}")
    m = np.asarray(mean, dtype=np.float32).reshape(1, -1, 1, 1)
    s = np.asarray(std, dtype=np.float32).reshape(1, -1, 1, 1)
    out = pixels01.astype(np.float32, copy=True)
    out -= m
    out /= s
    return out


def make_dataset(
    *,
    name: str,
    train_pixels: np.ndarray,
    train_labels: np.ndarray,
    test_pixels: np.ndarray,
    test_labels: np.ndarray,
    num_classes: int,
    mean: tuple[float, ...],
    std: tuple[float, ...],
    normalize: bool,
    class_names: tuple[str, ...] = (),
) -> VisionDataset:
    """Assemble a :class:`VisionDataset` from [0, 1] pixels ``(N, C, H, W)``, normalised when ``normalize``."""
    if not normalize:
        channels = train_pixels.shape[1]
        mean, std = (0.0,) * channels, (1.0,) * channels
    train = ImageSet(
        name=f"{name}/train",
        images=normalize_images(train_pixels, mean=mean, std=std),
        labels=np.asarray(train_labels, dtype=np.int64),
        num_classes=num_classes,
    )
    test = ImageSet(
        name=f"{name}/test",
        images=normalize_images(test_pixels, mean=mean, std=std),
        labels=np.asarray(test_labels, dtype=np.int64),
        num_classes=num_classes,
    )
    data = VisionDataset(name=name, train=train, test=test, mean=mean, std=std, class_names=class_names)
    logger.info("loaded %s: %d train, %d test, image %s", name, len(train), len(test), train.image_shape)
    return data


def resolve_root(root: str | os.PathLike[str] | None, *, env_var: str, default: str | None) -> Path | None:
    """The data folder: ``root`` if given, else the environment variable, else ``default`` (None: not found)."""
    if root is not None:
        return Path(root).expanduser()
    from_env = os.environ.get(env_var)
    if from_env:
        return Path(from_env).expanduser()
    return Path(default) if default is not None else None


def load_dataset(
    name: str, *, root: str | os.PathLike[str] | None = None, normalize: bool = True
) -> VisionDataset:
    """Load the registered dataset ``name`` from local files (never downloads).

    Args:
        name: one of ``DATASETS.names()``.
        root: folder holding the files; ``None`` uses the loader's environment variable or default.
        normalize: normalise per channel with the dataset's constants (else pixels stay in [0, 1]).

    Raises:
        ValueError: unknown ``name`` (the message lists the valid ones) or malformed files.
        FileNotFoundError: the files are missing; the message says how to get them.
    """
    return DATASETS.get(name)(root=root, normalize=normalize)


def subsample(data: VisionDataset, *, n_train: int, n_test: int, seed: int) -> VisionDataset:
    """A smaller copy: ``n_train`` / ``n_test`` images drawn uniformly without replacement, kept in order.

    Useful for CPU benches (e.g. 10k Fashion-MNIST images); the same ``seed`` gives the same images.
    """
    for arg, n, total in (("n_train", n_train, len(data.train)), ("n_test", n_test, len(data.test))):
        if not 1 <= n <= total:
            raise ValueError(f"{arg} must be in [1, {total}], got {arg}={n}")
    rng = np.random.default_rng(seed)
    train_idx = np.sort(rng.choice(len(data.train), size=n_train, replace=False))
    test_idx = np.sort(rng.choice(len(data.test), size=n_test, replace=False))
    return VisionDataset(
        name=data.name,
        train=data.train.subset(train_idx),
        test=data.test.subset(test_idx),
        mean=data.mean,
        std=data.std,
        class_names=data.class_names,
    )
