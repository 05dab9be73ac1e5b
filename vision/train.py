"""Training the Original (all of D) and Retrain (D_r only) models from scratch, through the core, cached.

The recipe is a single-level run of the core's ``scalarized`` solver with ``forget_weight = 0``:
the upper objective is the cross-entropy on the training rows, the lower objective is the data-free
:func:`~vision.objectives.null_objective` (never read), the step is the
:class:`~ofmu_theory.transforms.Momentum` transform (PyTorch SGD: momentum 0.9, coupled weight decay 5e-4) with a
cosine-decayed η_k, and :class:`~ofmu_theory.MiniBatch` draws ``epochs · ⌈n/batch⌉`` retain batches
(its lower side is unused: ``n_lower = 0``, ``batch_lower = None``):

.. math:: θ_{k+1} = θ_k − η_k m_{k+1},\\quad m_{k+1} = μ m_k + ∇L(θ_k; B_k) + λ_{wd} θ_k

Original and Retrain use the same recipe and seed, so they differ only in their data (SalUn's
protocol). Trained models are cached under ``$OFMU_CACHE/vision`` (default ``~/.cache/ofmu/vision``)
in ``<dataset>-<model>-<hash>-<seed>/`` where the hash covers the training images and labels, the
model, the recipe and torch's thread count (which changes the summation order, hence the weights); the checkpoint (``vision.models.save_model``, atomic) and ``meta.json``
(recipe, seed, wall time, status, versions; atomic, written last) make one entry.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn

from ofmu_theory.epochs import batches_per_epoch, lr_schedule, steps_for
from ofmu_theory.io import write_json
from ofmu_theory.modules import ModuleParams
from ofmu_theory.problem import BilevelProblem
from ofmu_theory.runinfo import run_metadata
from ofmu_theory.sampler import MiniBatch
from ofmu_theory.solvers import Scalarized
from vision.data import VisionDataset
from vision.models import build_model, load_model, save_model
from vision.objectives import Rows, check_bn_mode, cross_entropy, null_objective
from vision.plan import Plan, execute, sgd_momentum

logger = logging.getLogger(__name__)

CACHE_ENV = "OFMU_CACHE"
_META_FORMAT = "ofmu-vision-trained/1"


@dataclass(frozen=True, kw_only=True)
class TrainConfig:
    """Model and recipe of the Original and Retrain models.

    Defaults: the small CNN (width 32, 151k parameters) of the default Fashion-MNIST bench; 30 epochs of
    batch 128 at η_0 = 0.1 with cosine decay reach 98.5 % train / 89 % test accuracy on its 9,000
    training images (measured; 12 epochs at 0.05 stay at 93 % train accuracy, so the Original would not
    memorise D_f and random forgetting would have nothing to undo).

    Attributes:
        model: a ``vision.models.MODELS`` name.
        width: the model's width (None: its default).
        epochs: passes over the training rows.
        batch_size: rows per step.
        lr: η_0 of the cosine schedule.
        momentum: μ of heavy-ball SGD.
        weight_decay: λ_wd, coupled as in PyTorch's SGD (g ← g + λ_wd θ before the momentum;
            :func:`vision.plan.sgd_momentum`).
        bn_mode: BatchNorm mode while training (``"train"``: batch statistics).
    """

    model: str = "small_cnn"
    width: int | None = None
    epochs: int = 30
    batch_size: int = 128
    lr: float = 0.1
    momentum: float = 0.9
    weight_decay: float = 5e-4
    bn_mode: str = "train"

    def __post_init__(self) -> None:
        if isinstance(self.epochs, bool) or not isinstance(self.epochs, int) or self.epochs < 1:
            raise ValueError(f"epochs must be an int >= 1, got epochs={self.epochs!r}")
        if self.batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got batch_size={self.batch_size!r}")
        if not self.lr > 0:
            raise ValueError(f"lr must be > 0, got lr={self.lr!r}")
        check_bn_mode(self.bn_mode)

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


@dataclass(frozen=True, kw_only=True, eq=False)
class Trained:
    """A trained model and how it was obtained.

    Attributes:
        model: the model (built by ``vision.models.build_model``; ``model.spec`` set).
        wall_s: seconds the training run took (recorded at training time when loaded from the cache).
        status: the core's ``Status`` name (``MAX_STEPS`` for a completed run, ``DIVERGED`` ...).
        nit: outer iterations done.
        cached: whether it was loaded from the cache.
        path: the cache folder, or None when the cache was not used.
    """

    model: nn.Module
    wall_s: float
    status: str
    nit: int
    cached: bool
    path: Path | None


def training_plan(model: nn.Module, rows: Rows, *, config: TrainConfig, seed: int) -> Plan:
    """The core run that trains ``model`` on ``rows`` with ``config`` (see the module docstring)."""
    params = ModuleParams.of(model)
    steps = steps_for(config.epochs, batches_per_epoch(len(rows), config.batch_size))
    problem = BilevelProblem(
        name=f"train[{rows.name}]",
        lower=null_objective(),
        upper=cross_entropy(params, rows, bn_mode=config.bn_mode),
        theta0=params.vector(),
        sense="max",
    )
    solver = Scalarized(
        forget_weight=0.0, retain_weight=1.0, eta=lr_schedule(config.lr, steps=steps),
        transform=sgd_momentum(momentum=config.momentum, weight_decay=config.weight_decay), max_steps=steps,
    )
    sampler = MiniBatch(n_lower=0, n_upper=len(rows), batch_lower=None, batch_upper=config.batch_size, seed=seed)
    return Plan(problem=problem, solver=solver, sampler=sampler, params=params)


def train_model(
    data: VisionDataset, indices: np.ndarray, *, config: TrainConfig, seed: int, name: str = "D",
    progress: bool = False,
) -> Trained:
    """Train a freshly initialised model (weights seeded by ``seed``) on ``data.train[indices]``."""
    rows = Rows.of(data.train, indices, name=name)
    model = build_model(config.model, in_channels=data.in_channels, num_classes=data.num_classes,
                        width=config.width, seed=seed)
    done = execute(training_plan(model, rows, config=config, seed=seed), progress=progress)
    r = done.result
    return Trained(model=model, wall_s=done.wall_s, status=r.status.name, nit=r.nit, cached=False, path=None)


def cache_root() -> Path:
    """``$OFMU_CACHE/vision``, else ``~/.cache/ofmu/vision``."""
    base = os.environ.get(CACHE_ENV) or str(Path.home() / ".cache" / "ofmu")
    return Path(base).expanduser() / "vision"


def cache_key(data: VisionDataset, indices: np.ndarray, *, config: TrainConfig, seed: int) -> str:
    """``<dataset>-<model>-<hash>-<seed>``; the hash covers the training images, labels, the recipe and torch's
    intra-op thread count (another count changes the summation order, hence the trained weights)."""
    idx = np.asarray(indices, dtype=np.int64)
    digest = hashlib.blake2b(digest_size=8)
    digest.update(np.ascontiguousarray(data.train.images[idx]).tobytes())
    digest.update(np.ascontiguousarray(data.train.labels[idx]).tobytes())
    digest.update(json.dumps({**config.to_dict(), "torch_threads": torch.get_num_threads()}, sort_keys=True).encode())
    return f"{data.name}-{config.model}-{digest.hexdigest()}-{seed}"


def load_or_train(
    data: VisionDataset, indices: np.ndarray, *, config: TrainConfig, seed: int, name: str = "D",
    cache: bool = True, progress: bool = False,
) -> Trained:
    """The cached model for (data rows, recipe, seed) if present, else train it (and cache it when ``cache``)."""
    if not cache:
        return train_model(data, indices, config=config, seed=seed, name=name, progress=progress)
    folder = cache_root() / cache_key(data, indices, config=config, seed=seed)
    meta_path, model_path = folder / "meta.json", folder / "model.pt"
    if meta_path.is_file() and model_path.is_file():
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
        if meta.get("format") == _META_FORMAT:
            logger.info("loaded %s model from %s", name, folder)
            return Trained(model=load_model(model_path), wall_s=float(meta["wall_s"]), status=meta["status"],
                           nit=int(meta["nit"]), cached=True, path=folder)
        logger.warning("ignoring %s: not a %s entry", meta_path, _META_FORMAT)
    trained = train_model(data, indices, config=config, seed=seed, name=name, progress=progress)
    if trained.status != "DIVERGED":
        save_model(model_path, trained.model)
        meta = {
            "format": _META_FORMAT, "name": name, "dataset": data.to_dict(), "n_rows": int(np.size(indices)),
            "wall_s": trained.wall_s, "status": trained.status, "nit": trained.nit,
            **run_metadata(seed=seed, config=config.to_dict()),
        }
        write_json(meta_path, meta)  # written last: a folder without it is not an entry
        logger.info("cached %s model in %s", name, folder)
    return Trained(model=trained.model, wall_s=trained.wall_s, status=trained.status, nit=trained.nit,
                   cached=False, path=folder)
