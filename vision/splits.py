"""Train / validation / test and forget / retain index sets, drawn as the SalUn code draws them.

Reconstructed from OPTML-Group/Unlearn-Saliency ``Classification/dataset.py`` (``cifar10_dataloaders``,
``replace_class``, ``replace_indexes``) and ``main_random.py`` / ``main_forget.py``:

1. **Validation.** ``rng = RandomState(seed)``; for each class c = 0..K-1 in turn,
   ``rng.choice(idx_c, int(val_fraction * |idx_c|), replace=False)`` where ``idx_c`` are the training
   positions of class c; the validation indices are these draws concatenated (class by class, in draw
   order). The remaining positions, ascending, form the training set D (45,000 of CIFAR-10's 50,000).
2. **Random forgetting.** ``RandomState(seed - 1).choice(arange(|D|), n_f, replace=False)`` over
   positions in D (SalUn calls ``replace_class(class_to_replace=-1, seed=seed-1)``), with
   n_f = round(forget_fraction · |D|) (SalUn passes the count, e.g. 4,500 = 10 % of 45,000).
3. **Class-wise forgetting.** D_f = every image of ``forget_class`` in D; the test set drops that class
   (so TA is over the remaining classes); the validation set keeps it, as in SalUn.

D_f and D_r = D \\ D_f are ascending, so "the first |test| retain samples" used by MIA-Efficacy are the
same images SalUn uses. With the same data order and seed the indices equal SalUn's. One deliberate
difference: SalUn's ``val_loader`` is cut with seed 1 whatever ``--seed`` is (so for seed != 1 it can
overlap the training set); here the validation set is always the one removed from D.

All indices are positions in ``data.train`` (train, val, forget, retain) or ``data.test`` (test).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from vision.data import VisionDataset

FORGET_MODES = ("random", "class")


def _frozen(a: np.ndarray) -> np.ndarray:
    out = np.ascontiguousarray(a, dtype=np.int64)
    out.setflags(write=False)
    return out


@dataclass(frozen=True, kw_only=True, eq=False)
class Split:
    """Index sets of one unlearning task.

    Attributes:
        mode: ``"random"`` or ``"class"``.
        train: positions of D in ``data.train`` (ascending; val removed).
        val: positions of the validation images in ``data.train`` (SalUn's order).
        test: positions in ``data.test`` used for TA and as MIA non-members (class-wise: without the class).
        forget: D_f, ascending subset of ``train``.
        retain: D_r = train minus forget, ascending.
        forget_class: the forgotten class in class mode; None in random mode.
        seed: the seed the split was drawn with.
        num_classes: K of the dataset.
    """

    mode: str
    train: np.ndarray
    val: np.ndarray
    test: np.ndarray
    forget: np.ndarray
    retain: np.ndarray
    forget_class: int | None
    seed: int
    num_classes: int

    def __post_init__(self) -> None:
        for name in ("train", "val", "test", "forget", "retain"):
            object.__setattr__(self, name, _frozen(getattr(self, name)))

    @property
    def remaining_classes(self) -> tuple[int, ...]:
        """Classes TA is computed over: all, or all but ``forget_class``."""
        return tuple(c for c in range(self.num_classes) if c != self.forget_class)

    def to_dict(self) -> dict[str, object]:
        """Mode, seed and set sizes for run records."""
        return {
            "mode": self.mode,
            "seed": self.seed,
            "forget_class": self.forget_class,
            "n_train": int(self.train.size),
            "n_val": int(self.val.size),
            "n_test": int(self.test.size),
            "n_forget": int(self.forget.size),
            "n_retain": int(self.retain.size),
        }


def per_class_validation(
    labels: np.ndarray, *, num_classes: int, val_fraction: float, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """SalUn's validation cut: ``(train, val)`` positions; ``int(val_fraction * n_c)`` of each class c.

    Raises:
        ValueError: ``val_fraction`` outside [0, 1).
    """
    if not 0.0 <= val_fraction < 1.0:
        raise ValueError(f"val_fraction must be in [0, 1), got {val_fraction=}")
    labels = np.asarray(labels)
    rng = np.random.RandomState(seed)
    parts = [
        rng.choice(np.flatnonzero(labels == c), int(val_fraction * np.count_nonzero(labels == c)), replace=False)
        for c in range(num_classes)
    ]
    val = np.concatenate(parts).astype(np.int64) if parts else np.zeros(0, np.int64)
    train = np.setdiff1d(np.arange(labels.size), val)  # ascending, like SalUn's set difference
    return train, val


def sample_random_forget(n_train: int, *, forget_fraction: float, seed: int) -> np.ndarray:
    """Ascending positions in [0, n_train) of a uniform draw without replacement (SalUn's ``replace_class(-1)``).

    ``seed`` is used as given (``make_split`` passes its seed minus one, as SalUn does).

    Raises:
        ValueError: ``forget_fraction`` outside (0, 1), or a draw that leaves D_f or D_r empty.
    """
    if not 0.0 < forget_fraction < 1.0:
        raise ValueError(f"forget_fraction must be in (0, 1), got {forget_fraction=}")
    n_forget = int(round(forget_fraction * n_train))
    if n_forget < 1:
        raise ValueError(f"forget_fraction={forget_fraction} of {n_train} training images forgets none")
    if n_forget >= n_train:
        raise ValueError(f"forget_fraction={forget_fraction} of {n_train} training images leaves the retain set empty")
    rng = np.random.RandomState(seed)
    return np.sort(rng.choice(np.arange(n_train), size=n_forget, replace=False))


def make_split(
    data: VisionDataset,
    *,
    mode: str = "random",
    forget_fraction: float = 0.1,
    forget_class: int | None = None,
    val_fraction: float = 0.1,
    seed: int = 2,
) -> Split:
    """Draw the validation, forget and retain sets of ``data`` (see the module docstring).

    Args:
        data: the dataset; only its labels are read.
        mode: ``"random"`` (forget ``forget_fraction`` of D) or ``"class"`` (forget ``forget_class``).
        forget_fraction: share of D forgotten in random mode, in (0, 1).
        forget_class: class forgotten in class mode (must be None in random mode).
        val_fraction: share of each class held out for validation, in [0, 1).
        seed: >= 1; validation uses ``RandomState(seed)``, random forgetting ``RandomState(seed - 1)``
            (SalUn's default ``--seed`` is 2).

    Raises:
        ValueError: bad mode, fraction, class or seed; or an empty forget, retain or test set.
    """
    if mode not in FORGET_MODES:
        raise ValueError(f"mode must be one of {FORGET_MODES}, got {mode=}")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 1:
        raise ValueError(f"seed must be an int >= 1 (random forgetting draws with seed - 1, as SalUn), got {seed=}")
    k = data.num_classes
    train_labels, test_labels = data.train.labels, data.test.labels
    train, val = per_class_validation(train_labels, num_classes=k, val_fraction=val_fraction, seed=int(seed))
    test = np.arange(len(data.test))
    if mode == "random":
        if forget_class is not None:
            raise ValueError(f"forget_class must be None in random mode, got {forget_class=}")
        positions = sample_random_forget(train.size, forget_fraction=forget_fraction, seed=int(seed) - 1)
        is_forget = np.zeros(train.size, dtype=bool)
        is_forget[positions] = True
        cls: int | None = None
    else:
        if isinstance(forget_class, bool) or not isinstance(forget_class, (int, np.integer)):
            raise ValueError(f"class mode needs an int forget_class, got {forget_class=}")
        if not 0 <= forget_class < k:
            raise ValueError(f"forget_class={forget_class} does not exist; {data.name} has classes 0..{k - 1}")
        cls = int(forget_class)
        is_forget = train_labels[train] == cls
        if not is_forget.any():
            raise ValueError(f"forget_class={cls} has no training images left after the validation cut")
        test = test[test_labels != cls]
    forget, retain = train[is_forget], train[~is_forget]
    if retain.size == 0:
        raise ValueError(f"the retain set is empty: every training image of {data.name} would be forgotten")
    if test.size == 0:
        raise ValueError(f"the test set is empty after removing forget_class={cls}")
    return Split(
        mode=mode, train=train, val=val, test=test, forget=forget, retain=retain,
        forget_class=cls, seed=int(seed), num_classes=k,
    )
