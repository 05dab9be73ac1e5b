"""Retrain: the gold standard — train from scratch on D_r with the Original's recipe."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from vision.methods.base import METHODS, Method, UnlearnTask
from vision.models import build_model
from vision.plan import Plan
from vision.train import TrainConfig, training_plan


@METHODS.register("retrain")
@dataclass(frozen=True, kw_only=True)
class Retrain(Method):
    """A fresh model (weights seeded by the task's seed) trained on D_r by ``vision.train.training_plan``.

    The architecture is the given model's (``model.spec``); everything else comes from ``recipe`` —
    the same recipe and seed as the Original, so Original and Retrain differ only in their data.
    Core: ``scalarized`` with γ_f = 0 (see ``vision.train``). The bench reads Retrain from the cache
    (``vision.train.load_or_train``); this method always trains.
    """

    name = "retrain"
    bench_rank = 0
    core_solver = "scalarized"
    test_settings = {"recipe": TrainConfig(width=8, epochs=1, lr=0.05, batch_size=64)}

    recipe: TrainConfig = field(default_factory=TrainConfig)

    def plan(self, task: UnlearnTask) -> Plan:
        spec = task.model.spec
        config = replace(self.recipe, model=spec.name, width=spec.width)
        model = build_model(spec.name, in_channels=spec.in_channels, num_classes=spec.num_classes,
                            width=spec.width, seed=task.seed)
        return training_plan(model, task.retain, config=config, seed=task.seed)
