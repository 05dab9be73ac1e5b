"""The reviewed survivors of :mod:`benchmarks.mutation`: why each is equivalent or accepted (a data table)."""

from __future__ import annotations

#: Survivors reviewed as equivalent: mutant key → why no observable behaviour changes, or "accepted: ..." where
#: the change shows only on inputs no caller passes. (A key names the file, operator, the text of the mutated
#: line and the before/after text, not the line number.)
EQUIVALENT: dict[str, str] = {
    "ofmu_theory/solvers/scalarized.py:sign:157c068b1c":
        "the boolean array times 1.0 or divided by 1.0 is the same float array",
    "ofmu_theory/solvers/alternating.py:drop_call:afc3fdf118":
        "the line-search value σ·L_f: a 0-d tensor compares and negates like the float b.item makes of it",
    "ofmu_theory/backends/torch_backend.py:off_by_one:c6ed62f86a":
        "with one tensor, stacking its single dot product and summing gives the same number "
        "(the branch only saves two kernels)",
    "ofmu_theory/evaluator.py:drop_call:1a743fd44f":
        "the θ of the point returned by penalised is read by no solver or check; its other fields are detached",
    "ofmu_theory/evaluator.py:drop_call:c04d3ae768":
        "project_vjp detaches its point itself (torch) or never sees a graph (numpy)",
    "ofmu_theory/backends/torch_backend.py:drop_call:4a7d44eb3b":
        "torch._foreach_norm gives the same value and, in the pinned torch, the same gradient through a graph "
        "(test_norm_and_vdot_are_differentiable_through_a_graph passes on the mutant)",
    "ofmu_theory/constraints.py:compare:e62e5129ff":
        "the box's VJP at x = hi exactly, where the projection has no derivative: either one-sided derivative is "
        "a valid choice, and the gradient mapping evaluates it at θ + ηP∇Φ, not at a projected point",
    "ofmu_theory/constraints.py:compare:0d8a64f48b":
        "the box's VJP at x = lo exactly (as for hi)",
    "ofmu_theory/backends/torch_backend.py:swap_args:e1f95ef57b":
        "_no_graph(*vectors) asks whether any of its arguments needs a graph: their order does not matter",
    "ofmu_theory/backends/torch_backend.py:swap_args:9b5ec8aab0":
        "_no_graph(*vectors) asks whether any of its arguments needs a graph: their order does not matter",
    "ofmu_theory/steps.py:drop_call:2a5963ee12":
        "as_step_rule then builds ConstantStep(eta), whose own check rejects inf with the same message",
    "ofmu_theory/objectives.py:condition:b182e4544a":
        "a default in the abstract Objective.hvp signature: every implementation declares its own",
    "ofmu_theory/budget.py:condition:212dfa1857":
        "repr=True on PassBudget.then only changes the dataclass repr; no record, log or message prints a PassBudget "
        "(records use its to_dict)",
    "ofmu_theory/comparison.py:condition:137d72dca3":
        "zip(knobs, grid[i]) in search_configs: every grid tuple comes from itertools.product over the same knobs, so "
        "the lengths always match and strict never fires",
    "ofmu_theory/solvers/combined.py:swap_args:f42cd80845":
        "k and draws of a combined-gradient state both start at 0 and grow by one per step (one draw per step), so "
        "swapping them swaps equal numbers",
    "ofmu_theory/command.py:drop_call:a6ddbc07a7":
        "BaseException.__new__ already stores the constructor's arguments, so Interrupted(15).args is (15,) without "
        "the explicit super().__init__ (the pickle round trip in test_command passes on the mutant)",
    "ofmu_theory/hvp.py:drop_call:19a886d661":
        "rms θ in the finite-difference step: the norm becomes a float through b.item at once, so the graph it "
        "builds on a θ that has one is dropped unused; the value is the same",
    "ofmu_theory/hvp.py:drop_call:62e90e1042":
        "θ ± h·v go only to gradient oracles that detach their leaves when no graph is asked (TorchObjective; "
        "ShardedParams copies under no_grad), so the difference holds no graph either way "
        "(test_a_difference_at_a_point_on_a_graph_holds_no_graph passes on the mutant)",
    "ofmu_theory/settings.py:drop_call:781a8b8331":
        "blur and projection, the only solvers reaching this default, are CombinedGradients whose __post_init__ turns "
        "a float eta into ConstantStep(eta) (as_step_rule): the same solver; the step is > 0 as the constants are",
    "proofs_checks/rates.py:drop_call:363e4d8877":
        "numpy indexes a 0-d array with a 0-d boolean mask as a 1-element array and flatnonzero ravels: a scalar "
        "gives the same check (test_bound_check_at_its_tolerance_and_on_a_scalar passes on the mutant)",
    "proofs_checks/rates.py:off_by_one:261658812f":
        "log_scatter of two points: the single step is monotone and the formula gives 0, as the early return does",
    "proofs_checks/rates.py:compare:c92e45f619":
        "accepted: fit.n_hi is the largest n above round-off, so a point at or below round-off with n = n_hi "
        "exists only with repeated abscissae, which no grid has",
    "proofs_checks/rates.py:off_by_one:8d67f214ec":
        "accepted: s_tail = q·n^p over points above round-off (q > 0); its second value is 0 while its first is not "
        "only where n^p underflows in between (n > 1e154 for p = -2), far outside any grid of steps or noise levels",
    "llm/metrics/scoring.py:drop_call:39d5daa7ec":
        "the module-level logger of scoring.py is never called: nothing is logged through it",
    "llm/metrics/scoring.py:off_by_one:630ea3f1a3":
        "the default batch size of ModelScorer: scores and generations do not depend on the batching (padding is "
        "ignored, generation is left-padded; test_rouge_metric_generates_greedily compares batch 4 with batch 1)",
}
