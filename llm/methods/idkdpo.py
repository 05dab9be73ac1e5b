"""IdkDPO: DPO preferring an "I don't know" answer over the true answer on the forget set."""

from __future__ import annotations

from dataclasses import dataclass

from llm import objectives
from llm.data.idk import assign_idk, load_idk_answers
from llm.methods.base import METHODS, UnlearnTask, WithRetain, check_positive
from llm.runner import Plan
from ofmu_theory.solvers import Scalarized


@METHODS.register("idkdpo")
@dataclass(frozen=True, kw_only=True)
class IdkDPO(WithRetain):
    """Minimise γ·L_DPO(θ; D_f) + α·L_r(θ; D_r), win = an IdK answer, lose = the true answer
    (OpenUnlearning ``DPO`` on ``TOFU_QA_forget_idk``):

    .. math:: L_{DPO} = −\\tfrac{2}{β}\\,\\mathrm{mean}\\log σ\\big(β[(s_{ref}^{idk} − s_θ^{idk}) − (s_{ref}^{y} − s_θ^{y})]\\big)

    Core: ``scalarized`` with γ_f = γ, λ = α on L_f = −L_DPO (sense "max").

    Attributes:
        beta: β.
        idk_path: a JSON-lines file of IdK answers (None: the shipped ``llm/data/idontknow.jsonl``).
    """

    name = "idkdpo"
    bench_rank = 50
    EMBEDDED = {"lr": 5e-4, "epochs": 5.0, "batch_size": 8, "retain_batch_size": 32, "warmup_epochs": 1.0}

    beta: float = 0.1
    idk_path: str | None = None

    def __post_init__(self) -> None:
        super().__post_init__()
        check_positive(beta=self.beta)

    def plan(self, task: UnlearnTask) -> Plan:
        idk = assign_idk(len(task.forget_items), load_idk_answers(self.idk_path), seed=task.seed)
        win = objectives.encode_rows(task.tokenizer, task.template,
                                     [(item.question, a) for item, a in zip(task.forget_items, idk)],
                                     name="idk", max_length=task.max_length)
        sampler = self.sampler(task)
        lower = objectives.neg_dpo(task.params, win, task.forget, task.reference, beta=self.beta)
        problem = task.problem(lower=lower, upper=self.retain_objective(task), name="idkdpo")
        solver = Scalarized(forget_weight=self.gamma, retain_weight=self.alpha, eta=self.eta(sampler),
                            transform=self.adamw(), max_steps=self.max_steps(sampler))
        return Plan(problem=problem, solver=solver, sampler=sampler, params=task.params)
