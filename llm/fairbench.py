"""The LLM bench under the fair-comparison protocol (:mod:`ofmu_theory.protocol`): equal passes, equal tuning.

Two prepared entries play two roles. **tune**: a generated corpus with another seed (``seed + 1``) and
question templates {0, 1}, or any TOFU-format folder (``tune_data``); its forget authors are the
validation split. **eval**: the entry the prepare options name (the generated corpus with the held-out
question template {2}, or any TOFU-format folder); the tuning never sees it. Each entry has its own target
and retain models.

* **Budget.** Level 1× = the passes of GradDiff's default run (embedded preset: 5 epochs over D_f at
  batch 8, retain batch 32 → 25 steps). A method's schedule horizon is sized to its budget: its passes
  per step are measured on one step (:func:`ofmu_theory.budget.calibrate`), ``epochs`` set so that
  ``steps_within(budget, per_step)`` steps run, the warm-up kept at the preset's fifth of the run; the
  core's :class:`~ofmu_theory.budget.PassBudget` stops the run at the budget in any case. Reference-model
  forward passes (NPO, SimNPO's none, IdkDPO, RMU, KL) are not counted (see the budget module); wall time
  is reported beside the passes.
* **Tuning.** ``SEARCH_SPACES`` declares each method's grid (lr and its documented knobs, around its
  ``embedded`` preset); every method gets the same number of configurations from the same seeded search.
  Selection rule on the tune role: max forget quality subject to model utility ≥ 0.9 × the tune target's,
  ties broken by the higher utility.
* **Seeds.** The chosen configuration runs on the eval role with every profile seed (the unlearning seed:
  batches, IdK answers, RMU's vector); the prepared models stay fixed.
* **Verdict.** OFMU against the best feasible baseline (mean MU ≥ 0.9 × eval target's), paired over seeds
  on the KS statistic of the forget truth ratios (the continuous companion of forget quality: the KS
  p-value is a decreasing function of it for fixed sample sizes, so lower is better).
"""

from __future__ import annotations

import gc
import logging
import math
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from llm.entry import Prepared, evaluate_model
from llm.evaluate import log_entry, read_eval_log
from llm.methods import METHODS
from llm.prompts import PROMPTS
from llm.runner import execute
from llm.unlearn import RunSettings, build_task
from ofmu_theory.budget import PassBudget, calibrate, result_passes, steps_within
from ofmu_theory.protocol import MethodSpace, Profile

logger = logging.getLogger(__name__)

#: Every method's search space (its documented knobs, lr included; the embedded preset's values inside).
SEARCH_SPACES: Mapping[str, Mapping[str, tuple[Any, ...]]] = {
    "grad_ascent": {"lr": (5e-5, 1e-4, 2e-4, 3e-4, 5e-4, 1e-3), "weight_decay": (0.0, 0.01)},
    "grad_diff": {"lr": (1e-4, 2e-4, 3e-4, 5e-4, 1e-3, 2e-3), "alpha": (1.0, 3.0)},
    "npo": {"lr": (1e-4, 2e-4, 3e-4, 5e-4, 1e-3, 2e-3), "beta": (0.1, 0.5)},
    "simnpo": {"lr": (2e-4, 5e-4, 1e-3, 2e-3, 3e-3, 5e-3), "beta": (2.5, 4.5)},
    "idkdpo": {"lr": (1e-4, 2e-4, 5e-4, 1e-3, 2e-3, 3e-3), "beta": (0.1, 0.5)},
    "rmu": {"lr": (1e-3, 3e-3, 1e-2, 3e-2), "steering_coeff": (6.0, 20.0), "alpha": (1.0, 10.0)},
    "blur": {"lr": (1e-4, 2e-4, 3e-4, 5e-4, 1e-3, 2e-3), "gamma": (0.5, 1.0)},
    "ofmu": {"lr": (5e-4, 1e-3, 1.5e-3, 2e-3), "beta": (0.0, 0.1), "rho": (1e-5, 1e-4)},
}
#: Settings every method shares (the bench's, not tuned): batch sizes as GradDiff's default run.
SHARED = {"batch_size": 8, "retain_batch_size": 32}
#: OFMU runs on one estimator path in the protocol (``lr_in`` follows ``lr``: one step-size knob like the
#: others): the path the bench's path check (:func:`path_check`) selected in the committed full profile
#: (docs/llm-bench/README.md, "OFMU's estimator path"); the report says whenever the check selects another.
#: Now fd-fwd+lag2+random (forward differences, the similarity term refreshed every 2 evaluations, one HVP of two).
OFMU_FIXED = {"hvp": "fd", "fd_scheme": "forward", "sim_lag": 2, "sim_pick": "random", "lr_in": None}
#: OFMU's estimator paths compared by :func:`path_check`: the exact path (the reference) and the first-order
#: paths of ``ofmu_theory`` by central (``fd``) and by forward differences (``fd-fwd``: one gradient per
#: HVP, reusing ∇L_f and ∇L_r as the base point), each plain, with the similarity term lagged by 2
#: evaluations, and with one of its two HVPs drawn per evaluation and its curvature frozen (``fd-fwd`` also
#: with both). A key a path does not list takes the OFMU method's default (:data:`PATH_DEFAULTS`), never
#: ``OFMU_FIXED``'s value.
OFMU_PATHS: Mapping[str, Mapping[str, Any]] = {
    "exact": {"hvp": "exact"},
    "fd-fwd": {"hvp": "fd", "fd_scheme": "forward"},
    "fd-fwd+lag2": {"hvp": "fd", "fd_scheme": "forward", "sim_lag": 2},
    "fd-fwd+random+frozen": {"hvp": "fd", "fd_scheme": "forward", "sim_pick": "random", "sim_curvature": "frozen"},
    "fd-fwd+lag2+random": {"hvp": "fd", "fd_scheme": "forward", "sim_lag": 2, "sim_pick": "random"},
    "fd": {"hvp": "fd"},
    "fd+lag2": {"hvp": "fd", "sim_lag": 2},
    "fd+random+frozen": {"hvp": "fd", "sim_pick": "random", "sim_curvature": "frozen"},
}
#: The settings that tell the estimator paths apart.
PATH_KEYS: tuple[str, ...] = ("hvp", "fd_scheme", "sim_lag", "sim_pick", "sim_curvature")
#: The similarity weight of the path check when the chosen configuration has β = 0 (the estimators differ only
#: in the similarity term, so at β = 0 every first-order path is the same computation). 1.0 rather than 0.1: on
#: the committed full profile the check at 0.1 put every path inside the exact path's intervals, while at 1.0
#: the frozen-curvature paths fall outside on MU, so the check can tell the estimators apart there.
CHECK_BETA = 1.0
#: The reference run of budget 1×: GradDiff's embedded preset for 5 epochs.
REFERENCE = ("grad_diff", 5.0)
#: Warm-up as a share of the run (the presets' 1 of 5 epochs).
WARMUP_SHARE = 0.2
#: Time to quality: forget quality at least this at MU ≥ 0.9 × the target's.
FQ_TARGET = 0.05
MU_SHARE = 0.9

PROFILES: Mapping[str, Profile] = {
    "quick": Profile(name="quick", budgets=(1.0,), n_configs=3, seeds=(0, 1, 2)),
    "full": Profile(name="full", budgets=(1.0, 3.0, 10.0), n_configs=6, seeds=(0, 1, 2, 3, 4)),
    "smoke": Profile(name="smoke", budgets=(1.0,), n_configs=2, seeds=(0, 1)),  # test-sized: checks wiring only
    # one budget, 2 configurations, 3 seeds: the SmolLM2 bench's size on 2 CPU cores (llm/smolbench.py)
    "lean": Profile(name="lean", budgets=(1.0,), n_configs=2, seeds=(0, 1, 2)),
}
QUICK_METHODS = ("grad_diff", "npo", "simnpo", "rmu", "blur", "ofmu")
FULL_METHODS = ("grad_ascent", "grad_diff", "npo", "simnpo", "idkdpo", "rmu", "blur", "ofmu")
METRICS = ("forget_quality", "ks_statistic", "model_utility", "forget_truth_ratio", "privleak", "forget_Q_A_ROUGE",
           "ra_MC_accuracy", "wf_MC_accuracy")
#: What an entry's reference models are described by (``Role.describe``): knowledge kept and forget set memorised.
REFERENCE_METRICS = ("forget_quality", "forget_Q_A_ROUGE", "model_utility", "ra_MC_accuracy", "wf_MC_accuracy",
                     "ra_Q_A_ROUGE", "wf_Q_A_ROUGE")


def spaces_for(methods: tuple[str, ...]) -> list[MethodSpace]:
    """The declared search spaces of ``methods`` (an unknown name is an error listing the valid ones)."""
    unknown = [m for m in methods if m not in SEARCH_SPACES]
    if unknown:
        raise ValueError(f"no search space for {unknown}; methods with one: {', '.join(SEARCH_SPACES)}")
    return [MethodSpace(method=m, space=SEARCH_SPACES[m]) for m in methods]


def ks_statistic(model_log: Any, retain_log: Any) -> float:
    """The two-sample KS statistic between the forget truth ratios of a model's and the retain model's logs."""
    from scipy import stats  # noqa: PLC0415

    model_tr = log_entry(read_eval_log(model_log), "forget_truth_ratio").values("score")
    retain_tr = log_entry(read_eval_log(retain_log), "forget_truth_ratio").values("score")
    return float(stats.ks_2samp(model_tr, retain_tr).statistic)


@dataclass(kw_only=True, eq=False)
class Role:
    """One prepared entry, loaded once: the target model, tokenizer, D_f / D_r, template, target MU."""

    prepared: Prepared
    model: Any
    tokenizer: Any
    forget: list[Any]
    retain: list[Any]
    template: Any
    target_mu: float

    @classmethod
    def load(cls, prepared: Prepared) -> Role:
        model, tokenizer = prepared.load_model("target")
        forget, retain = prepared.forget_retain()
        target = {k: v["agg_value"] for k, v in read_eval_log(prepared.target_eval).items()}
        return cls(prepared=prepared, model=model, tokenizer=tokenizer, forget=forget, retain=retain,
                   template=PROMPTS.get(prepared.template), target_mu=float(target["model_utility"]))

    def describe(self) -> dict[str, Any]:
        """The entry: its config, sizes, and its reference models' metrics (:data:`REFERENCE_METRICS`, where logged):
        ``base`` (a pretrained model before fine-tuning), ``target`` and ``retain``, with the target's KS statistic."""
        logs = {"base": self.prepared.base_eval, "target": self.prepared.target_eval,
                "retain": self.prepared.retain_eval}
        models = {}
        for name, path in logs.items():
            if path is not None:
                summary = {k: v.get("agg_value") for k, v in read_eval_log(path).items()}
                models[name] = {k: summary[k] for k in REFERENCE_METRICS if summary.get(k) is not None}
        models["target"]["ks_statistic"] = ks_statistic(self.prepared.target_eval, self.prepared.retain_eval)
        return {"cache_entry": self.prepared.folder.name, "config": self.prepared.config.to_dict(),
                "target_model_utility": self.target_mu, "n_forget": len(self.forget), "n_retain": len(self.retain),
                "reference_models": models, "stage_wall_s": dict(self.prepared.info.get("stage_wall_s", {}))}


@dataclass(kw_only=True, eq=False)
class LlmTask:
    """The :class:`ofmu_theory.protocol.Task` of the LLM bench (see the module docstring)."""

    tune: Role
    eval: Role
    settings: RunSettings
    shared: Mapping[str, Any] = field(default_factory=lambda: dict(SHARED))
    primary: str = "ks_statistic"
    higher_is_better: bool = False
    _per_step: dict[str, float] | None = None

    @property
    def selected_on(self) -> str:
        return (f"tune entry {self.tune.prepared.folder.name} (another corpus: other authors, seed, question "
                f"templates): max forget quality s.t. model utility >= {MU_SHARE} x its target's "
                f"({MU_SHARE * self.tune.target_mu:.3f}), ties broken by the higher utility")

    @property
    def identity(self) -> dict[str, Any]:
        return {"tune": self.tune.prepared.folder.name, "eval": self.eval.prepared.folder.name,
                "settings": self.settings.to_dict(), "shared": dict(self.shared), "warmup_share": WARMUP_SHARE,
                "version": 2}

    def fixed(self, name: str) -> Mapping[str, Any]:
        """The method's untuned settings beyond ``SHARED`` (OFMU's HVP path): part of its runs' keys only."""
        return OFMU_FIXED if name == "ofmu" else {}

    def method(self, name: str, config: Mapping[str, Any], *, epochs: float) -> Any:
        values = {**self.shared, **self.fixed(name), **config, "epochs": epochs,
                  "warmup_epochs": WARMUP_SHARE * epochs}
        return METHODS.get(name).preset("embedded", **values)

    def per_step(self, name: str, config: Mapping[str, Any], role: Role) -> float:
        """Passes of one outer step (measured once per method and configuration: lr does not change it)."""
        key = repr((name, sorted((k, v) for k, v in config.items() if k != "lr")))
        cache = self._per_step if self._per_step is not None else {}
        self._per_step = cache
        if key not in cache:
            method = self.method(name, config, epochs=5.0)
            task = build_task(method, model=role.model, tokenizer=role.tokenizer, template=role.template,
                              forget_items=role.forget, retain_items=role.retain, settings=self.settings)
            cache[key] = calibrate(method.plan(task))
            del task
        return cache[key]

    def reference_passes(self) -> float:
        name, epochs = REFERENCE
        method = METHODS.get(name).preset("embedded", **self.shared)
        steps = method.max_steps(_sampler_like(len(self.eval.forget), self.shared["batch_size"]))
        return round(epochs / method.epochs * steps) * self.per_step(name, {}, self.eval)

    def run(self, method: str, config: Mapping[str, Any], *, budget_passes: float, seed: int,
            role: str) -> dict[str, Any]:
        """Unlearn with ``config`` for ``budget_passes`` passes and ``seed`` on ``role``; evaluate."""
        where = self.tune if role == "tune" else self.eval
        per_step = self.per_step(method, config, where)
        steps = steps_within(budget_passes, per_step)
        chosen = self.method(method, config, epochs=steps / self.steps_per_epoch(where))
        return {**self.execute(chosen, where, seed=seed, budget_passes=budget_passes), "passes_per_step": per_step}

    def execute(self, method: Any, where: Role, *, seed: int, budget_passes: float) -> dict[str, Any]:
        """Run the configured ``method`` on ``where`` with ``seed`` (stopped at ``budget_passes``) and evaluate it."""
        from llm.lora import merged  # noqa: PLC0415

        t0 = time.perf_counter()
        task = build_task(method, model=where.model, tokenizer=where.tokenizer, template=where.template,
                          forget_items=where.forget, retain_items=where.retain,
                          settings=replace(self.settings, seed=seed))
        result = execute(method.plan(task), callback=PassBudget(budget=budget_passes))
        task.params.assign(result.theta)
        out: dict[str, Any] = {"status": result.status.name, "steps": result.nit, "passes": result_passes(result),
                               "wall_s": time.perf_counter() - t0, "core_wall_s": result.wall_s,
                               "epochs": method.epochs, "config": method.to_dict()}
        if result.status.name != "DIVERGED":
            with tempfile.TemporaryDirectory() as tmp:
                evaluation = evaluate_model(where.prepared, merged(task.model), where.tokenizer, tmp)
                out.update({k: float(evaluation.summary[k]) for k in METRICS if k in evaluation.summary})
                out["ks_statistic"] = ks_statistic(f"{tmp}/TOFU_EVAL.json", where.prepared.retain_eval)
        del task, result
        gc.collect()
        return out

    def steps_per_epoch(self, role: Role) -> int:
        """Outer steps of one epoch over ``role``'s D_f at the shared forget batch size."""
        from ofmu_theory.epochs import batches_per_epoch  # noqa: PLC0415

        return batches_per_epoch(len(role.forget), self.shared["batch_size"])

    def score(self, metrics: Mapping[str, Any]) -> tuple[float, float]:
        mu, fq = metrics.get("model_utility"), metrics.get("forget_quality")
        if mu is None or fq is None or not math.isfinite(mu) or mu < MU_SHARE * self.tune.target_mu:
            return (-math.inf, -math.inf)
        return (float(fq), float(mu))

    def feasible(self, summary: Mapping[str, Any]) -> bool:
        mu = summary.get("model_utility")
        return mu is not None and mu >= MU_SHARE * self.eval.target_mu

    def reached(self, summary: Mapping[str, Any]) -> bool:
        return self.feasible(summary) and summary.get("forget_quality", 0.0) >= FQ_TARGET


def _sampler_like(n_forget: int, batch_size: int) -> Any:
    from ofmu_theory.sampler import MiniBatch  # noqa: PLC0415

    return MiniBatch(n_lower=n_forget, n_upper=n_forget, batch_lower=batch_size, batch_upper=batch_size, seed=0)


def _path_defaults() -> dict[str, Any]:
    options = METHODS.get("ofmu").preset("embedded").to_dict()
    missing = [k for k in PATH_KEYS if k not in options]
    if missing:  # a silent gap here would let OFMU_FIXED fill the paths in again
        raise RuntimeError(f"the OFMU method does not list the estimator settings {missing}")
    return {k: options[k] for k in PATH_KEYS}


#: The OFMU method's own values of :data:`PATH_KEYS` (what a path leaves unlisted runs with).
PATH_DEFAULTS: Mapping[str, Any] = _path_defaults()


def path_settings(path: Mapping[str, Any]) -> dict[str, Any]:
    """Every setting of :data:`PATH_KEYS` for ``path``: its own values over the method's defaults."""
    unknown = sorted(set(path) - set(PATH_KEYS))
    if unknown:
        raise ValueError(f"an estimator path sets only {', '.join(PATH_KEYS)}; got {unknown}")
    return {**PATH_DEFAULTS, **path}


def path_name(settings: Mapping[str, Any]) -> str | None:
    """The :data:`OFMU_PATHS` entry that ``settings`` run (None: none of them)."""
    given = {k: settings.get(k, v) for k, v in PATH_DEFAULTS.items()}
    for name, path in OFMU_PATHS.items():
        if given == path_settings(path):
            return name
    return None


#: How :func:`path_check` picks the bench's path (written into its record and README).
PATH_RULE = ("among the paths whose mean KS statistic and MU lie inside the exact path's 95 % t intervals, the one "
             "with the fewest mean gradient passes per outer step (counted oracle calls: the machine's load does not "
             "change them; mean wall time breaks ties)")
#: The β = 0 reference run of the check: the exact path without the similarity term.
NO_SIM = "exact, beta=0"
#: What the check compares: the mean of these must lie inside the exact path's intervals.
INSIDE_ON = ("ks_statistic", "model_utility")
CHECK_METRICS = ("ks_statistic", "model_utility", "forget_quality", "wall_s", "passes", "passes_per_step")


def inside_intervals(summary: Mapping[str, Mapping[str, Any]], reference: str = "exact") -> dict[str, bool]:
    """Per row of ``summary``: whether its mean KS statistic and MU lie inside ``reference``'s 95 % intervals."""
    ref = summary[reference]
    return {name: name == reference or all(k in s and k in ref and ref[k]["low"] <= s[k]["mean"] <= ref[k]["high"]
                                           for k in INSIDE_ON)
            for name, s in summary.items()}


def select_path(summary: Mapping[str, Mapping[str, Any]], inside: Mapping[str, bool]) -> str:
    """:data:`PATH_RULE` on the per-path ``summary`` (mean/interval per metric) and ``inside`` flags."""
    candidates = [n for n in summary if n in OFMU_PATHS and inside.get(n)]
    if not candidates:
        raise ValueError(f"no estimator path among {sorted(summary)} is flagged inside the exact path's intervals")
    return min(candidates, key=lambda n: (summary[n]["passes_per_step"]["mean"], summary[n]["wall_s"]["mean"]))


def _check_at(task: LlmTask, checked: Mapping[str, Any], *, steps: int, seeds: Sequence[int],
              cache: Any) -> dict[str, Any]:
    """Every path of :data:`OFMU_PATHS`, and the exact path at β = 0, for ``steps`` outer steps and ``seeds``."""
    from ofmu_theory.comparison import interval  # noqa: PLC0415
    from ofmu_theory.protocol import run_key  # noqa: PLC0415

    epochs = steps / task.steps_per_epoch(task.eval)
    runs = {"exact": {**checked, **path_settings(OFMU_PATHS["exact"])},
            NO_SIM: {**checked, **path_settings(OFMU_PATHS["exact"]), "beta": 0.0},  # right after: whether β matters
            **{name: {**checked, **path_settings(path)} for name, path in OFMU_PATHS.items()}}
    rows: dict[str, list[dict[str, Any]]] = {}
    for name, config in runs.items():
        method = task.method("ofmu", config, epochs=epochs)
        rows[name] = []
        for seed in seeds:
            key = run_key(task.identity, check="ofmu path", version=2, config=config, steps=steps, seed=seed)
            record = cache.get_or_run(key, lambda m=method, s=seed: task.execute(m, task.eval, seed=s,
                                                                             budget_passes=1e12))
            rows[name].append({"seed": seed, **record, "passes_per_step": record["passes"] / max(1, record["steps"])})
    summary = {name: {k: interval([r[k] for r in recs]).to_dict() for k in CHECK_METRICS if all(k in r for r in recs)}
               for name, recs in rows.items()}
    inside = inside_intervals(summary)
    return {"config": dict(checked), "per_seed": rows, "summary": summary,
            "inside_exact_intervals": {n: inside[n] for n in OFMU_PATHS},
            "beta_matters": not inside[NO_SIM]}


def path_check(task: LlmTask, config: Mapping[str, Any], *, budget_passes: float, seeds: Sequence[int],
               cache_dir: Any = None) -> dict[str, Any]:
    """OFMU's chosen configuration on the eval role along every path of :data:`OFMU_PATHS`, each run one after
    the other in this process for the same outer steps (as many as the exact path's fit in ``budget_passes``)
    and ``seeds``; which path the bench should run (:data:`PATH_RULE`).

    Each path runs with its own settings of :data:`PATH_KEYS` (the method's defaults where it lists none), so
    the bench's ``OFMU_FIXED`` does not leak into the paths. The exact path also runs at β = 0
    (:data:`NO_SIM`): when its KS statistic and MU lie inside the β > 0 exact path's intervals, the similarity
    term does not move the quality at this configuration (``beta_matters`` False), and the paths, which differ
    only in how they estimate that term, cannot be told apart there; the check then runs again at
    β = :data:`CHECK_BETA` (when that differs) and selects there. With β = 0 in ``config`` it runs at
    :data:`CHECK_BETA` from the start. The runs go through the run cache of ``cache_dir`` (keyed by the task,
    the configuration with its path settings, the steps and the seed), so an interrupted check resumes.
    """
    from pathlib import Path  # noqa: PLC0415

    from ofmu_theory.protocol import RunCache  # noqa: PLC0415

    cache = RunCache(folder=None if cache_dir is None else Path(cache_dir))
    checked = {**config, "beta": config.get("beta") or CHECK_BETA}
    steps = steps_within(budget_passes, task.per_step("ofmu", {**checked, **path_settings(OFMU_PATHS["exact"])},
                                                      task.eval))
    at = [_check_at(task, checked, steps=steps, seeds=seeds, cache=cache)]
    if not at[0]["beta_matters"] and checked["beta"] != CHECK_BETA:
        at.append(_check_at(task, {**checked, "beta": CHECK_BETA}, steps=steps, seeds=seeds, cache=cache))
    deciding = next((c for c in at if c["beta_matters"]), at[0])
    default = select_path(deciding["summary"], deciding["inside_exact_intervals"])
    ran = path_name({**OFMU_FIXED})
    return {"steps": steps, "budget_passes": budget_passes, "seeds": list(seeds), **at[0],
            "at_check_beta": at[1] if len(at) > 1 else None, "selected_at_beta": deciding["config"]["beta"],
            "paths": {k: path_settings(v) for k, v in OFMU_PATHS.items()}, "default": default, "bench_path": ran,
            "bench_path_is_default": ran == default, "runs": {"executed": cache.runs, "from_cache": cache.hits},
            "rule": PATH_RULE}

