"""Unlearning methods, each a small file mapping the task to one core solver (``METHODS.get(name)``).

Registered entries (name → core solver):

- ``retrain``   — scalarized, γ_f = 0, from scratch on D_r (``vision.train``'s recipe)
- ``ft``        — scalarized, γ_f = 0 (fine-tune on D_r)
- ``ga``        — scalarized, λ = 0 (ascent on CE(D_f))
- ``rl``        — scalarized on random-label CE(D_f) (minimised) + CE(D_r)
- ``l1_sparse`` — scalarized, γ_f = 0, ℓ1 = LinearDecay
- ``salun``     — scalarized as RL with ``update_mask`` = the saliency mask
- ``scrub``     — alternating (max-steps on KL over D_f, min-steps on α·KL + γ·CE over D_r)
- ``graddiff``  — scalarized, γ_f > 0, λ = 1
- ``blur``      — blur
- ``ofmu``      — ofmu
"""

from ofmu_theory import options as flat
from vision.methods import blur, ft, ga, graddiff, l1_sparse, ofmu, retrain, rl, salun, scrub  # noqa: F401
from vision.methods.base import METHODS, Method, SgdMethod, UnlearnTask, Unlearned, bench_order



def make_method(name: str, **overrides: object) -> Method:
    """The registered method ``name`` with its defaults, some replaced by ``overrides`` (flat option names).

    Raises:
        ValueError: unknown method (the message lists the valid ones) or unknown hyper-parameter.
    """
    cls = METHODS.get(name)
    valid = cls.options()
    unknown = sorted(set(overrides) - set(valid))
    if unknown:
        raise ValueError(f"unknown hyper-parameter(s) {unknown} for method {name!r}; valid: {', '.join(sorted(valid))}")
    return flat.build(cls, overrides)


__all__ = ["METHODS", "Method", "SgdMethod", "UnlearnTask", "Unlearned", "bench_order", "make_method"]
