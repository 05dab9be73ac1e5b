"""``ofmu vision prepare | unlearn | bench``: the vision bench from the command line.

- ``prepare`` trains (or finds in the cache) the Original and the Retrain models of every mode.
- ``unlearn --method NAME`` runs one method from the Original, evaluates it and compares it to Retrain.
- ``bench`` runs Retrain and every method for random and class-wise forgetting and writes
  ``bench.md``, ``bench.json`` and ``bench.png`` into ``--out``.

``ofmu_cli.main`` calls :func:`register` with its sub-parsers; :func:`build_parser` gives a
stand-alone parser (``python -m vision.cli``) for use before the other packages exist.
"""

from __future__ import annotations

import argparse
import logging
import sys
from dataclasses import replace
from typing import Any

from ofmu_theory.io import write_json

logger = logging.getLogger(__name__)

DEFAULT_OUT = "out/vision-bench"


def _common(p: argparse.ArgumentParser, *, single_mode: bool = False) -> None:
    from vision.bench import DEFAULT_DATASET, DEFAULT_TRAIN, BenchConfig

    d = BenchConfig()
    g = p.add_argument_group("data and split")
    g.add_argument("--dataset", default=DEFAULT_DATASET, help=f"dataset (default {DEFAULT_DATASET}; digits if absent)")
    g.add_argument("--root", default=None, help="data folder (default: the loader's)")
    g.add_argument("--n-train", type=int, default=d.n_train,
                   help=f"training images used (default {d.n_train}; 0 = all)")
    g.add_argument("--n-test", type=int, default=d.n_test, help=f"test images used (default {d.n_test}; 0 = all)")
    if single_mode:
        g.add_argument("--mode", dest="modes", default="random", choices=["random", "class"], help="forgetting mode")
    else:
        g.add_argument("--modes", default=",".join(d.modes), help="forgetting modes, comma-separated (random,class)")
    g.add_argument("--forget-fraction", type=float, default=d.forget_fraction, help="random mode: share of D forgotten")
    g.add_argument("--forget-class", type=int, default=d.forget_class, help="class mode: the class forgotten")
    g.add_argument("--seed", type=int, default=d.seed, help="split, training and unlearning seed (>= 1)")
    t = p.add_argument_group("Original / Retrain recipe")
    t.add_argument("--model", default=DEFAULT_TRAIN.model, help="model (small_cnn, resnet18)")
    t.add_argument("--width", type=int, default=DEFAULT_TRAIN.width, help="model width (default: the model's)")
    t.add_argument("--epochs", type=int, default=DEFAULT_TRAIN.epochs, help="training epochs")
    t.add_argument("--lr", type=float, default=DEFAULT_TRAIN.lr, help="training lr (cosine-decayed)")
    t.add_argument("--batch-size", type=int, default=DEFAULT_TRAIN.batch_size, help="training batch size")
    t.add_argument("--no-cache", action="store_true", help="always train; never read or write the model cache")
    p.add_argument("--threads", type=int, default=1,
                   help="torch CPU threads (default 1: steady timings on a shared machine; 0 = torch's default)")
    p.add_argument("--quiet", action="store_true", help="no progress bars")


def _config(args: argparse.Namespace, **extra: Any) -> Any:
    from vision.bench import DEFAULT_TRAIN, BenchConfig

    train = replace(DEFAULT_TRAIN, model=args.model, width=args.width, epochs=args.epochs, lr=args.lr,
                    batch_size=args.batch_size)
    modes = tuple(m.strip() for m in args.modes.split(",") if m.strip())
    return BenchConfig(
        dataset=args.dataset, root=args.root, n_train=args.n_train or None, n_test=args.n_test or None,
        modes=modes, forget_fraction=args.forget_fraction, forget_class=args.forget_class, seed=args.seed,
        train=train, cache=not args.no_cache, threads=args.threads or None, **extra,
    )


def parse_overrides(items: list[str], methods: tuple[str, ...] | list[str] | None = None) -> dict[str, dict[str, Any]]:
    """``--set`` in the grammar of every command (:func:`ofmu_theory.settings.per_method`): ``["ofmu.rho=2",
    "lr=0.02"]`` → ``{"ofmu": {"rho": 2}, ...}`` (``lr`` for every method of ``methods`` that has it; None: all)."""
    from ofmu_theory.options import coerce_option
    from ofmu_theory.settings import parse_assignments, per_method
    from vision.methods import METHODS

    def fields(name: str) -> set[str]:
        return set(METHODS.get(name).options())

    from vision.bench import BenchConfig

    run = tuple(methods) if methods else BenchConfig().methods
    out = per_method(parse_assignments(items, what="--set"), run, fields=fields)
    for method, values in out.items():  # names and values are checked at parse time, before any training
        cls = METHODS.get(method)
        out[method] = {name: coerce_option(cls, name, value, prefix=f"{method}.") for name, value in values.items()}
    return out


def _check_cache(config: Any) -> None:
    """A read-only model cache fails before any training, not after it."""
    if config.cache:
        from ofmu_theory.io import check_writable
        from vision.train import cache_root

        check_writable(cache_root(), what="the model cache")


def _prepare(args: argparse.Namespace) -> int:
    from ofmu_theory.runinfo import torch_threads

    config = _config(args)
    _check_cache(config)
    with torch_threads(config.threads):
        return _prepare_models(config, quiet=args.quiet)


def _prepare_models(config: Any, *, quiet: bool) -> int:
    from vision.bench import bench_split, load_bench_data
    from vision.evaluate import evaluate
    from vision.train import load_or_train

    data, _ = load_bench_data(config)
    for mode in config.modes:
        split = bench_split(data, config, mode)
        for name, rows in (("Original", split.train), (f"Retrain ({mode})", split.retain)):
            trained = load_or_train(data, rows, config=config.train, seed=config.seed, name=name,
                                    cache=config.cache, progress=not quiet)
            ev = evaluate(trained.model, data, split)
            where = trained.path or "(not cached)"
            print(f"{name:18s} {'cached' if trained.cached else 'trained':7s} {trained.wall_s:7.1f} s  "
                  f"UA {ev.ua:6.2f} RA {ev.ra:6.2f} TA {ev.ta:6.2f} MIA {ev.mia_efficacy:6.2f}  {where}")
    return 0


def _unlearn(args: argparse.Namespace) -> int:
    from ofmu_theory.runinfo import torch_threads

    overrides = parse_overrides(args.set, (args.method,))
    config = _config(args, methods=(args.method,), overrides=overrides)
    _check_cache(config)
    with torch_threads(config.threads):  # as the bench runs: the thread count changes the numbers
        return _unlearn_one(args, config)


def _unlearn_one(args: argparse.Namespace, config: Any) -> int:
    import contextlib

    from ofmu_theory.io import output_dir

    with contextlib.ExitStack() as stack:  # --out is claimed (writable, locked, not finished) before any work
        staging = stack.enter_context(output_dir(args.out, overwrite=args.overwrite)) if args.out else None
        code = _unlearn_into(args, config, staging)
    if args.out:
        print(f"wrote {args.out}/result.json" + ("" if code else " and model/model.safetensors"))
    return code


def _unlearn_into(args: argparse.Namespace, config: Any, staging: Any) -> int:
    from ofmu_theory.runinfo import run_metadata
    from vision.bench import bench_split, load_bench_data, run_method
    from vision.evaluate import evaluate
    from vision.storage import save_safetensors_model
    from vision.train import load_or_train

    data, _ = load_bench_data(config)
    split = bench_split(data, config, config.modes[0])
    progress = not args.quiet
    original = load_or_train(data, split.train, config=config.train, seed=config.seed, name="Original",
                             cache=config.cache, progress=progress)
    retrain = load_or_train(data, split.retain, config=config.train, seed=config.seed, name="Retrain",
                            cache=config.cache, progress=progress)
    reference = evaluate(retrain.model, data, split, wall_s=retrain.wall_s)
    kept: list[Any] = []
    row = run_method(args.method, original, data, split, config=config, reference=reference,
                     retrain_s=retrain.wall_s, progress=progress, keep=kept)
    m = row.metrics or {}
    print(f"{row.method} ({split.mode}): {row.status}" + (f" — {row.message}" if row.message else ""))
    for key, label in (("ua", "UA"), ("ra", "RA"), ("ta", "TA"), ("mia_efficacy", "MIA-Efficacy")):
        value = m.get(key)
        print(f"  {label:13s} {'' if value is None else f'{value:7.2f}'}   (Retrain {getattr(reference, key):7.2f})")
    if row.avg_gap is not None:
        print(f"  Avg. Gap      {row.avg_gap:7.2f}")
    if row.wall_s is not None:
        print(f"  time          {row.wall_s:7.1f} s = {row.time_ratio:.3f} × Retrain ({retrain.wall_s:.1f} s)")
    if staging is not None:  # the layout of `ofmu llm unlearn --out`: model/ and result.json
        if kept and row.status == "OK":
            (staging / "model").mkdir()
            save_safetensors_model(staging / "model" / "model.safetensors", kept[0])
        write_json(staging / "result.json", {
            "method": row.method, "config": row.config, "status": row.status, "message": row.message,
            "nit": row.nit, "wall_s": row.wall_s, "metrics": row.metrics, "avg_gap": row.avg_gap,
            "retrain": reference.to_dict(), "row": row.to_dict(),
            "metadata": run_metadata(seed=config.seed, config=config.to_dict())})
    return 0 if row.status == "OK" else 1


def _bench(args: argparse.Namespace) -> int:
    from pathlib import Path

    from ofmu_theory.io import output_dir
    from vision.bench import run_bench
    from vision.report import markdown, write_report

    extra: dict[str, Any] = {}
    if args.methods:
        extra["methods"] = tuple(m.strip() for m in args.methods.split(",") if m.strip())
    extra["overrides"] = parse_overrides(args.set, extra.get("methods"))
    if args.profile != "single":
        from vision.fairreport import run_from_args

        return run_from_args(args, _config(args, **extra))
    if args.jobs != 1:
        raise ValueError(f"--jobs applies to the protocol profiles only, not --profile single (got --jobs {args.jobs})")
    config = _config(args, **extra)
    _check_cache(config)
    with output_dir(args.out, overwrite=args.overwrite) as staging:  # claimed before any work
        result = run_bench(config, progress=not args.quiet)
        written = write_report(result, staging)
    paths = [Path(args.out) / Path(p).relative_to(staging) for p in written]
    print(markdown(result))
    print("wrote " + ", ".join(str(p) for p in paths))
    return 0


def _methods_help() -> str:
    from ofmu_theory.clihelp import choices
    from vision.methods import METHODS

    return choices("methods (--method / --methods)", METHODS)


def _method_options_help() -> str:
    import dataclasses
    import textwrap

    from vision.methods import METHODS

    lines = ["method options (--set KEY=VALUE for every method that has it, or METHOD.KEY=VALUE):"]
    for name in METHODS.names():
        own = {k: v for k, v in METHODS.get(name).options().items() if v is not dataclasses.MISSING}
        text = ", ".join(f"{k}={v}" for k, v in own.items()) or "(none)"
        lines += textwrap.wrap(f"{name}: {text}", width=110, initial_indent="  ", subsequent_indent="      ")
    return "\n".join(lines)


def _metrics_help() -> str:
    from ofmu_theory.clihelp import choices
    from vision.metrics import METRICS

    return choices("metrics", METRICS)


def _data_help() -> str:
    from ofmu_theory.clihelp import choices
    from vision.bench import DEFAULT_DATASET, DEFAULT_TRAIN
    from vision.data import DATASETS
    from vision.models import MODELS

    return "\n\n".join((choices("datasets (--dataset)", DATASETS, default=DEFAULT_DATASET),
                         choices("models (--model)", MODELS, default=DEFAULT_TRAIN.model)))


def _profiles_help() -> str:
    from ofmu_theory.clihelp import table
    from vision.fairbench import PROFILES

    rows = [(name, f"the fair protocol on random forgetting: pass budgets {', '.join(f'{b:g}x' for b in p.budgets)}, "
                   f"{p.n_configs} configurations tuned per method, seeds {', '.join(map(str, p.seeds))}"
             + (" (test-sized)" if name == "smoke" else "")) for name, p in PROFILES.items()]
    rows.append(("single", "one run per method with its defaults, both modes: no tuning, one seed"))
    return table("profiles (--profile)", rows, default="quick")


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``vision`` with ``prepare``, ``unlearn`` and ``bench`` to ``subparsers`` (``ofmu_cli.main``)."""
    from ofmu_theory.clihelp import epilog
    from vision.methods import METHODS

    vision = subparsers.add_parser(
        "vision", help="vision unlearning bench (SalUn protocol)",
        description="Unlearning of image classifiers under the SalUn protocol: the Original model is trained on D, "
                    "Retrain on D_r only (the reference); each method starts from the Original and is scored by "
                    "UA, RA, TA, MIA-Efficacy and their gap to Retrain. 'ofmu vision COMMAND --help' lists the "
                    "options, methods and defaults (docs/vision.md).")
    sub = vision.add_subparsers(dest="vision_command", required=True)
    p = sub.add_parser("prepare", help="train or load from the cache the Original and Retrain models",
                       description="Train (or find in the model cache) the Original and Retrain models of every "
                                   "forgetting mode and print their metrics.", epilog=epilog(_data_help))
    _common(p)
    p.set_defaults(func=_prepare)
    p = sub.add_parser("unlearn", help="run one method and compare it to Retrain",
                       description="Run one method from the Original model, evaluate it and compare it to Retrain; "
                                   "with --out, write the folder: model/ (safetensors) and result.json (config, "
                                   "metrics, Retrain's metrics, run metadata).",
                       epilog=epilog(_methods_help, _method_options_help, _metrics_help, _data_help))
    p.add_argument("--method", required=True, choices=METHODS.names(), help="unlearning method (listed below)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="method option, e.g. rho=2 or ofmu.rho=2 (repeatable; listed below)")
    p.add_argument("--out", default=None, help="also write the output folder here (written atomically)")
    p.add_argument("--overwrite", action="store_true", help="replace a finished --out folder")
    _common(p, single_mode=True)
    p.set_defaults(func=_unlearn)
    p = sub.add_parser("bench", help="Retrain and every method, random and class forgetting; writes md/json/png",
                       description="Compare the methods: the fair protocol (equal pass budgets, the same "
                                   "configuration search for every method, seeds, a verdict) or --profile single.",
                       epilog=epilog(_profiles_help, _methods_help, _method_options_help, _metrics_help, _data_help))
    p.add_argument("--out", default=DEFAULT_OUT, help=f"output folder (default {DEFAULT_OUT})")
    p.add_argument("--overwrite", action="store_true", help="replace a finished --out folder")
    p.add_argument("--methods", default=None, help="comma-separated methods (listed below; default: all)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="--profile single: method option, key=value (every method that has it) or method.key=value")
    p.add_argument("--profile", default="quick", choices=["quick", "full", "smoke", "single"],
                   help="the comparison (listed below)")
    p.add_argument("--jobs", type=int, default=1,
                   help="protocol: worker processes for the runs (default 1; the metrics are the same for any value, "
                        "the wall times include the workers' contention)")
    _common(p)
    p.set_defaults(func=_bench)


def build_parser() -> argparse.ArgumentParser:
    """A stand-alone ``vision`` parser (the same sub-commands as ``ofmu vision``)."""
    parser = argparse.ArgumentParser(prog="ofmu")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    register(parser.add_subparsers(dest="command", required=True))
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``python -m vision.cli vision ...`` (errors print as ``ofmu: error: ...``, exit 2)."""
    from ofmu_theory.command import run_command

    return run_command(build_parser(), argv)

if __name__ == "__main__":
    sys.exit(main())

