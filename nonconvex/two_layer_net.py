"""Unlearning with a two-layer tanh network on Gaussian blobs: a stochastic, non-convex family.

θ = (vec W1, b1, vec W2, b2) (see :mod:`nonconvex._mlp`). The data are C Gaussian blobs; the
forget set D_f is one class or a random subset, the retain set D_r the rest. Lower level
(MAXIMISED, all of θ) and upper level:

.. math::

    L_f(θ) = -\\frac{1}{|D_f|}\\sum_{i ∈ D_f} \\mathrm{KL}\\big(u \\,\\|\\, \\mathrm{softmax}(S_i)\\big)
           = \\log C + \\frac{1}{|D_f|}\\sum_i \\frac1C \\sum_c \\log \\mathrm{softmax}(S_i)_c ≤ 0,
    \\qquad
    L_r(θ) = \\frac{1}{|D_r|}\\sum_{i ∈ D_r} \\mathrm{CE}(S_i, y_i) + \\tfrac{λ}{2}\\|θ\\|^2.

Why not maximise the cross-entropy on D_f (gradient ascent)? It is unbounded above (scale the
logits of a wrong class), so "argmax L_f" is empty and every ascent diverges. −KL(u ‖ p) is
bounded above by 0, attained exactly at uniform predictions, which is what forgetting means for
a classifier; its argmax is a non-singleton set (every θ whose forget logits are row-constant).

θ_0 (the "original model") minimises the cross-entropy + λ/2‖θ‖² on D_f ∪ D_r: L-BFGS-B with
the analytic gradient for ``train_steps`` iterations from a seeded Glorot-style start.

Sources: the forget/retain bilevel reading of arXiv 2509.22483 (OFMU) §1 (which uses the forget
cross-entropy); the bounded uniform-target loss is our choice (a reconstruction, not the paper's),
in the spirit of entropy-maximising forgetting losses such as ME in Yuan et al., "A closer look at
machine unlearning for large language models", arXiv 2410.08109.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
from scipy.optimize import minimize

from nonconvex._mlp import NetLoss
from nonconvex._common import IdentityEq, check_choice, check_float, check_int, check_seed, frozen, merge_params
from ofmu_theory.family import FAMILIES, Family
from ofmu_theory.objectives import ArrayObjective
from ofmu_theory.problem import Constants, Sense

if TYPE_CHECKING:
    from hypothesis.strategies import SearchStrategy

DEFAULTS: dict[str, Any] = {
    "n_features": 5, "n_classes": 3, "hidden": 8, "n_per_class": 30, "separation": 1.5,
    "forget": "class", "forget_class": 0, "forget_fraction": 0.2, "lam": 1e-3, "train_steps": 300,
}  # fmt: skip


@FAMILIES.register("two_layer_net")
@dataclass(frozen=True, kw_only=True, eq=False)
class TwoLayerNet(IdentityEq, Family):
    """Forget one class (or a random subset) of a blob classifier.

    Args (to :meth:`sample`):
        n_features: d, the input dimension (default 5).
        n_classes: C ≥ 2 (default 3).
        hidden: h, the tanh layer's width (default 8).
        n_per_class: rows per class (default 30).
        separation: class means are N(0, separation²·I_d); the noise is N(0, I_d) (default 1.5).
        forget: "class" (forget every row of ``forget_class``) or "random" (a random
            ``forget_fraction`` of the rows).
        forget_class: the class forgotten when forget = "class" (default 0).
        forget_fraction: the share of rows forgotten when forget = "random" (default 0.2).
        lam: λ ≥ 0, the weight decay in L_r (default 1e-3).
        train_steps: L-BFGS iterations that train θ_0 (default 300).

    Regime: both levels are non-convex in θ (the tanh layer); L_f ≤ 0 and is not concave (its
    Hessian has eigenvalues of both signs at θ_0, see tests/nonconvex). Stochastic: both
    objectives are means over their rows (``X``, ``T``), so a uniform mini-batch is unbiased.
    With β > 0 the OFMU inner objective Φ_β = L_f − β·cos(∇L_f, ∇L_r) is non-convex too.

    Constants: none are known globally: gradients and Hessians with respect to W1, b1 grow
    with ‖W2‖ (and ‖X‖), which is unbounded, so :meth:`constants` returns all ``None``.

    Oracles: analytic numpy gradient, Pearlmutter HVP and third-order product D³L[u, v, ·]
    (forward-mode derivative of the HVP), so the numpy backend has the exact β > 0 path too.
    """

    regime: ClassVar[str] = (
        "non-convex upper level (cross-entropy + weight decay), non-concave bounded lower level "
        "(-KL(uniform || softmax) on the forget set), stochastic"
    )
    convex: ClassVar[bool] = False
    stochastic: ClassVar[bool] = True
    sense: ClassVar[Sense] = "max"

    presets: ClassVar[Mapping[str, Mapping[str, Any]]] = {
        "quick": {"n_features": 3, "hidden": 4, "n_per_class": 12, "train_steps": 60},
        "full": {"train_steps": 300},
    }
    """Parameters under the ``ofmu verify`` profiles ("quick", "full"; other profiles use "quick")."""

    @classmethod
    def test_params(cls) -> SearchStrategy[dict[str, Any]]:
        """Small, valid ``sample`` parameters (the seed apart) that the test suite draws instances from."""
        from hypothesis import strategies as st

        @st.composite
        def params(draw: st.DrawFn) -> dict[str, Any]:
            """A tiny network and data set; few training steps (tests that need a trained θ_0 set more)."""
            n_classes = draw(st.integers(2, 4))
            return {
                "n_features": draw(st.integers(1, 4)),
                "n_classes": n_classes,
                "hidden": draw(st.integers(1, 6)),
                "n_per_class": draw(st.integers(2, 8)),
                "forget": draw(st.sampled_from(["class", "random"])),
                "forget_class": draw(st.integers(0, n_classes - 1)),
                "lam": draw(st.sampled_from([0.0, 1e-3, 0.1])),
                "train_steps": draw(st.integers(0, 10)),
            }

        return params()

    config: Mapping[str, Any]  # the validated parameters (read-only)
    x_forget: np.ndarray  # (N_f, d)
    y_forget: np.ndarray  # (N_f,)
    x_retain: np.ndarray  # (N_r, d)
    y_retain: np.ndarray  # (N_r,)
    start: np.ndarray  # θ_0

    @classmethod
    def sample(cls, *, seed: int = 0, **params: Any) -> TwoLayerNet:
        """Draw the blobs, split forget/retain and train θ_0, all from ``seed``."""
        p = merge_params("two_layer_net", DEFAULTS, params)
        d = check_int("n_features", p["n_features"], low=1)
        c = check_int("n_classes", p["n_classes"], low=2)
        h = check_int("hidden", p["hidden"], low=1)
        per = check_int("n_per_class", p["n_per_class"], low=1)
        sep = check_float("separation", p["separation"], low=0.0)
        forget = check_choice("forget", p["forget"], ("class", "random"))
        fclass = check_int("forget_class", p["forget_class"], low=0, high=c - 1)
        frac = check_float("forget_fraction", p["forget_fraction"], low=0.0, high=1.0, low_open=True)
        lam = check_float("lam", p["lam"], low=0.0)
        steps = check_int("train_steps", p["train_steps"], low=0)
        n_forget = int(round(frac * c * per))
        if forget == "random" and not 1 <= n_forget <= c * per - 1:
            raise ValueError(f"forget_fraction must leave both sets non-empty, got forget_fraction={frac!r}")
        config = MappingProxyType({
            "n_features": d, "n_classes": c, "hidden": h, "n_per_class": per, "separation": sep,
            "forget": forget, "forget_class": fclass, "forget_fraction": frac, "lam": lam, "train_steps": steps,
        })  # fmt: skip

        rng = np.random.default_rng(check_seed(seed))
        means = sep * rng.standard_normal((c, d))
        y = np.repeat(np.arange(c), per)
        x = means[y] + rng.standard_normal((c * per, d))
        if forget == "class":
            is_f = y == fclass
        else:
            is_f = np.zeros(c * per, dtype=bool)
            is_f[rng.choice(c * per, size=n_forget, replace=False)] = True
        net = NetLoss(d=d, h=h, c=c, kappa=1.0, lam=lam)
        theta = np.concatenate([
            rng.standard_normal(h * d) / np.sqrt(d), np.zeros(h), rng.standard_normal(c * h) / np.sqrt(h), np.zeros(c),
        ])  # fmt: skip
        if steps > 0:
            data = {"X": x, "T": np.eye(c)[y]}
            res = minimize(
                lambda th: (net.value(th, data, np), net.grad(th, data)), theta, jac=True, method="L-BFGS-B",
                options={"maxiter": steps, "gtol": 1e-10, "ftol": 0.0},
            )  # fmt: skip
            theta = res.x
        return cls(
            seed=int(seed), config=config, x_forget=frozen(x[is_f]), y_forget=frozen(y[is_f]),
            x_retain=frozen(x[~is_f]), y_retain=frozen(y[~is_f]), start=frozen(theta),
        )  # fmt: skip

    @property
    def net(self) -> NetLoss:
        """The network's shape (no loss terms)."""
        cfg = self.config
        return NetLoss(d=cfg["n_features"], h=cfg["hidden"], c=cfg["n_classes"], kappa=1.0)

    def objectives(self) -> tuple[ArrayObjective, ArrayObjective]:
        """(L_f, L_r): −mean KL(u ‖ softmax) on D_f and mean cross-entropy + λ/2‖θ‖² on D_r."""
        d, h, c, lam = self.net.d, self.net.h, self.net.c, self.config["lam"]
        lower = NetLoss(d=d, h=h, c=c, kappa=-1.0, offset=float(np.log(c)))
        upper = NetLoss(d=d, h=h, c=c, kappa=1.0, lam=lam)
        # writable copies: torch warns on read-only arrays
        lower_data = {"X": np.array(self.x_forget), "T": np.full((len(self.x_forget), c), -1.0 / c)}
        upper_data = {"X": np.array(self.x_retain), "T": np.eye(c)[self.y_retain]}
        keys = ("X", "T")
        return (
            ArrayObjective(value=lower.value, grad=lower.grad, hvp=lower.hvp, d3=lower.d3, data=lower_data,
                           row_keys=keys),
            ArrayObjective(value=upper.value, grad=upper.grad, hvp=upper.hvp, d3=upper.d3, data=upper_data,
                           row_keys=keys),
        )  # fmt: skip

    def theta0(self) -> np.ndarray:
        return np.array(self.start)

    def constants(self) -> Constants:
        return Constants()

    def solution(self) -> None:
        """No known bilevel solution."""
        return None

    # --- metrics ------------------------------------------------------------------------
    def accuracy(self, theta: np.ndarray, split: str = "retain") -> float:
        """Share of rows of ``split`` ("forget", "retain" or "all") classified correctly."""
        check_choice("split", split, ("forget", "retain", "all"))
        x = {"forget": self.x_forget, "retain": self.x_retain, "all": np.vstack([self.x_forget, self.x_retain])}
        y = {"forget": self.y_forget, "retain": self.y_retain, "all": np.concatenate([self.y_forget, self.y_retain])}
        return float(np.mean(self.net.predict(theta, x[split]) == y[split]))

    def params(self) -> dict[str, Any]:
        return {"seed": self.seed, **self.config}
