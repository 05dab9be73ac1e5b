"""Splits: sizes, disjointness, per-class validation share, determinism, SalUn's procedure, bad inputs."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.vision.conftest import make_tiny_dataset
from vision.data import VisionDataset
from vision.splits import make_split, per_class_validation, sample_random_forget


def _salun_reference(labels: np.ndarray, *, seed: int, forget_class: int, n_forget: int | None):
    """SalUn's procedure step by step (dataset.py / main_random.py), written independently.

    Val: RandomState(seed), per class int(0.1 n_c) draws; train = set difference; forget marked by
    negating labels (-y-1) at RandomState(seed-1) draws (class -1 = all) or at every image of the class.
    """
    rng = np.random.RandomState(seed)
    valid = np.hstack([
        rng.choice(np.where(labels == c)[0], int(0.1 * len(np.where(labels == c)[0])), replace=False)
        for c in range(labels.max() + 1)
    ])
    train_idx = np.array(list(set(range(labels.size)) - set(valid.tolist())))
    marked = labels[train_idx].copy()
    if forget_class == -1:
        positions = np.random.RandomState(seed - 1).choice(np.flatnonzero(np.ones_like(marked)), size=n_forget,
                                                           replace=False)
    else:
        positions = np.flatnonzero(marked == forget_class)
    marked[positions] = -marked[positions] - 1
    return valid, train_idx, train_idx[marked < 0], train_idx[marked >= 0]


@pytest.mark.parametrize("seed", [1, 2, 7])
def test_random_split_equals_salun_procedure(seed: int) -> None:
    data = make_tiny_dataset(n_per_class=50, num_classes=5, seed=seed)
    split = make_split(data, mode="random", forget_fraction=0.1, seed=seed)
    valid, train, forget, retain = _salun_reference(data.train.labels, seed=seed, forget_class=-1,
                                                    n_forget=split.forget.size)
    assert split.forget.size == round(0.1 * train.size)
    for ours, theirs in ((split.val, valid), (split.train, train), (split.forget, forget), (split.retain, retain)):
        np.testing.assert_array_equal(ours, theirs)


def test_class_split_equals_salun_procedure_and_drops_class_from_test() -> None:
    data = make_tiny_dataset(n_per_class=30, num_classes=4)
    split = make_split(data, mode="class", forget_class=2, seed=3)
    _, _, forget, retain = _salun_reference(data.train.labels, seed=3, forget_class=2, n_forget=None)
    np.testing.assert_array_equal(split.forget, forget)
    np.testing.assert_array_equal(split.retain, retain)
    assert set(data.train.labels[split.forget]) == {2} and 2 not in set(data.train.labels[split.retain])
    assert 2 not in set(data.test.labels[split.test]) and split.test.size == len(data.test) - 5
    assert 2 in set(data.train.labels[split.val])  # SalUn keeps the class in validation
    assert split.remaining_classes == (0, 1, 3)


@pytest.mark.parametrize("mode", ["random", "class"])
def test_sets_are_disjoint_and_cover_the_training_images(mode: str) -> None:
    data = make_tiny_dataset(n_per_class=40, num_classes=5)
    kwargs = {"forget_class": 1} if mode == "class" else {"forget_fraction": 0.2}
    split = make_split(data, mode=mode, **kwargs)
    everything = np.concatenate([split.val, split.forget, split.retain])
    assert np.array_equal(np.sort(everything), np.arange(len(data.train)))
    assert np.array_equal(np.sort(np.concatenate([split.forget, split.retain])), split.train)
    assert np.all(np.diff(split.forget) > 0) and np.all(np.diff(split.retain) > 0)
    assert split.to_dict()["n_forget"] == split.forget.size
    with pytest.raises(ValueError):
        split.forget[0] = 0  # read-only


def test_per_class_validation_share() -> None:
    labels = np.repeat(np.arange(3), [100, 55, 9])
    train, val = per_class_validation(labels, num_classes=3, val_fraction=0.1, seed=1)
    assert np.bincount(labels[val], minlength=3).tolist() == [10, 5, 0]  # int(0.1 * n_c), as SalUn
    assert np.intersect1d(train, val).size == 0 and train.size + val.size == labels.size


def test_seed_determinism_and_sensitivity() -> None:
    data = make_tiny_dataset(n_per_class=40)
    a, b, c = make_split(data, seed=5), make_split(data, seed=5), make_split(data, seed=6)
    assert np.array_equal(a.forget, b.forget) and np.array_equal(a.val, b.val)
    assert not np.array_equal(a.forget, c.forget)


@given(n=st.integers(2, 500), fraction=st.floats(0.01, 0.99), seed=st.integers(0, 2**31 - 1))
def test_random_forget_draw_properties(n: int, fraction: float, seed: int) -> None:
    k = int(round(fraction * n))
    if not 1 <= k < n:
        with pytest.raises(ValueError, match="forget"):
            sample_random_forget(n, forget_fraction=fraction, seed=seed)
        return
    draw = sample_random_forget(n, forget_fraction=fraction, seed=seed)
    assert draw.size == k and np.unique(draw).size == k and draw.min() >= 0 and draw.max() < n


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"forget_fraction": 0.0}, r"forget_fraction must be in \(0, 1\)"),
        ({"forget_fraction": 1.0}, r"forget_fraction must be in \(0, 1\)"),
        ({"forget_fraction": -0.5}, r"forget_fraction must be in \(0, 1\)"),
        ({"forget_fraction": 0.001}, "forgets none"),
        ({"mode": "class", "forget_class": 4}, "forget_class=4 does not exist"),
        ({"mode": "class", "forget_class": -1}, "forget_class=-1 does not exist"),
        ({"mode": "class"}, "needs an int forget_class"),
        ({"mode": "random", "forget_class": 1}, "forget_class must be None"),
        ({"mode": "sample"}, "mode must be one of"),
        ({"val_fraction": 1.0}, r"val_fraction must be in \[0, 1\)"),
        ({"seed": 0}, "seed must be an int >= 1"),
    ],
)
def test_bad_inputs_name_the_argument(kwargs: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        make_split(make_tiny_dataset(), **kwargs)


def test_class_without_training_images_and_empty_retain() -> None:
    with pytest.raises(ValueError, match="retain set is empty"):
        make_split(make_tiny_dataset(num_classes=1), mode="class", forget_class=0)
    data = make_tiny_dataset(num_classes=3)
    without_2 = data.train.subset(np.flatnonzero(data.train.labels != 2))
    no_2 = VisionDataset(name="no2", train=without_2, test=data.test, mean=(0.0,), std=(1.0,))
    with pytest.raises(ValueError, match="forget_class=2 has no training images"):
        make_split(no_2, mode="class", forget_class=2)
