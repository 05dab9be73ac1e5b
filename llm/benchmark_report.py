"""The tables and the document ``python -m llm.benchmark`` writes (docs/llm-performance.md).

Every number comes from the measured reports :func:`llm.benchmark.run_subject` returns; the prose between
them states definitions and derivations (pass counts), never a measurement.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from llm.benchmark_text import CHEAPER, OPTIONS, PASS_COUNTS

# --- tables --------------------------------------------------------------------------------------------


def passes_text(row: dict[str, Any]) -> str:
    """'3F + 3R', with graph-building passes, exact HVPs and third-order products spelled out."""
    p = row["passes"]
    if not p:
        return "–"
    parts = [f"{p[k]}{side}" for k, side in (("F.grad", "F"), ("R.grad", "R")) if p.get(k)]
    text = " + ".join(parts)
    graph = [f"{p[k]}{side}" for k, side in (("F.grad.graph", "F"), ("R.grad.graph", "R")) if p.get(k)]
    hvps = sum(v for k, v in p.items() if ".hvp" in k)
    extra = ([f"{' + '.join(graph)} with graph"] if graph else []) + ([f"{hvps} HVP"] if hvps else [])
    if row["third"]:
        extra.append(f"{row['third']:g} ∇²Φ·w")
    return " + ".join(([text] if text else []) + extra)


def _pure_gradient_passes(row: dict[str, Any]) -> float | None:
    p = row["passes"]
    if any(k not in ("F.grad", "R.grad") for k in p) or row["third"]:
        return None
    return p.get("F.grad", 0) + p.get("R.grad", 0)


def _fmt(x: float | None, spec: str, suffix: str = "") -> str:
    return "–" if x is None or (isinstance(x, float) and not math.isfinite(x)) else f"{x:{spec}}{suffix}"


def _error_text(r: dict[str, Any], key: str) -> str:
    e = r.get("estimator_error")
    if not e:
        return "–"
    return f"{_fmt(e[f'{key}_mean'], '.2g')} / {_fmt(e[f'{key}_max'], '.2g')}"


def epoch_ratio(r: dict[str, Any], gd: dict[str, Any]) -> float:
    """Time per forget batch / GradDiff's, against the GradDiff steps measured right before this row where there
    are some (``grad_diff_adjacent_s``: the load of a shared machine changes within minutes), else the
    GradDiff row's."""
    adjacent = r.get("grad_diff_adjacent_s")
    return r["per_batch_s"] / (adjacent if adjacent else gd["per_batch_s"])


def memory_ratio(r: dict[str, Any], gd: dict[str, Any] | None) -> float | None:
    """Peak memory / GradDiff's (None where either is missing or GradDiff's is not positive)."""
    if not gd or not (gd["peak_mib"] == gd["peak_mib"] and gd["peak_mib"] > 0) or r["peak_mib"] != r["peak_mib"]:
        return None
    return r["peak_mib"] / gd["peak_mib"]


def table(report: dict[str, Any]) -> str:
    """The Markdown table of one subject."""
    rows = report["rows"]
    by = {r["label"]: r for r in rows}
    gd, ga = by.get("grad_diff"), by.get("grad_ascent")
    gd_passes = _pure_gradient_passes(gd) if gd else None
    head = ("| method | gradient passes / step | forget batches / step | ms / step | ms / forget batch | "
            "× GradDiff per epoch | × by pass count | × GradAscent per epoch | peak MiB | × GradDiff peak | "
            "∇Φ error mean / max | step error mean / max | bare passes ms | core overhead |")
    lines = [head, "|" + "---|" * 14]
    for r in rows:
        ratio = epoch_ratio(r, gd) if gd and gd["steps"] and r["steps"] else None
        ratio_ga = r["per_batch_s"] / ga["per_batch_s"] if ga and ga["steps"] and r["steps"] else None
        passes = _pure_gradient_passes(r)
        predicted = passes / r["forget_batches"] / gd_passes if passes is not None and gd_passes else None
        status = "" if r["status"] in ("MAX_STEPS",) and r["finite"] else f" ({r['status'] if r['error'] is None else r['error']})"
        lines.append(
            f"| {r['label']}{status} | {passes_text(r)} | {r['forget_batches']} | {_fmt(1e3 * r['step_s'], '.1f')} | "
            f"{_fmt(1e3 * r['per_batch_s'], '.1f')} | {_fmt(ratio, '.2f', '×')} | {_fmt(predicted, '.2f', '×')} | "
            f"{_fmt(ratio_ga, '.2f', '×')} | {_fmt(r['peak_mib'], '.0f')} | {_fmt(memory_ratio(r, gd), '.2f', '×')} | "
            f"{_error_text(r, 'grad_phi')} | {_error_text(r, 'step')} | "
            f"{_fmt(None if r['bare_s'] is None else 1e3 * r['bare_s'], '.1f')} | {_overhead(r)} |")
    return "\n".join(lines) + "\n"


ROW_NOTES = {
    "rmu": "RMU's forward passes stop at its hooked block ℓ and its backward pass reaches only the projections it "
           "trains, so its two passes are partial ones (hence below GradDiff).",
    "idkdpo": "IdkDPO's forget loss scores two answers per row (the IdK answer and the true one), so its forget "
              "pass runs twice the sequences (hence above its pass count).",
}


def notes(report: dict[str, Any]) -> list[str]:
    """Footnotes for the rows whose passes are not full forward + backward passes."""
    labels = {r["label"] for r in report["rows"]}
    return [f"- {text}" for label, text in ROW_NOTES.items() if label in labels]


def _overhead(r: dict[str, Any]) -> str:
    if r["overhead"] is None:
        return "–"
    return f"{100 * r['overhead']:+.0f} % ({1e3 * (r['step_s'] - r['bare_s']):+.1f} ms)"


def _beta(label: str) -> float | None:
    """β from a row label such as 'ofmu fd forward, β=0.1, lag 2' (None for other methods)."""
    if not label.startswith("ofmu") or "β=" not in label:
        return None
    return float(label.split("β=")[1].split(",")[0].split(" ")[0])


def targets(report: dict[str, Any]) -> list[str]:
    """The verdict lines: OFMU with β > 0 at ≤ 2× GradDiff per epoch and ≤ 1.5× its peak memory; core overhead ≤ 10 %."""
    by = {r["label"]: r for r in report["rows"]}
    gd = by.get("grad_diff")
    out = []
    if gd and gd["steps"]:
        gd_passes = _pure_gradient_passes(gd)
        for r in report["rows"]:
            beta = _beta(r["label"])
            if beta is None or beta == 0 or not r["steps"]:
                continue
            ratio = epoch_ratio(r, gd)
            memory = memory_ratio(r, gd)
            passes = _pure_gradient_passes(r)
            counted = "" if passes is None else (
                f" It makes {passes_text(r)} = {passes} gradient passes per step over {r['forget_batches']} forget "
                f"batches, {passes / r['forget_batches']:.2f} per forget batch against GradDiff's {gd_passes}: "
                f"{passes / r['forget_batches'] / gd_passes:.2f}× by pass count.")
            both = ratio <= 2.0 and memory is not None and memory <= 1.5
            out.append(f"- {r['label']}: {ratio:.2f}× GradDiff per epoch ({'met' if ratio <= 2.0 else 'MISSED'}, ≤ 2×), "
                       f"{_fmt(memory, '.2f', '×')} its peak memory ({'met' if memory is not None and memory <= 1.5 else 'MISSED'}, "
                       f"≤ 1.5×) — {'both met' if both else 'not both met'}.{counted}")
    for r in report["rows"]:
        if r["overhead"] is not None:
            adamw = r.get("torch_adamw_s")
            reference = "" if adamw is None else (
                f" (PyTorch's own AdamW(foreach) step on the same θ: {1e3 * adamw:.1f} ms = "
                f"{100 * adamw / r['bare_s']:.0f} % of the bare passes)")
            out.append(f"- core overhead, {r['label']}: {_overhead(r)} on {1e3 * r['bare_s']:.1f} ms of bare passes "
                       f"— {'met' if r['overhead'] <= 0.10 else 'MISSED'} (≤ 10 %){reference}.")
    return out


def accuracy_table(rows: Sequence[dict[str, Any]]) -> str:
    eps = list(rows[0]["errors"])
    lines = ["| precision | scheme | " + " | ".join(f"fd_eps = {float(e):g}" for e in eps) + " | best fd_eps |",
             "|" + "---|" * (len(eps) + 3)]
    for r in rows:
        best = min(r["errors"], key=r["errors"].get)
        lines.append(f"| {r['precision']} | {r['scheme']} | " + " | ".join(f"{r['errors'][e]:.2g}" for e in eps)
                     + f" | {float(best):g} ({r['errors'][best]:.2g}) |")
    return "\n".join(lines) + "\n"


# --- the document --------------------------------------------------------------------------------------

def synthetic_table(rows: Sequence[dict[str, Any]]) -> str:
    """Markdown: each estimator's relative error per synthetic family (mean / max over the run)."""
    lines = ["| family | estimator | ∇Φ_β error mean | max | step (∇F_ρ) error mean | max |", "|" + "---|" * 6]
    for r in rows:
        lines.append(f"| {r['family']} | {r['label']} | {r['grad_phi_mean']:.2g} | {r['grad_phi_max']:.2g} | "
                     f"{r['step_mean']:.2g} | {r['step_max']:.2g} |")
    return "\n".join(lines) + "\n"


def recommendation(reports: Sequence[dict[str, Any]], quality: dict[str, Any] | None) -> str:
    """The fastest OFMU variant with β > 0 that meets both cost targets on every subject and, when the quality
    table is there, keeps the reference's quality; read from the measured reports."""
    from llm.estimator_quality import verdicts  # noqa: PLC0415

    ok_quality = verdicts(quality) if quality else {}
    candidates: dict[str, list[float]] = {}
    failing: set[str] = set()
    for report in reports:
        by = {r["label"]: r for r in report["rows"]}
        gd = by.get("grad_diff")
        if not gd or not gd["steps"]:
            continue
        for r in report["rows"]:
            beta = _beta(r["label"])
            if beta is None or beta == 0 or not r["steps"] or not r["finite"]:
                continue
            ratio, memory = epoch_ratio(r, gd), memory_ratio(r, gd)
            if ratio <= 2.0 and memory is not None and memory <= 1.5:
                candidates.setdefault(r["label"], []).append(ratio)
            else:
                failing.add(r["label"])
    names = {label: label.removeprefix("ofmu ").replace(", β=0.1", "") for label in candidates}
    kept = {label: max(v) for label, v in candidates.items() if label not in failing
            and (not ok_quality or ok_quality.get(names[label], False))}
    if not kept:
        return ("No OFMU variant with β > 0 met both cost targets on every subject measured"
                + (" with quality unchanged." if ok_quality else "."))
    best = min(kept, key=kept.get)
    quality_text = (" and its FQ / MU stay within one FQ step and 0.01 MU of the exact path's range over the seeds "
                    "(quality table)") if ok_quality else " (quality not measured in this run)"
    return (f"Recommended bench default: **{best}** — {kept[best]:.2f}× GradDiff per epoch (the largest over the "
            f"subjects measured) within 1.5× its peak memory{quality_text}. Every candidate meeting the cost targets"
            f": {', '.join(f'{k} ({v:.2f}×)' for k, v in sorted(kept.items(), key=lambda kv: kv[1]))}.")


def render(reports: Sequence[dict[str, Any]], accuracy: Sequence[dict[str, Any]] | None, *, argv: Sequence[str],
           environment: dict[str, Any], synthetic: Sequence[dict[str, Any]] | None = None,
           quality: dict[str, Any] | None = None) -> str:
    """docs/llm-performance.md from the measured reports."""
    from llm.estimator_quality import quality_table  # noqa: PLC0415

    shown = " ".join(argv)
    producer = (" (QUALITY_JSON written first by `python -m llm.estimator_quality --out QUALITY_JSON`)"
                if "QUALITY_JSON" in shown else "")
    out = ["# LLM methods: time per step, memory, OFMU's cost per epoch\n",
           f"Generated by `python -m llm.benchmark {shown}`{producer} on {environment['date']} — do not edit by "
           "hand; rerun the command to refresh it.\n",
           f"Machine: {environment['platform']}, {environment['cpu_count']} CPU cores, torch "
           f"{environment['torch']}, transformers {environment['transformers']}, device {environment['device']}. "
           "Times are medians over the measured steps (after warm-up steps); on a shared machine expect "
           "±10–20 % from run to run, more under heavy load (each section states the load average), so read each "
           "ratio beside its `× by pass count`, which the load does not change. Peak memory: the CUDA allocator's peak, or on CPU the sampled resident "
           "set above the level before the run (`llm.memory.PeakMemory`), during the measured run.\n",
           "## Definitions\n",
           "* **step**: one outer iteration of the core solver; GradDiff and the other `scalarized` methods and "
           "BLUR draw one forget and one retain batch per step, OFMU draws T + 1 (T inner steps on Φ_β, one "
           "outer step on F_ρ).",
           "* **epoch**: one pass over the forget set counting every forget batch a method draws — OFMU's inner "
           "and outer ones alike — so OFMU's cost per epoch relative to GradDiff is (time per OFMU step / "
           "(T + 1)) / (time per GradDiff step), the `× GradDiff per epoch` column. For each OFMU row the GradDiff "
           "step is measured again right before it (same run, same process: the load of a shared machine changes "
           "within minutes) and the ratio uses that measurement. The paper reports OFMU at "
           "2.85–4.22× gradient ascent per epoch (arXiv 2509.22483); the `× GradAscent per epoch` column is the "
           "same ratio against gradient ascent.",
           "* **gradient passes**: forward + backward evaluations of a loss on one batch, counted from the "
           "oracle calls of a measured step (F forget, R retain; 'with graph' = kept for a further backward "
           "pass; HVP = exact Hessian-vector product; ∇²Φ·w = the core's backward pass through ∇Φ). Forget "
           "and retain batches have the same size here, so `× by pass count` = (passes per forget batch) / "
           "(GradDiff's 2) predicts the time ratio.",
           "* **core overhead**: (the core's step time) / (bare torch time of the same passes — the same "
           "loss functions on the same batches, `torch.autograd.grad` — replayed right after the step) − 1: "
           "everything the solver adds (objective wrapper, AdamW, θ ± h·v, norms, Sim, trace, sampling). Not "
           "measured for exact HVPs (∇²Φ·w is a backward pass the core takes itself, not an oracle call).",
           "* **∇Φ error, step error**: for the cheaper estimators of the similarity term (next sections), "
           "‖∇̂Φ_β − ∇Φ_β‖/‖∇Φ_β‖ at every evaluation and ‖∇̂F_ρ − ∇F_ρ‖/‖∇F_ρ‖ at every outer step of a run "
           "(mean / max), against the exact estimator at the same θ and batches with the same HVP strategy "
           "(`ofmu_theory.estimators.estimator_errors`), measured in a separate, untimed run.\n"]
    if not any(r["subject"] == "smollm2" for r in reports):
        out.append("SmolLM2-135M (LoRA) was not measured in this run (`--model embedded,smollm2` adds it).\n")
    for report in reports:
        out.append(f"## {report['description']}\n")
        out.append(f"Forget set {report['n_forget']} rows, retain set {report['n_retain']} rows; batch "
                   f"{report['batch']} forget + {report['batch']} retain rows per draw; OFMU with T = "
                   f"{', '.join(map(str, report['inner_steps']))} inner step(s); {report['warmup']} warm-up + {report['steps']} measured steps per method; "
                   f"{report['threads']} CPU thread(s); bf16 {'on' if report['bf16'] else 'off'}, gradient "
                   f"checkpointing {'on' if report['gradient_checkpointing'] else 'off'}; "
                   f"{report['wall_s']:.0f} s in all{_load_text(report)}; estimator errors over "
                   f"{report.get('error_steps', '–')} outer steps.\n")
        out.append(table(report))
        out.extend(notes(report) + [""])
        lines = targets(report)
        if lines:
            out.append("Targets (measured):\n")
            out.extend(lines)
            out.append("")
    out += ["## The pass count, and cheaper estimators of the similarity term\n", PASS_COUNTS, ""]
    if synthetic:
        out += ["### Estimator error on synthetic families\n",
                "OFMU with β = 0.1, ρ = 1, T = 1 and plain steps η = 1/(10 L_lower) (0.01 where the family has no "
                "L), numpy backend with the families' analytic HVPs and third-order products, seed 0, "
                f"{synthetic[0].get('steps', '–')} outer steps; errors against the exact estimator along the "
                "variant's own run (`llm.benchmark.synthetic_errors`). With ρ = 1 the penalty term dominates "
                "∇F_ρ, so the step error shows the dropped third-order term at full weight; on the LLM bench "
                "(ρ = 1e-5) ∇F_ρ is mostly ∇L_r.\n", synthetic_table(synthetic)]
    if quality:
        out += ["### Quality under the bench's protocol (embedded model)\n",
                f"`python -m llm.estimator_quality` ({quality['wall_s']:.0f} s): `llm.bench.run_bench` on the "
                "embedded model's prepared entry, the bench's budget and OFMU's embedded preset (T = 1, β = 0.1, "
                "ρ = 1e-5, NPO forget loss), only the estimator options changed; the seed is the unlearning "
                "run's (sampler and random picks) on the same target. The reference is the bench's OFMU as it "
                "stands (exact HVPs). 'Within' = every seed within one FQ step and 0.01 MU of the reference's "
                "range over the seeds. Wall times here ran while other jobs shared the machine: compare the "
                "cost columns above, not these.\n", quality_table(quality)]
    out += [recommendation(reports, quality), ""]
    out += ["## What would make it cheaper\n", CHEAPER, "", "## Runtime options at scale\n", OPTIONS, ""]
    if accuracy:
        out += ["## Accuracy of finite-difference HVPs, fp32 and bf16 autocast\n",
                "Relative error ‖H̃v − Hv‖/‖Hv‖ of ∇²NLL_f·v on the embedded model (randomly initialised, 8 "
                "forget rows) against the exact product of a float64 copy, v = the gradient of the retain NLL "
                "on 8 rows (OFMU differentiates along gradient-like directions: p, q and ∇Φ). The step is "
                "h = fd_eps·(1 + rms θ)/rms v (the core's rule). The OFMU method's default is fd_eps = 1e-5.\n",
                accuracy_table(accuracy), accuracy_notes(accuracy)]
    return "\n".join(out)


def _load_text(report: dict[str, Any]) -> str:
    load = report.get("load") or {}
    if not load.get("before") or not load.get("after"):
        return ""
    return (f"; 1-minute load average {load['before'][0]:.1f} before and {load['after'][0]:.1f} after "
            "(other jobs shared the machine)")


def accuracy_notes(rows: Sequence[dict[str, Any]]) -> str:
    """What the accuracy table says, read from it."""
    # float keys (JSON makes them strings: measurements rendered again with --from-json)
    err = {(r["precision"], r["scheme"]): {float(k): v for k, v in r["errors"].items()} for r in rows}
    best = {k: min(v, key=v.get) for k, v in err.items()}
    fp32c, fp32f = ("fp32", "central"), ("fp32", "forward")
    b16c, b16f = ("bf16 autocast", "central"), ("bf16 autocast", "forward")
    return (f"In fp32, central differences are most accurate at fd_eps = {float(best[fp32c]):g} "
            f"({err[fp32c][best[fp32c]]:.2g}; {err[fp32c][1e-5]:.2g} at the default 1e-5) and forward differences at "
            f"fd_eps = {float(best[fp32f]):g} ({err[fp32f][best[fp32f]]:.2g}; {err[fp32f][1e-5]:.2g} at 1e-5): the cheaper "
            f"forward scheme wants a smaller step than the default (`--set fd_scheme=forward --set "
            f"fd_eps={float(best[fp32f]):g}`). Under bf16 autocast every gradient carries bf16's rounding (8 "
            f"significant bits) and a difference divides it by h, so no step recovers fp32's accuracy: the best are "
            f"{err[b16c][best[b16c]]:.2g} (central, fd_eps = {float(best[b16c]):g}) and {err[b16f][best[b16f]]:.2g} "
            f"(forward, fd_eps = {float(best[b16f]):g}). With bf16, OFMU's finite-difference HVPs are a few-to-tens "
            "of per cent accurate; the exact path differentiates the bf16 forward pass exactly instead. These are one "
            "model's numbers (a random initialisation, one direction v): the best step depends on the weights and on "
            "how v is spread over them, so check a small step on your model before relying on it.\n")


