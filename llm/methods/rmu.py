"""RMU: steer the forget activations of one layer to a fixed random direction, keep retain activations."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from llm import objectives
from llm.methods.base import METHODS, Method, UnlearnTask, check_choice, check_nonnegative, check_positive
from llm.runner import Plan
from ofmu_theory.solvers import Scalarized

_DOWN_PROJ = ("mlp.down_proj", "mlp.c_proj", "mlp.fc2", "mlp.dense_4h_to_h")


def transformer_blocks(model: nn.Module) -> tuple[str, int]:
    """(name, count) of the ModuleList holding the transformer blocks (``transformer.h``, ``model.layers``)."""
    n = getattr(model.config, "num_hidden_layers", None)
    for name, module in model.named_modules():
        if isinstance(module, nn.ModuleList) and len(module) == n:
            return name, n
    raise ValueError(f"cannot find the {n} transformer blocks of {type(model).__name__}")


def down_projection(model: nn.Module, block: str) -> str:
    """The MLP output projection module of a block (``mlp.down_proj`` in Llama, ``mlp.c_proj`` in GPT-2)."""
    for child in _DOWN_PROJ:
        try:
            model.get_submodule(f"{block}.{child}")
        except AttributeError:
            continue
        return f"{block}.{child}"
    raise ValueError(f"block {block!r} has none of the MLP output projections {_DOWN_PROJ}")


@METHODS.register("rmu")
@dataclass(frozen=True, kw_only=True)
class RMU(Method):
    """Minimise γ·L_act(h_ℓ(x_f), c·u) + α·L_act(h_ℓ(x_r), h_ℓ^ref(x_r)) over the MLP output projections of
    blocks ``trainable_layers`` (OpenUnlearning ``RMU``, after WMDP). u = a uniform [0, 1)^d draw normalised
    to 1 (``torch.rand``, seeded by the run's seed), h_ℓ the output of block ``layer``, L_act the masked
    mean squared distance over answer tokens (:func:`llm.losses.activation_loss`).

    Core: ``scalarized`` with γ_f = γ, λ = α on L_f = −L_act(h_ℓ(x_f), c·u) (sense "max"). Under LoRA, θ
    is the adapters of those projections only.

    Attributes:
        layer: ℓ (None: the middle block, ⌊n/2⌋).
        trainable_layers: blocks whose MLP output projection is trained (None: ℓ−2, ℓ−1, ℓ).
        steering_coeff: c.
        retain_loss: ``"embed_diff"`` (activations of the reference model) or ``"nll"``.
    """

    name = "rmu"
    bench_rank = 60
    test_settings = {"layer": 1}  # the tests' GPT-2 has 2 blocks
    EMBEDDED = {"lr": 1e-2, "epochs": 5.0, "batch_size": 8, "retain_batch_size": 32, "warmup_epochs": 1.0,
                "layer": None, "steering_coeff": 20.0, "alpha": 10.0}

    gamma: float = 1.0
    alpha: float = 1000.0
    steering_coeff: float = 300.0
    layer: int | None = 7
    trainable_layers: tuple[int, ...] | None = None
    retain_loss: str = "embed_diff"

    def __post_init__(self) -> None:
        super().__post_init__()
        check_nonnegative(gamma=self.gamma, alpha=self.alpha)
        check_positive(steering_coeff=self.steering_coeff)
        check_choice("retain_loss", self.retain_loss, ("embed_diff", "nll"))
        if self.layer is not None and (isinstance(self.layer, bool) or not isinstance(self.layer, int) or self.layer < 0):
            raise ValueError(f"layer must be an int >= 0 or None, got layer={self.layer!r}")

    def layers(self, model: nn.Module) -> tuple[str, int, tuple[int, ...]]:
        """(blocks name, ℓ, trainable block indices), validated against the model."""
        blocks, n = transformer_blocks(model)
        layer = n // 2 if self.layer is None else self.layer
        if layer >= n:
            raise ValueError(f"layer must be < {n} (the model's blocks), got layer={layer}")
        train = self.trainable_layers if self.trainable_layers is not None else tuple(range(max(0, layer - 2), layer + 1))
        bad = [i for i in train if not 0 <= i <= layer]
        if bad or not train:
            raise ValueError(f"trainable_layers must be non-empty block indices in [0, {layer}], got {train!r}")
        return blocks, layer, tuple(train)

    def lora_targets(self, model: nn.Module) -> tuple[str, ...]:
        blocks, _, train = self.layers(model)
        return tuple(down_projection(model, f"{blocks}.{i}") for i in train)

    def trainable(self, model: nn.Module) -> tuple[str, ...]:
        return tuple(f"{name}.weight" for name in self.lora_targets(model))

    def plan(self, task: UnlearnTask) -> Plan:
        blocks, layer, _ = self.layers(task.model)
        hooked = f"{blocks}.{layer}"
        generator = torch.Generator().manual_seed(task.seed)
        u = torch.rand(task.model.config.hidden_size, generator=generator)
        control = u / u.norm() * self.steering_coeff
        lower = objectives.neg_rmu(task.params, task.forget, layer=hooked, control=control)
        if self.retain_loss == "embed_diff":
            upper = objectives.rmu_retain(task.params, task.retain, task.reference, layer=hooked)
        else:
            upper = objectives.nll(task.params, task.retain)
        sampler = self.sampler(task)
        solver = Scalarized(forget_weight=self.gamma, retain_weight=self.alpha, eta=self.eta(sampler),
                            transform=self.adamw(), max_steps=self.max_steps(sampler))
        return Plan(problem=task.problem(lower=lower, upper=upper, name="rmu"), solver=solver, sampler=sampler,
                    params=task.params)
