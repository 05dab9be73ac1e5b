"""The bench's check of OFMU's estimator paths (llm.fairbench.path_check): each path runs its own settings, and the
rule picks the fewest gradient passes per outer step among the paths inside the exact path's intervals."""

from __future__ import annotations

from typing import Any

import pytest
import torch

from llm.fairbench import CHECK_BETA, OFMU_FIXED, OFMU_PATHS, LlmTask, path_check
from llm.methods import METHODS
from llm.prompts import PROMPTS
from llm.runner import execute
from llm.unlearn import RunSettings, build_task
from ofmu_theory.budget import PassBudget, result_passes

ESTIMATOR_KEYS = ("hvp", "fd_scheme", "sim_lag", "sim_pick", "sim_curvature")
CONFIG = {"lr": 1e-3, "beta": CHECK_BETA, "rho": 1e-4}  # at CHECK_BETA: the check never runs a second time


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
    defaults = {k: METHODS.get("ofmu")().to_dict()[k] for k in ESTIMATOR_KEYS}
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



def _row(ks: float, mu: float, passes: float, wall: float, *, half: float = 0.02) -> dict[str, Any]:
    def iv(mean: float, h: float) -> dict[str, float]:
        return {"mean": mean, "low": mean - h, "high": mean + h, "n": 5}

    return {"ks_statistic": iv(ks, half), "model_utility": iv(mu, half), "passes_per_step": iv(passes, 0.0),
            "wall_s": iv(wall, 1.0)}


def test_rule_picks_the_fewest_passes_per_step_inside_the_exact_intervals_wall_breaking_ties() -> None:
    from llm.fairbench import inside_intervals, select_path

    summary = {"exact": _row(0.20, 0.85, 16, 60), "fd": _row(0.21, 0.851, 24, 40),
               "fd-fwd": _row(0.19, 0.849, 12, 30),
               "fd-fwd+lag2+random": _row(0.30, 0.85, 6, 20),  # cheapest, but its KS lies outside
               "fd-fwd+random+frozen": _row(0.21, 0.84, 7, 25),  # the cheapest inside
               "fd+random+frozen": _row(0.20, 0.85, 10, 10)}  # fastest by wall time, more passes
    inside = inside_intervals(summary)
    assert inside == {"exact": True, "fd": True, "fd-fwd": True, "fd-fwd+lag2+random": False,
                      "fd-fwd+random+frozen": True, "fd+random+frozen": True}
    assert select_path(summary, inside) == "fd-fwd+random+frozen"
    # equal passes per step: the lower mean wall time wins
    summary["fd-fwd"] = _row(0.19, 0.849, 7, 24)
    assert select_path(summary, inside) == "fd-fwd"
    # MU outside the interval counts as outside too
    summary["fd-fwd"] = _row(0.19, 0.80, 7, 24)
    assert not inside_intervals(summary)["fd-fwd"]
    # rows that are not estimator paths (the beta = 0 reference) are never selected
    summary = {"exact": _row(0.2, 0.85, 16, 60), "exact, beta=0": _row(0.2, 0.85, 5, 10)}
    assert select_path(summary, inside_intervals(summary)) == "exact"
    with pytest.raises(ValueError, match="inside the exact path's intervals"):
        select_path(summary, {"exact": False, "exact, beta=0": True})


def test_check_says_whether_beta_matters_and_reruns_at_check_beta(_eval_role) -> None:
    """The β = 0 exact run decides whether the similarity term moves the quality; when it does not at the chosen
    β, the check runs again at CHECK_BETA and the text says so."""
    from llm.fairbench import CHECK_BETA, NO_SIM
    from llm.fairreport import path_check_text

    def metrics(shift_without_sim: float):
        def fn(method, seed):
            ks = 0.2 + 0.01 * seed + (shift_without_sim if method.to_dict()["beta"] == 0 else 0.0)
            return {"ks_statistic": ks, "model_utility": 0.85 - 0.01 * seed, "forget_quality": 0.4}
        return fn

    task = RecordingTask(metrics=metrics(0.0))  # β changes nothing: negligible
    task.eval = _eval_role
    check = path_check(task, {**CONFIG, "beta": 0.05}, budget_passes=100.0, seeds=[0, 1])
    assert check["beta_matters"] is False and check["at_check_beta"]["config"]["beta"] == CHECK_BETA
    assert NO_SIM in check["summary"] and NO_SIM not in check["inside_exact_intervals"]
    text = path_check_text(check)
    assert "negligible" in text and f"beta={CHECK_BETA:g} (CHECK_BETA)" in text and "passes / step" in text
    task = RecordingTask(metrics=metrics(0.3))  # without the term the KS statistic moves: β matters
    task.eval = _eval_role
    check = path_check(task, {**CONFIG, "beta": 0.05}, budget_passes=100.0, seeds=[0, 1])
    assert check["beta_matters"] is True and check["at_check_beta"] is None and check["selected_at_beta"] == 0.05
    assert "matters here" in path_check_text(check)


def test_path_check_only_runs_the_check_of_a_finished_bench_and_writes_it(tmp_path, monkeypatch, _eval_role) -> None:
    import json

    import llm.fairreport as fairreport
    from llm.regenerate_docs import main as regenerate

    with pytest.raises(SystemExit):
        regenerate(["--path-check-only"])  # needs --from
    bench = tmp_path / "bench"
    bench.mkdir()
    (bench / "bench.json").write_text(json.dumps({"levels": []}))
    seen = {}

    def fake(report, *, cache_dir):
        seen["cache_dir"] = cache_dir
        task = RecordingTask()
        task.eval = _eval_role
        return path_check(task, CONFIG, budget_passes=100.0, seeds=[0, 1])

    monkeypatch.setattr(fairreport, "rerun_path_check", fake)
    assert regenerate(["--from", str(bench), "--path-check-only"]) == 0
    assert seen["cache_dir"] == bench / "runs"  # the bench's own run cache: the check's runs are added to it
    record = json.loads((bench / "path-check" / "path_check.json").read_text())
    assert record["default"] in OFMU_PATHS and record["wall_s"] >= 0
    text = (bench / "path-check" / "path_check.md").read_text()
    assert "--path-check-only" in text and f"**{record['default']}**" in text
    assert sorted(p.name for p in bench.iterdir()) == ["bench.json", "path-check"]  # nothing else written
