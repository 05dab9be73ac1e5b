"""Shared fixtures for the vision tests: tiny synthetic datasets and the (always available) digits."""

from __future__ import annotations

import numpy as np
import pytest

from vision.data import ImageSet, VisionDataset
from vision.digits import load_digits_dataset


def make_tiny_dataset(
    *, n_per_class: int = 20, n_test_per_class: int = 5, num_classes: int = 4, channels: int = 1, size: int = 8,
    seed: int = 0,
) -> VisionDataset:
    """Random images with balanced labels in a shuffled order (train) and sorted order (test)."""
    rng = np.random.default_rng(seed)
    train_y = rng.permutation(np.repeat(np.arange(num_classes), n_per_class)).astype(np.int64)
    test_y = np.repeat(np.arange(num_classes), n_test_per_class).astype(np.int64)
    shape = (channels, size, size)
    train = ImageSet(name="tiny/train", images=rng.standard_normal((train_y.size, *shape), dtype=np.float32),
                     labels=train_y, num_classes=num_classes)
    test = ImageSet(name="tiny/test", images=rng.standard_normal((test_y.size, *shape), dtype=np.float32),
                    labels=test_y, num_classes=num_classes)
    return VisionDataset(name="tiny", train=train, test=test, mean=(0.0,) * channels, std=(1.0,) * channels)


@pytest.fixture
def tiny() -> VisionDataset:
    return make_tiny_dataset()


@pytest.fixture(scope="session")
def digits() -> VisionDataset:
    return load_digits_dataset()
