"""What a claim reports: checks with numbers (measured, predicted, margin, verdict), never a bare bool.

A :class:`Check` is one piece of evidence: a bound check ("the measured quantity scaled by the
claimed rate stays under the constant"), a slope fit on the tail of a geometric grid, a
contraction factor, a sign test. A :class:`FamilyResult` gathers the checks of one claim on one
problem instance and combines them into one :class:`Verdict`:

* **violated** if any primary check is violated (the claim fails on this instance: it is a
  finding, reported with its counterexample);
* **holds** if every primary check holds;
* **inconclusive** otherwise (too few points above round-off, a vacuous test, a noisy fit).

Informational checks (``primary=False``) are reported but do not enter the verdict.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

import numpy as np


class Verdict(str, Enum):
    """The outcome of a check or of a claim on an instance."""

    HOLDS = "holds"
    VIOLATED = "violated"
    SPURIOUS = "spurious stationary point"
    INCONCLUSIVE = "inconclusive"
    NOT_APPLICABLE = "not applicable"

    def __str__(self) -> str:
        return self.value


def combine(verdicts: list[Verdict]) -> Verdict:
    """Violated beats spurious beats inconclusive beats holds; an empty list is inconclusive.

    "Spurious stationary point" (a stationary point of F_ρ far from the lower-level solution set)
    is never a pass.
    """
    relevant = [v for v in verdicts if v is not Verdict.NOT_APPLICABLE]
    if not relevant:
        return Verdict.INCONCLUSIVE if not verdicts else Verdict.NOT_APPLICABLE
    if Verdict.VIOLATED in relevant:
        return Verdict.VIOLATED
    if Verdict.SPURIOUS in relevant:
        return Verdict.SPURIOUS
    if Verdict.INCONCLUSIVE in relevant:
        return Verdict.INCONCLUSIVE
    return Verdict.HOLDS


@dataclass(frozen=True, kw_only=True)
class Check:
    """One piece of evidence.

    Attributes:
        name: short identifier ("lemma1_bound", "K_exponent_last", ...).
        kind: "bound", "slope", "contraction", "sign", "reached" or "info".
        measured: the measured number (a ratio, a slope, a factor, ...).
        predicted: what the claim predicts for it (a constant, an exponent, a factor).
        margin: signed distance to failure in the claim's favour (> 0: on the right side).
        verdict: this check's verdict.
        detail: one line of evidence in words (R², ranges, counts).
        extra: further numbers for results.json.
        primary: whether the check enters the verdict (of its reading, or of the claim).
        reading: the reading (quantity, evaluation point, sweep design) the check belongs to
            ("" for claims without readings); each reading has its own verdict.
    """

    name: str
    kind: str
    measured: float
    predicted: float
    margin: float
    verdict: Verdict
    detail: str = ""
    extra: dict[str, Any] = field(default_factory=dict)
    primary: bool = True
    reading: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "reading": self.reading,
            "kind": self.kind,
            "measured": self.measured,
            "predicted": self.predicted,
            "margin": self.margin,
            "verdict": self.verdict.value,
            "primary": self.primary,
            "detail": self.detail,
            "extra": self.extra,
        }


MAX_POINTS = 128
"""Longest series kept for figures and results.json."""


def thin(n: int, max_points: int) -> np.ndarray:
    """Indices 0..n−1 thinned to about ``max_points`` log-spaced ones (all of them when n is small)."""
    if n <= max_points:
        return np.arange(n)
    idx = np.unique(np.round(np.geomspace(1, n, max_points)).astype(np.int64) - 1)
    return np.unique(np.concatenate([[0], idx, [n - 1]]))


@dataclass(frozen=True, kw_only=True)
class Series:
    """A curve for the claim's figure: y against x, optionally with the theoretical bound drawn."""

    label: str
    x: tuple[float, ...]
    y: tuple[float, ...]
    bound: tuple[float, ...] | None = None
    bound_label: str = ""
    xlabel: str = ""
    ylabel: str = ""
    panel: str = ""

    @classmethod
    def of(cls, label: str, x: Any, y: Any, bound: Any = None, *, max_points: int = MAX_POINTS, **kwargs: Any) -> Series:
        """A series from arrays, thinned to at most ``max_points`` log-spaced points (first and last kept).

        Only figures and results.json read series; every check runs on the full data.
        """
        x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
        keep = thin(len(x), max_points)
        b = None if bound is None else np.asarray(bound, dtype=np.float64)[keep]
        return cls(
            label=label,
            x=tuple(float(v) for v in x[keep]),
            y=tuple(float(v) for v in y[keep]),
            bound=None if b is None else tuple(float(v) for v in b),
            **kwargs,
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "label": self.label, "panel": self.panel, "xlabel": self.xlabel, "ylabel": self.ylabel,
            "x": list(self.x), "y": list(self.y), "bound": None if self.bound is None else list(self.bound),
            "bound_label": self.bound_label,
        }  # fmt: skip


@dataclass(frozen=True, kw_only=True)
class FamilyResult:
    """The outcome of one claim on one problem instance.

    Attributes:
        claim: the claim's id ("C1").
        family: the family's registry name (or a label for a built-in calibration instance).
        params: the instance's parameters (seed included).
        setting: the solver settings and reconstruction choices the experiment used.
        expected: the expected rate or bound in words, with its constant.
        measured: the headline measurement in words.
        checks: the evidence.
        series: curves for the figure.
        notes: caveats (which θ_ρ, what a family lacked, vacuity).
        counterexample: where violated, the (smallest found) instance violating the claim.
        form: the family's form ("unlearning" or "classical"; "" for built-in instances).
        headline: the readings whose primary checks make the instance's verdict (empty: every
            primary check); every reading keeps its own verdict (:meth:`reading_verdicts`).
    """

    claim: str
    family: str
    params: dict[str, Any]
    setting: dict[str, Any]
    expected: str
    measured: str
    checks: tuple[Check, ...]
    series: tuple[Series, ...] = ()
    notes: tuple[str, ...] = ()
    counterexample: dict[str, Any] | None = None
    form: str = ""
    headline: tuple[str, ...] = ()

    @property
    def verdict(self) -> Verdict:
        primary = [c.verdict for c in self.checks if c.primary and (not self.headline or c.reading in self.headline)]
        return combine(primary)

    def readings(self) -> list[str]:
        """The readings this result has primary checks for, in order ("" when the claim has none)."""
        out: list[str] = []
        for c in self.checks:
            if c.primary and c.reading not in out:
                out.append(c.reading)
        return out

    def reading_verdicts(self) -> dict[str, Verdict]:
        """Each reading's own verdict (the combination of its primary checks)."""
        return {r: combine([c.verdict for c in self.checks if c.primary and c.reading == r]) for r in self.readings()}

    def with_counterexample(self, counterexample: dict[str, Any] | None) -> FamilyResult:
        from dataclasses import replace

        return replace(self, counterexample=counterexample)

    def evidence(self) -> str:
        """The primary checks in one line: name, measured vs predicted, verdict."""
        parts = []
        for c in self.checks:
            if c.primary and c.verdict is not Verdict.NOT_APPLICABLE:
                parts.append(f"{c.name}: {fmt(c.measured)} vs {fmt(c.predicted)} ({c.verdict.value})")
        return "; ".join(parts)

    def to_dict(self) -> dict[str, Any]:
        return {
            "claim": self.claim,
            "family": self.family,
            "params": self.params,
            "setting": self.setting,
            "verdict": self.verdict.value,
            "form": self.form,
            "reading_verdicts": {r: v.value for r, v in self.reading_verdicts().items()},
            "expected": self.expected,
            "measured": self.measured,
            "checks": [c.to_dict() for c in self.checks],
            "notes": list(self.notes),
            "counterexample": self.counterexample,
            "series": [s.to_dict() for s in self.series],
        }


def not_applicable(claim: str, family: str, params: dict[str, Any], reason: str) -> FamilyResult:
    """A result saying the claim does not apply to this instance, and why."""
    check = Check(
        name="applicable", kind="info", measured=math.nan, predicted=math.nan, margin=math.nan,
        verdict=Verdict.NOT_APPLICABLE, detail=reason,
    )  # fmt: skip
    return FamilyResult(
        claim=claim, family=family, params=params, setting={}, expected="—", measured="—",
        checks=(check,), notes=(reason,),
    )  # fmt: skip


def fmt(x: float, digits: int = 4) -> str:
    """A float in ``digits`` significant digits ('nan', 'inf' spelled out): stable text for reports."""
    if isinstance(x, bool):
        return str(x)
    if isinstance(x, int):
        return str(x)
    try:
        x = float(x)
    except (TypeError, ValueError):
        return str(x)
    if math.isnan(x):
        return "nan"
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    if x == 0:
        return "0"
    return f"{x:.{digits}g}"
