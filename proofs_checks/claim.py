"""The claim protocol: a registered object that runs an experiment and reports numbers.

A claim is a frozen dataclass subclassing :class:`Claim`, registered in :data:`CLAIMS` under its
id ("C1", ..., "A1"). It states what it checks (text and LaTeX), where the statement comes from,
its assumptions, the families it applies to, the measured quantity and the expected rate or
bound; it lists its instances for a :class:`~proofs_checks.profiles.Profile`, runs the experiment
on one instance (:meth:`Claim.check`) and returns a
:class:`~proofs_checks.evidence.FamilyResult` whose checks carry measured, predicted, margin and
verdict. Tolerances are module constants (:data:`proofs_checks.rates.TOL`), fixed before any data.

Where a claim is violated the runner asks it for a counterexample: :meth:`Claim.violates`
re-runs the experiment on a candidate instance (with the smaller ``search`` settings of the
profile), and :mod:`proofs_checks.search` lets hypothesis shrink the family parameters.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from ofmu_theory.registry import Registry
from proofs_checks.evidence import FamilyResult, Verdict
from proofs_checks.instances import InstanceSpec
from proofs_checks.profiles import Profile


@dataclass(frozen=True, kw_only=True)
class Claim(ABC):
    """One convergence claim as an executable experiment.

    Class attributes (the claim's record):
        id: "C1" ... (the registry key).
        title: a few words.
        statement: the claim in words.
        latex: the claim in LaTeX.
        source: where it comes from (the paper's lemma/theorem as reconstructed, or the classical result).
        assumptions: what the statement assumes.
        applies_to: which families, in words.
        measured_quantity: what is measured.
        expected: the expected rate or bound, and how its constant is computed.
        readings: the claim's readings (quantity, evaluation point, sweep design), each with its
            own verdict; empty for claims read on one quantity.
        example: a small instance the claim applies to, run under the tests' tiny profile by the
            suite's checks of every registered claim (numbers, never a bare bool; serialisable).
    """

    id: ClassVar[str] = ""
    title: ClassVar[str] = ""
    statement: ClassVar[str] = ""
    latex: ClassVar[str] = ""
    source: ClassVar[str] = ""
    assumptions: ClassVar[tuple[str, ...]] = ()
    applies_to: ClassVar[str] = ""
    measured_quantity: ClassVar[str] = ""
    expected: ClassVar[str] = ""
    readings: ClassVar[tuple[Any, ...]] = ()
    example: ClassVar[InstanceSpec | None] = None

    @abstractmethod
    def instances(self, profile: Profile, seed: int) -> list[InstanceSpec]:
        """The instances the claim runs on under ``profile`` (seeds offset by ``seed``)."""

    @abstractmethod
    def check(self, spec: InstanceSpec, profile: Profile, *, search: bool = False) -> FamilyResult:
        """Run the experiment on one instance (``search``: the smaller counterexample-search settings)."""

    def violates(self, spec: InstanceSpec, profile: Profile) -> bool:
        """Whether the claim is violated on ``spec`` (used by the counterexample search)."""
        try:
            return self.check(spec, profile, search=True).verdict is Verdict.VIOLATED
        except (ValueError, np.linalg.LinAlgError):  # an instance the family rejects is no counterexample
            return False

    def searchable(self, family: str) -> bool:
        """Whether a counterexample search over ``family``'s parameters makes sense for this claim."""
        return True

    def describe(self) -> dict[str, Any]:
        """The claim's record, for results.json and docs."""
        return {
            "id": self.id,
            "title": self.title,
            "statement": self.statement,
            "latex": self.latex,
            "source": self.source,
            "assumptions": list(self.assumptions),
            "applies_to": self.applies_to,
            "measured_quantity": self.measured_quantity,
            "expected": self.expected,
            "readings": [r.describe() for r in self.readings],
        }


CLAIMS: Registry[type[Claim]] = Registry("claim")
"""Claims by id; ``proofs_checks/__init__`` imports every claim module."""
