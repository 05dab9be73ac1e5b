"""OFMU's update gives bit-identical runs to the stored ones: every trace column and the final θ.

``tests/ofmu_traces.json`` holds seeded runs of the ``ofmu`` and ``grad-penalty`` solvers on a convex
(``logistic_forget``) and a nonconvex (``two_layer_net``) family, on both backends, through constant and
Armijo steps, SGD and Adam, both evaluation points, mini-batches and the cheaper similarity estimators.
It was written before ``OFMU.step`` was rewritten to read like its equations; a rewrite of the update
must reproduce it exactly. Regenerate it only for a change meant to alter the iterates:
``python -m tests.test_ofmu_traces --write``.
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import convex  # noqa: F401
import nonconvex  # noqa: F401
from ofmu_theory import FAMILIES, SOLVERS
from ofmu_theory.sampler import MiniBatch
from ofmu_theory.steps import Armijo
from ofmu_theory.transforms import Adam

STORED = Path(__file__).with_name("ofmu_traces.json")
FAMILIES_RUN = ("logistic_forget", "two_layer_net")
SETTINGS: dict[str, dict[str, Any]] = {
    "ofmu_constant": {"solver": "ofmu", "beta": 0.1, "inner_steps": 2, "eta_in": 0.01, "eta_out": 0.01,
                      "rho": 0.5, "gamma": 1.2, "rho_cap": 1.0},
    "ofmu_armijo_adam_outer": {"solver": "ofmu", "beta": 0.2, "sim": "squared", "inner_steps": 1,
                               "eta_in": "armijo", "eta_out": "armijo", "eval_point": "outer", "adam": True},
    "ofmu_estimators_fd": {"solver": "ofmu", "beta": 0.1, "inner_steps": 2, "eta_in": 0.01, "eta_out": 0.01,
                           "hvp": "fd", "sim_lag": 2, "sim_pick": "random", "sim_curvature": "frozen",
                           "sim_seed": 3, "minibatch": True},
    "grad_penalty": {"solver": "grad-penalty", "eta_in": 0.01, "eta_out": 0.02, "rho": 0.3},
}
STEPS = 4


def _run(family: str, backend: str, setting: dict[str, Any]) -> dict[str, Any]:
    s = dict(setting)
    name, adam, minibatch = s.pop("solver"), s.pop("adam", False), s.pop("minibatch", False)
    for key in ("eta_in", "eta_out"):
        if s.get(key) == "armijo":
            s[key] = Armijo()
    if adam:
        s.update(transform_in=Adam(), transform_out=Adam())
    problem = FAMILIES.get(family).sample(seed=1).problem(backend)
    sampler = None
    if minibatch and problem.lower.n_rows and problem.upper.n_rows:
        sampler = MiniBatch(n_lower=problem.lower.n_rows, n_upper=problem.upper.n_rows,
                            batch_lower=max(1, problem.lower.n_rows // 2),
                            batch_upper=max(1, problem.upper.n_rows // 2), seed=5)
    result = SOLVERS.get(name)(max_steps=STEPS, **s).run(problem, sampler=sampler)
    trace = {k: [float(v) for v in np.asarray(col)] for k, col in result.trace.to_dict().items() if k != "wall_s"}
    theta = problem.backend.to_numpy(result.theta)
    return {"status": result.status.name, "trace": trace, "theta": [float(v) for v in np.ravel(theta)]}


def runs() -> dict[str, Any]:
    return {f"{family}/{backend}/{key}": _run(family, backend, setting)
            for family in FAMILIES_RUN for backend in ("numpy", "torch") for key, setting in SETTINGS.items()}


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return a == b or (math.isnan(a) and math.isnan(b))
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    return a == b


@pytest.mark.parametrize("key", sorted(json.loads(STORED.read_text())) if STORED.exists() else [])
def test_ofmu_run_is_bit_identical(key: str) -> None:
    family, backend, setting = key.split("/")
    stored = json.loads(STORED.read_text())[key]
    now = json.loads(json.dumps(_run(family, backend, SETTINGS[setting])))
    assert now["status"] == stored["status"]
    assert now["trace"].keys() == stored["trace"].keys()
    differ = [k for k in stored["trace"] if not _same(now["trace"][k], stored["trace"][k])]
    assert not differ, f"trace columns differ: {differ}"
    assert _same(now["theta"], stored["theta"]), "final theta differs"


if __name__ == "__main__":
    if sys.argv[1:] != ["--write"]:
        sys.exit("usage: python -m tests.test_ofmu_traces --write")
    import torch

    torch.set_num_threads(1)  # as the test session (tests/conftest.py)
    STORED.write_text(json.dumps(runs()) + "\n")
    print(f"wrote {STORED.name}")
