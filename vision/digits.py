"""scikit-learn's handwritten digits (1,797 grey 8×8 images, 10 classes): always available offline.

The data ship inside the scikit-learn wheel and have no official train/test split, so one is drawn
here per class with a seeded ``numpy.random.RandomState`` (``test_fraction`` of each class, rounded).
"""

from __future__ import annotations

import os

import numpy as np

from vision.data import DATASETS, VisionDataset, make_dataset

#: Mean and std of all 1,797 images after scaling the 0..16 grey levels to [0, 1] (0.30526, 0.37605).
DIGITS_MEAN = (0.3053,)
DIGITS_STD = (0.3760,)


def load_digits_dataset(
    *, test_fraction: float = 0.2, seed: int = 0, normalize: bool = True
) -> VisionDataset:
    """The digits as a :class:`VisionDataset` with a stratified, seeded train/test split.

    Args:
        test_fraction: share of each class put in the test set, in (0, 1).
        seed: seed of the split; the same seed gives the same split.
        normalize: subtract 0.3053 and divide by 0.3760 after scaling pixels to [0, 1].
    """
    if not 0.0 < test_fraction < 1.0:
        raise ValueError(f"test_fraction must be in (0, 1), got {test_fraction=}")
    from sklearn.datasets import load_digits

    bunch = load_digits()
    pixels = (bunch.images / 16.0).astype(np.float32)[:, None]  # (1797, 1, 8, 8)
    labels = bunch.target.astype(np.int64)
    rng = np.random.RandomState(seed)
    test_parts = []
    for c in range(10):
        members = np.flatnonzero(labels == c)
        test_parts.append(rng.choice(members, size=int(round(test_fraction * members.size)), replace=False))
    is_test = np.zeros(labels.size, dtype=bool)
    is_test[np.concatenate(test_parts)] = True
    return make_dataset(
        name="digits",
        train_pixels=pixels[~is_test],
        train_labels=labels[~is_test],
        test_pixels=pixels[is_test],
        test_labels=labels[is_test],
        num_classes=10,
        mean=DIGITS_MEAN,
        std=DIGITS_STD,
        normalize=normalize,
        class_names=tuple(str(c) for c in range(10)),
    )


@DATASETS.register("digits", summary="scikit-learn's 1,797 grey 8×8 digit images, 10 classes (the fallback when "
                                     "a dataset is absent)")
def load_digits(*, root: str | os.PathLike[str] | None = None, normalize: bool = True) -> VisionDataset:
    """Registry entry: :func:`load_digits_dataset` with its defaults (test_fraction 0.2, seed 0).

    Args:
        root: must be None: the digits ship inside scikit-learn.
        normalize: see :func:`load_digits_dataset`.
    """
    if root is not None:
        raise ValueError(f"root must be None for 'digits' (they ship inside scikit-learn), got {root=}")
    return load_digits_dataset(normalize=normalize)
