"""``ofmu llm wmdp-bench``: the WMDP-style bench's command (docs/wmdp.md), registered by :mod:`llm.cli`."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any


def cmd_wmdp_bench(args: argparse.Namespace) -> int:
    """``ofmu llm wmdp-bench``: prepare the WMDP entry, run the protocol, print the verdicts."""
    from llm.bench import set_threads  # noqa: PLC0415
    from llm.unlearn import RunSettings  # noqa: PLC0415
    from llm.wmdp.bench import METHODS_WMDP  # noqa: PLC0415
    from llm.wmdp.prepare import WmdpConfig  # noqa: PLC0415
    from llm.wmdp.report import prepare_entry, run_wmdp_bench  # noqa: PLC0415
    from ofmu_theory.io import work_dir  # noqa: PLC0415

    config = WmdpConfig(forget_corpus=args.forget_corpus, retain_corpus=args.retain_corpus,
                        forget_mc=tuple(args.forget_mc), utility_mc=tuple(args.utility_mc), model=args.model,
                        size=args.size, n_forget=args.n_forget, n_retain=args.n_retain, seed=args.seed,
                        train_epochs=args.train_epochs, train_lr=args.train_lr, train_batch_size=args.train_batch_size,
                        max_length=args.max_length, truncate=args.truncate, mc_format=args.mc_format,
                        tune_share=args.tune_share, pad_token=args.pad_token, paraphrase=args.paraphrase)
    settings = RunSettings(max_length=args.max_length, overflow="truncate" if args.truncate else "error",
                           device=args.device)
    methods = tuple(m.strip() for m in args.methods.split(",")) if args.methods else METHODS_WMDP
    threads = args.threads if args.threads is not None else (1 if args.model == "embedded" else None)
    set_threads(threads)
    with work_dir(args.out, finished="bench.json", overwrite=args.overwrite):  # claimed before any work
        entry, prepare_s = prepare_entry(config, cache_dir=args.cache_dir)
        report = run_wmdp_bench(entry, profile=args.profile, methods=methods, settings=settings, out=args.out,
                                prepare_s=prepare_s, log=None if args.quiet else print, jobs=args.jobs,
                                threads=threads)
    for tag, v in report["verdict"].items():
        rmu = report["versus_rmu"][tag]
        print(f"{tag}: OFMU vs {v.get('best_baseline')}: {v['result']}; OFMU vs RMU: "
              f"{'not run' if rmu is None else rmu['result']}")
    print(f"wrote {args.out}/bench.json, README.md and the plots (prepare {prepare_s:.1f} s, "
          f"bench {report['wall_s']:.1f} s)")
    return 0


def add_wmdp_options(p: argparse.ArgumentParser) -> None:
    """The WMDP bench's data, model and run options (docs/wmdp.md)."""
    p.add_argument("--out", required=True, help="output folder (its runs/ cache makes a rerun resume)")
    p.add_argument("--profile", default="quick", choices=["quick", "full", "smoke"],
                   help="quick (default) | full | smoke (test-sized): budgets, configurations, seeds")
    p.add_argument("--methods", default=None, help="comma-separated (default grad_diff,npo,simnpo,rmu,ofmu)")
    p.add_argument("--jobs", type=int, default=1, help="worker processes for the runs (default 1)")
    p.add_argument("--overwrite", action="store_true", help="replace a finished --out folder (its run cache is reused)")
    p.add_argument("--quiet", action="store_true", help="no per-run log lines")
    g = p.add_argument_group("data (default: the generated fictional corpus; else all four, local files)")
    g.add_argument("--forget-corpus", default=None, help='forget corpus, {"text": ...} records (JSON / JSON lines)')
    g.add_argument("--retain-corpus", default=None, help='retain corpus, {"text": ...} records')
    g.add_argument("--forget-mc", action="append", default=[], metavar="FILE",
                   help="WMDP-layout questions (repeat per domain; the file name is the domain)")
    g.add_argument("--utility-mc", action="append", default=[], metavar="FILE", help="MMLU-layout questions (repeatable)")
    g.add_argument("--n-forget", type=int, default=40, help="generated corpus: substances (default 40)")
    g.add_argument("--n-retain", type=int, default=40, help="generated corpus: plants (default 40)")
    g.add_argument("--mc-format", default="cloze", choices=["cloze", "mmlu"],
                   help="cloze (default: choice text continuations) | mmlu (lm-eval's wmdp/mmlu prompt, letters)")
    g.add_argument("--tune-share", type=float, default=1 / 3, help="share of each subject's questions that tune")
    g.add_argument("--paraphrase", action="store_true",
                   help="generated corpus: questions worded unlike the corpus's review lines (docs/wmdp.md)")
    m = p.add_argument_group("model")
    m.add_argument("--model", default="embedded", help="'embedded' (trained on the corpora) or a model folder / hub id")
    m.add_argument("--size", default="tiny", help="embedded model size (default tiny)")
    m.add_argument("--train-epochs", type=float, default=None, help="embedded model: training epochs")
    m.add_argument("--train-lr", type=float, default=None, help="embedded model: training peak lr")
    m.add_argument("--train-batch-size", type=int, default=None, help="embedded model: training batch")
    m.add_argument("--max-length", type=int, default=256, help="longest tokenised record (default 256)")
    m.add_argument("--truncate", action="store_true", help="truncate longer corpus records (real corpora) instead of failing")
    m.add_argument("--pad-token", default=None, help="pad token for a tokenizer without one: eos | unk | TOKEN")
    m.add_argument("--data-seed", dest="seed", type=int, default=0,
                   help="corpus, model, training and split seed (the unlearning seeds are the profile's)")
    m.add_argument("--device", default=None, help="auto | cpu | cuda | cuda:N (default: where the model is)")
    m.add_argument("--cache-dir", default=None, help="the prepared entry's folder (default $OFMU_CACHE/llm/wmdp-<key>)")
    m.add_argument("--threads", type=int, default=None, help="torch CPU threads (default 1 for the embedded model)")


def add_wmdp_parser(sub: argparse._SubParsersAction, *, wrap: Callable[[Any], Any]) -> None:
    """Add ``wmdp-bench`` to ``ofmu llm``'s sub-commands (``wrap``: the llm commands' hub-quieting wrapper)."""
    p = sub.add_parser("wmdp-bench", help="WMDP-style unlearning (forget / utility multiple-choice accuracy) under "
                                          "the fair protocol: bench.json, README, plots",
                       description="WMDP-style unlearning: a forget corpus and its multiple-choice questions, a "
                                   "retain corpus and utility questions (generated fictional domains by default, or "
                                   "WMDP/MMLU-layout local files); every method under the fair protocol (docs/wmdp.md).")
    add_wmdp_options(p)
    p.set_defaults(func=wrap(cmd_wmdp_bench))
