"""``python -m llm.benchmark``: time per step, peak memory and OFMU's cost in multiples of GradDiff, side by side.

Every method runs a few outer iterations on the same model, data, batch size and seed (after a warm-up);
:func:`llm.perf.measure_step` reads each step's time from the core's trace, counts the gradient passes the
step makes, and replays those passes with bare torch to measure what the core adds on top of them.

Definitions (printed with the tables and written to docs/llm-performance.md by ``--write-docs``):

* **step** = one outer iteration of the core solver. GradDiff (and every ``scalarized`` method, BLUR) draws
  one forget batch and one retain batch per step; OFMU draws T + 1 (T inner ascent steps on Φ_β, one outer
  step on F_ρ).
* **epoch** = one pass over the forget set, counting EVERY forget batch a method draws, OFMU's inner and
  outer ones alike: an epoch is N_f / B forget batches, so OFMU's epoch is N_f / (B(T + 1)) outer steps
  and its cost per epoch relative to GradDiff is ``(time per OFMU step / (T + 1)) / time per GradDiff step``.
  (``llm.methods`` counts OFMU's ``epochs`` in outer steps instead — T + 1 passes over D_f each — so this
  benchmark's ratios are per unit of forget data seen, the fair comparison.) The paper reports OFMU at
  2.85–4.22× gradient ascent per epoch (arXiv 2509.22483).
* **gradient passes**: forward + backward evaluations of a loss on one batch (F = forget, R = retain). With
  equal forget and retain batch sizes (the default here) the pass count predicts the time ratio.
* **core overhead** = (core step time) / (bare torch time of the same passes on the same batches) − 1.

Usage::

    python -m llm.benchmark                                 # the embedded model (~1 min on 2 CPU cores)
    python -m llm.benchmark --model embedded,smollm2 --write-docs   # both, into docs/llm-performance.md
"""

from __future__ import annotations

import argparse
import datetime
import json
import logging
import platform
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

from llm.benchmark_report import accuracy_table, notes, render, synthetic_table, table, targets
from llm.benchmark_subjects import Subject, embedded_subject, smollm2_subject
from llm.benchmark_variants import estimator_variants, ofmu_variants, synthetic_errors, uses_estimator
from llm.methods import METHODS, bench_order
from llm.perf import failed, fd_accuracy, measure_error, measure_step
from llm.unlearn import RunSettings
from ofmu_theory.io import from_jsonable, write_json, write_text

logger = logging.getLogger("llm.benchmark")
DOCS = Path(__file__).resolve().parent.parent / "docs" / "llm-performance.md"
FD_EPS = (1e-7, 1e-6, 1e-5, 1e-4, 1e-3)
__all__ = ["Subject", "embedded_subject", "estimator_variants", "main", "ofmu_variants", "run_subject",
           "smollm2_subject", "synthetic_errors", "table"]


def baseline_methods() -> tuple[str, ...]:
    """The methods timed beside OFMU by default: every registered method but OFMU, in table order."""
    return tuple(name for name in bench_order() if name != "ofmu")


def run_subject(subject: Subject, *, inner_steps: int | Sequence[int], methods: Sequence[str],
                variants: Sequence[tuple[str, dict[str, Any]]] | None = None, device: str | None = None,
                bf16: bool = False, gradient_checkpointing: bool = False, progress: bool = True,
                errors: bool = True) -> dict[str, Any]:
    """Measure every method and OFMU variant (default :func:`ofmu_variants` + :func:`estimator_variants`) on
    ``subject``, side by side in one process; returns the report.

    Args:
        errors: for each cheaper estimator, also measure its error against the exact estimator over
            ``subject.error_steps`` outer steps (:func:`llm.perf.measure_error`; not timed).
    """
    import os  # noqa: PLC0415

    settings = RunSettings(seed=0, lora=subject.lora, max_length=256, device=device, bf16=bf16,
                           gradient_checkpointing=gradient_checkpointing)
    budget = {"batch_size": subject.batch, "retain_batch_size": subject.batch, "epochs": 100.0}
    plan: list[tuple[str, str, dict[str, Any]]] = [(name, name, {}) for name in methods]
    variants = ofmu_variants() + estimator_variants() if variants is None else variants
    ts = [inner_steps] if isinstance(inner_steps, int) else list(inner_steps)
    for t in ts:
        suffix = f", T={t}" if len(ts) > 1 else ""
        plan += [(label + suffix, "ofmu", {**extra, "inner_steps": t}) for label, extra in variants]
    rows: list[dict[str, Any]] = []
    load_before = os.getloadavg() if hasattr(os, "getloadavg") else None
    start = time.perf_counter()
    for label, name, extra in plan:
        t0 = time.perf_counter()
        error = None
        try:
            method = METHODS.get(name).preset(subject.preset, **budget, **extra)
            kw = dict(model=subject.model, tokenizer=subject.tokenizer, template=subject.template,
                      forget=subject.forget, retain=subject.retain, settings=settings)
            adjacent = None
            if name == "ofmu" and "grad_diff" in methods:  # GradDiff again, right before: the ratio's baseline
                baseline = METHODS.get("grad_diff").preset(subject.preset, **budget)
                adjacent = measure_step("grad_diff", baseline, steps=subject.steps, warmup=subject.warmup,
                                        bare=False, **kw).per_batch_s
            row = measure_step(label, method, steps=subject.steps, warmup=subject.warmup, **kw)
            if errors and name == "ofmu" and uses_estimator(extra):
                error = measure_error(method, steps=subject.error_steps, **kw)
        except (RuntimeError, ValueError) as err:  # e.g. out of memory: kept as a row with its error
            logger.exception("%s failed", label)
            row, adjacent = failed(label, err), None
        rows.append({**row.to_dict(), "estimator_error": error, "grad_diff_adjacent_s": adjacent})
        if progress:
            logger.info("%-26s %8.1f ms/step  (%.1f s)", label, 1e3 * row.step_s, time.perf_counter() - t0)
    return {"subject": subject.name, "description": subject.description, "batch": subject.batch,
            "steps": subject.steps, "warmup": subject.warmup, "error_steps": subject.error_steps, "inner_steps": ts,
            "threads": torch.get_num_threads(), "n_forget": len(subject.forget), "n_retain": len(subject.retain),
            "bf16": bf16, "gradient_checkpointing": gradient_checkpointing, "wall_s": time.perf_counter() - start,
            "load": {"before": load_before, "after": os.getloadavg() if hasattr(os, "getloadavg") else None},
            "rows": rows, "info": subject.info}


def environment(device: str) -> dict[str, Any]:
    import os  # noqa: PLC0415

    import transformers  # noqa: PLC0415

    name = torch.cuda.get_device_name(0) if device.startswith("cuda") and torch.cuda.is_available() else "cpu"
    return {"date": datetime.date.today().isoformat(), "platform": platform.platform(terse=True),
            "cpu_count": os.cpu_count(), "torch": torch.__version__, "transformers": transformers.__version__,
            "device": name}


def reproducing_argv(argv: Sequence[str]) -> list[str]:
    """The arguments that reproduce a report: output paths dropped (``--json PATH``, ``--write-docs [PATH]``), the
    quality file named by its producer (``--quality QUALITY_JSON``), then ``--write-docs`` appended, so the
    report's header names no file of the machine that wrote it."""
    shown, skip = [], False
    for i, arg in enumerate(argv):
        if skip:
            skip = False
            continue
        if arg == "--json":
            skip = True
        elif arg == "--quality":
            shown += ["--quality", "QUALITY_JSON"]
            skip = True
        elif arg.startswith("--quality="):
            shown += ["--quality", "QUALITY_JSON"]
        elif arg == "--write-docs":
            skip = i + 1 < len(argv) and not argv[i + 1].startswith("--")
        elif not arg.startswith(("--json=", "--write-docs=")):
            shown.append(arg)
    return [*shown, "--write-docs"]


def main(argv: list[str] | None = None) -> int:
    from ofmu_theory.allocator import keep_freed_memory  # noqa: PLC0415

    keep_freed_memory()
    import sys  # noqa: PLC0415

    parser = argparse.ArgumentParser(prog="python -m llm.benchmark", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="embedded", help="comma-separated: embedded, smollm2 (default embedded)")
    parser.add_argument("--size", default="tiny", help="embedded model size (default tiny, the bench's)")
    parser.add_argument("--steps", type=int, default=None, help="measured steps per method (embedded 8, smollm2 1)")
    parser.add_argument("--warmup", type=int, default=None, help="warm-up steps per method (embedded 2, smollm2 1)")
    parser.add_argument("--batch-size", type=int, default=None,
                        help="forget = retain rows per draw (embedded 8, smollm2 2)")
    parser.add_argument("--inner-steps", default=None,
                        help="OFMU's T, comma-separated for several (default 1, the bench's)")
    parser.add_argument("--methods", default=",".join(baseline_methods()), help="baseline methods to time")
    parser.add_argument("--no-ofmu", action="store_true", help="skip the OFMU variants")
    parser.add_argument("--full", action="store_true", help="SmolLM2: full fine-tuning instead of LoRA")
    parser.add_argument("--lora-r", type=int, default=8)
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default 1 embedded, torch's otherwise)")
    parser.add_argument("--device", default="cpu", help="cpu | cuda | auto (default cpu)")
    parser.add_argument("--bf16", action="store_true", help="forward passes under bf16 autocast")
    parser.add_argument("--gradient-checkpointing", action="store_true")
    parser.add_argument("--no-accuracy", action="store_true", help="skip the finite-difference accuracy table")
    parser.add_argument("--no-errors", action="store_true", help="skip the estimators' error against the exact one")
    parser.add_argument("--error-steps", type=int, default=None,
                        help="outer steps over which each estimator's error is measured (embedded 8, smollm2 1)")
    parser.add_argument("--quality", default=None, metavar="JSON",
                        help="add the quality table written by `python -m llm.estimator_quality --out JSON`")
    parser.add_argument("--json", default=None, help="also write the raw measurements here")
    parser.add_argument("--from-json", default=None, metavar="JSON",
                        help="measure nothing: render the measurements an earlier --json wrote (with --quality)")
    parser.add_argument("--write-docs", nargs="?", const=str(DOCS), default=None, metavar="PATH",
                        help=f"write the Markdown report (default path {DOCS.relative_to(DOCS.parent.parent)})")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    if args.from_json:
        return _render_saved(args.from_json, args.quality, args.write_docs)
    models = [m.strip() for m in args.model.split(",") if m.strip()]
    unknown = sorted(set(models) - {"embedded", "smollm2"})
    if unknown:
        print(f"llm.benchmark: error: unknown model(s) {unknown}; valid: embedded, smollm2", file=sys.stderr)
        return 2
    methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    if "grad_diff" not in methods:
        methods.insert(0, "grad_diff")  # every ratio is relative to it
    reports, accuracy = [], None
    for name in models:
        subject = embedded_subject(size=args.size) if name == "embedded" else smollm2_subject(
            lora=not args.full, lora_r=args.lora_r)
        subject.batch = args.batch_size or subject.batch
        subject.steps = args.steps or subject.steps
        subject.warmup = args.warmup or subject.warmup
        subject.error_steps = args.error_steps or subject.error_steps
        threads = args.threads if args.threads is not None else subject.threads
        if threads is not None:
            torch.set_num_threads(threads)
        logger.info("== %s", subject.description)
        inner = [int(t) for t in args.inner_steps.split(",")] if args.inner_steps else [1]
        report = run_subject(subject, inner_steps=inner, methods=methods, variants=[] if args.no_ofmu else None,
                             device=args.device, bf16=args.bf16, gradient_checkpointing=args.gradient_checkpointing,
                             errors=not args.no_errors)
        reports.append(report)
        print(f"\n{report['description']}\n")
        print(table(report))
        for line in notes(report) + targets(report):
            print(line)
        if name == "embedded" and not args.no_accuracy:
            from llm.objectives import encode_rows  # noqa: PLC0415

            def rows(items: Sequence[Any], label: str, tokenizer: Any = subject.tokenizer,
                     template: Any = subject.template) -> Any:
                return encode_rows(tokenizer, template, [(i.question, i.answer) for i in items[:8]],
                                   name=label, max_length=256)

            accuracy = fd_accuracy(subject.model, rows(subject.forget, "forget"), rows(subject.retain, "retain"),
                                   eps_values=FD_EPS)
            print("\nfinite-difference HVP relative error (embedded model, v = a retain gradient):\n")
            print(accuracy_table(accuracy))
        del subject
    synthetic = None if args.no_errors else synthetic_errors()
    if synthetic:
        print("\nestimator error on synthetic families:\n")
        print(synthetic_table(synthetic))
    quality = _read_json(args.quality, "--quality") if args.quality else None
    env = environment(args.device)
    if args.json:
        write_json(args.json, {"reports": reports, "accuracy": accuracy, "environment": env, "synthetic": synthetic,
                               "argv": reproducing_argv(argv if argv is not None else sys.argv[1:])})
    if args.write_docs:
        shown = reproducing_argv(argv if argv is not None else sys.argv[1:])
        write_text(args.write_docs, render(reports, accuracy, argv=shown, environment=env, synthetic=synthetic,
                                           quality=quality))
        print(f"wrote {args.write_docs}")
    return 0


def _read_json(path: str, flag: str) -> Any:
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise SystemExit(f"llm.benchmark: error: {flag} {path}: {err}") from None


def _render_saved(source: str, quality_path: str | None, write_docs: str | None) -> int:
    """Render saved measurements (and a quality file) into the document; the header shows the command that
    measures and renders them in one go."""
    data = from_jsonable(_read_json(source, "--from-json"))  # measurements that failed were stored as 'nan'
    missing = [k for k in ("reports", "environment", "argv") if k not in data]
    if missing:
        raise SystemExit(f"llm.benchmark: error: --from-json {source}: missing key(s) {missing}")
    quality = _read_json(quality_path, "--quality") if quality_path else None
    shown, argv = [], list(data["argv"])
    while argv:  # the measuring command's options, without --write-docs and --quality (added back below)
        a = argv.pop(0)
        if a == "--quality" and argv:
            argv.pop(0)
        elif a != "--write-docs":
            shown.append(a)
    shown += ["--quality", "QUALITY_JSON"] if quality else []
    text = render(data["reports"], data.get("accuracy"), argv=[*shown, "--write-docs"], environment=data["environment"],
                  synthetic=data.get("synthetic"), quality=quality)
    if write_docs:
        write_text(write_docs, text)
        print(f"wrote {write_docs}")
    else:
        print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
