"""The bench's check of OFMU's estimator paths (llm.fairbench.path_check): each path runs its own settings, and the
rule picks the fewest gradient passes per outer step among the paths inside the exact path's intervals."""

from __future__ import annotations

from typing import Any

import pytest
import torch

from llm.fairbench import OFMU_FIXED, OFMU_PATHS, LlmTask, path_check
from llm.methods import METHODS
from llm.prompts import PROMPTS
from llm.runner import execute
from llm.unlearn import RunSettings, build_task
from ofmu_theory.budget import PassBudget, result_passes

ESTIMATOR_KEYS = ("hvp", "fd_scheme", "sim_lag", "sim_pick", "sim_curvature")
CONFIG = {"lr": 1e-3, "beta": 0.1, "rho": 1e-4}


class RecordingTask(LlmTask):
    """An LlmTask whose runs are recorded (and, with ``model``, really run for a few steps, without evaluation)."""

    def __init__(self, *, model: Any = None, tokenizer: Any = None, forget: Any = None, retain: Any = None,
                 metrics: Any = None) -> None:
        super().__init__(tune=None, eval=None, settings=RunSettings(max_length=128))
        self.model, self.tokenizer, self.forget, self.retain = model, tokenizer, forget, retain
        self.metrics = metrics or (lambda method, seed: {"ks_statistic": 0.2 + 0.01 * seed,
                                                         "model_utility": 0.85 - 0.01 * seed, "forget_quality": 0.4})
        self.ran: list[dict[str, Any]] = []

    @property
    def identity(self) -> dict[str, Any]:
        return {"test": "path check"}

    def per_step(self, name, config, role) -> float:
        return 10.0

    def execute(self, method, where, *, seed, budget_passes) -> dict[str, Any]:
        out: dict[str, Any] = {"config": method.to_dict(), "seed": seed}
        if self.model is None:
            steps = method.max_steps(_sampler(method, 40))
            self.ran.append({**out, "steps": steps, "passes": 10.0 * steps, "wall_s": 1.0,
                             **self.metrics(method, seed)})
            return self.ran[-1]
        task = build_task(method, model=self.model, tokenizer=self.tokenizer, template=PROMPTS.get("plain"),
                          forget_items=self.forget, retain_items=self.retain, settings=RunSettings(max_length=128,
                                                                                                  seed=seed))
        result = execute(method.plan(task), callback=PassBudget(budget=budget_passes))
        theta = torch.cat([t.detach().reshape(-1) for t in result.theta])
        self.ran.append({**out, "steps": result.nit, "passes": result_passes(result), "wall_s": result.wall_s,
                         "theta": theta.tolist(), **self.metrics(method, seed)})
        return self.ran[-1]


def _sampler(method, n_forget):
    from ofmu_theory.sampler import MiniBatch

    return MiniBatch(n_lower=n_forget, n_upper=n_forget, batch_lower=method.batch_size,
                     batch_upper=method.batch_size, seed=0)


@pytest.fixture(scope="module")
def _eval_role():
    from types import SimpleNamespace

    return SimpleNamespace(forget=list(range(40)))


def test_every_path_runs_its_own_estimator_settings_not_the_bench_default(_eval_role) -> None:
    """The bench's OFMU_FIXED must not fill in what a path leaves unlisted: a path's unlisted keys are the
    method's defaults (before the fix the 'fd' path ran OFMU_FIXED's random pick and frozen curvature)."""
    task = RecordingTask()
    task.eval = _eval_role
    path_check(task, CONFIG, budget_passes=100.0, seeds=[0, 1])
    defaults = {k: getattr(METHODS.get("ofmu")(), k) for k in ESTIMATOR_KEYS}
    by_path = [r["config"] for r in task.ran if r["config"]["beta"] > 0 and r["seed"] == 0]
    assert len(by_path) == len(OFMU_PATHS)
    for (name, path), config in zip(OFMU_PATHS.items(), by_path, strict=True):
        assert {k: config[k] for k in ESTIMATOR_KEYS} == {**defaults, **path}, name
        assert config["lr_in"] is None and config["beta"] == CONFIG["beta"]  # the bench's lr_in = lr stays
    assert len({tuple(c[k] for k in ESTIMATOR_KEYS) for c in by_path}) == len(OFMU_PATHS)
    assert any(OFMU_FIXED.get(k) != defaults[k] for k in ESTIMATOR_KEYS)  # the case the leak showed in


@pytest.mark.parametrize(("other", "fewer"), [("fd+random+frozen", True), ("fd-fwd", True), ("fd+lag2", True)])
def test_the_paths_differ_in_passes_and_trajectory_on_a_real_run(tokenizer, model, corpus, other, fewer) -> None:
    """Real OFMU runs (tiny GPT-2, 2 outer steps) through the path check: a cheaper estimator makes fewer
    counted gradient passes per step and a different trajectory than the central-difference path."""
    forget, retain = list(corpus.split("forget10")), list(corpus.split("retain90"))
    task = RecordingTask(model=model, tokenizer=tokenizer, forget=forget, retain=retain)
    task.eval = type("R", (), {"forget": forget})()
    task.per_step = lambda name, config, role: 1e9  # one step fits: steps_within(budget, 1e9) == 1

    import llm.fairbench as fb

    paths = {"exact": OFMU_PATHS["exact"], "fd": OFMU_PATHS["fd"], other: OFMU_PATHS[other]}
    original = dict(fb.OFMU_PATHS)
    fb.OFMU_PATHS.clear()
    fb.OFMU_PATHS.update(paths)
    try:
        path_check(task, {**CONFIG, "lr": 1e-2}, budget_passes=1e9, seeds=[0, 1])
    finally:
        fb.OFMU_PATHS.clear()
        fb.OFMU_PATHS.update(original)
    _, fd, cheap = [r for r in task.ran if r["config"]["beta"] > 0 and r["seed"] == 0]  # in the paths' order
    assert fd["steps"] == cheap["steps"] >= 1
    assert (cheap["passes"] / cheap["steps"] < fd["passes"] / fd["steps"]) is fewer
    assert fd["theta"] != cheap["theta"]

