"""``ofmu llm``: prepare | check-data | unlearn | eval | bench | wmdp-bench (user-facing text: :data:`DESCRIPTION`).

``register(subparsers)`` adds the ``llm`` command to the ``ofmu`` parser (ofmu_cli/main.py); the shared
options live in :mod:`llm.cli_options`. Every sub-command takes the same *prepare options*, which identify one
cached prepared entry; ``unlearn``, ``eval`` and ``bench`` build it first when it is missing.
``--shard fsdp`` (under torchrun) also shards the model itself over the ranks (FSDP2, :mod:`llm.sharding`).

Under torchrun (``WORLD_SIZE > 1``) ``unlearn`` builds a missing prepared entry one rank at a time (a file
lock), then joins the process group from the environment (nccl on CUDA, gloo on CPU); every rank trains
on its own shard of each batch, and only rank 0 writes files and prints. ``bench`` runs in one process.

Every command claims its ``--out`` before any work (writable, one run at a time, a finished one replaced
only with ``--overwrite``) and writes it whole at the end or not at all (:func:`ofmu_theory.io.output_dir`).
Exit statuses: README.md.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
from pathlib import Path
from typing import Any

from llm.cli_options import (
    add_prepare_options,
    add_run_options,
    data_help,
    lora_options,
    method_options_help,
    methods_help,
    metrics_help,
    models_help,
    parse_sets,
    prepare_config,
    prepared_entry,
    profiles_help,
    run_settings,
)
from ofmu_theory.clihelp import epilog, verbatim
from ofmu_theory.io import hold_lock, output_dir

logger = logging.getLogger("llm.cli")
HF_BARS_ENV = "HF_HUB_DISABLE_PROGRESS_BARS"


def method_sets(items: list[str], methods: tuple[str, ...]) -> dict[str, dict[str, Any]]:
    """``--set key=value`` (every method of the run that has the option) or ``method.key=value``."""
    from llm.methods import METHODS  # noqa: PLC0415
    from ofmu_theory.settings import per_method  # noqa: PLC0415

    def fields(name: str) -> set[str]:
        return set(METHODS.get(name).options())

    return per_method(parse_sets(items), methods, fields=fields)


# --- commands ---------------------------------------------------------------------------------------


def _quiet_hub(command: Any) -> Any:
    """Run ``command(args)`` with the transformers progress bars (e.g. "Loading weights") off under --quiet,
    restored afterwards; the environment variable that huggingface_hub reads at import turns them off in the
    bench's worker processes too."""
    import functools  # noqa: PLC0415

    @functools.wraps(command)
    def run(args: argparse.Namespace) -> int:
        if not getattr(args, "quiet", False):
            return command(args)
        from transformers.utils import logging as hf_logging  # noqa: PLC0415

        was = hf_logging.is_progress_bar_enabled()
        env_before = os.environ.get(HF_BARS_ENV)
        hf_logging.disable_progress_bar()
        os.environ[HF_BARS_ENV] = "1"
        try:
            return command(args)
        finally:
            if was:
                hf_logging.enable_progress_bar()
            if env_before is None:
                os.environ.pop(HF_BARS_ENV, None)
            else:
                os.environ[HF_BARS_ENV] = env_before

    return run


def _cmd_prepare(args: argparse.Namespace) -> int:
    prepared = prepared_entry(args)
    print(f"prepared entry: {prepared.folder}")
    return 0


def _env_main_rank() -> bool:
    """Rank 0 (or a single process), read from torchrun's environment before the process group exists."""
    return os.environ.get("RANK", "0").strip() in ("", "0")


def _cmd_unlearn(args: argparse.Namespace) -> int:
    from llm import distributed  # noqa: PLC0415
    from llm.checkpoint import has_checkpoint  # noqa: PLC0415
    from llm.methods import METHODS  # noqa: PLC0415
    from llm.prompts import PROMPTS  # noqa: PLC0415
    from llm.runtime import resolve_device  # noqa: PLC0415
    from llm.unlearn import save_unlearned, unlearn  # noqa: PLC0415

    # bad input fails before any work: the method and its --set values, --resume without a checkpoint
    preset = args.preset or ("embedded" if args.model == "embedded" else "openunlearning")
    method = METHODS.get(args.method).preset(preset, **method_sets(args.set, (args.method,)).get(args.method, {}))
    if args.shard is not None:
        from llm.sharding import check_sharding  # noqa: PLC0415

        check_sharding(args.shard, lora=args.lora, double_backward=method.needs_double_backward(),
                       reason=method.double_backward_reason(), need_group=False)
    out = Path(args.out)
    checkpoint_dir = Path(args.checkpoint_dir) if args.checkpoint_dir else out.with_name(out.name + ".checkpoint")
    if args.resume and not has_checkpoint(checkpoint_dir):
        raise ValueError(f"--resume: no checkpoint in {str(checkpoint_dir)!r} (latest.json missing); run without "
                         "--resume to start from step 0")
    with contextlib.ExitStack() as claim:
        # rank 0 claims --out before any work: writable, one run at a time, a finished one not replaced
        staging = (claim.enter_context(output_dir(out, overwrite=args.overwrite)) if _env_main_rank() else None)
        if args.checkpoint_dir and _env_main_rank():  # a shared --checkpoint-dir is one run's at a time too
            claim.enter_context(hold_lock(checkpoint_dir, what="--checkpoint-dir"))
        prepared = prepared_entry(args)
        settings = run_settings(args, prepared)
        info = distributed.init_from_env(resolve_device(settings.device), always=settings.shard is not None)
        main_rank = distributed.is_main()
        if not main_rank:  # one voice: the other ranks log warnings only and show no progress bars
            logging.getLogger().setLevel(logging.WARNING)
        try:
            model, tokenizer = prepared.load_model("target")
            forget, retain = prepared.forget_retain()
            done = unlearn(method, model=model, tokenizer=tokenizer, template=PROMPTS.get(prepared.template),
                           forget_items=forget, retain_items=retain, settings=settings,
                           checkpoint_dir=checkpoint_dir, resume=args.resume, progress=not args.quiet and main_rank)
            if done.diverged:
                logger.error("%s DIVERGED after %d steps (%s); nothing was written to %s", args.method,
                             done.result.nit, done.result.message, out)
                if main_rank:
                    print(f"DIVERGED: {done.result.message}; nothing written to {out}")
                return 1
            if main_rank:
                save_unlearned(done, staging, tokenizer=tokenizer, metadata={"prepared": str(prepared.folder),
                                                                             "process": info.to_dict()})
            distributed.barrier()  # every rank returns after rank 0 wrote the output (renamed into place below)
        finally:
            distributed.shutdown(info)
        if not main_rank:
            return 0
        if args.eval:
            from llm.lora import merged  # noqa: PLC0415
            from llm.prepare import evaluate_model  # noqa: PLC0415

            result = evaluate_model(prepared, merged(done.model), tokenizer, staging / "eval",
                                    show_progress=not args.quiet)
    print(f"{args.method}: {done.status} after {done.result.nit} steps in {done.wall_s:.1f} s -> {out}"
          + (f" ({info.world_size} ranks, {info.backend}, effective batch {done.effective_batch_size})"
             if info.world_size > 1 else ""))
    if args.eval:
        _print_summary(result.summary)
    if args.checkpoint_every and not args.keep_checkpoint and checkpoint_dir.exists():
        import shutil  # noqa: PLC0415

        shutil.rmtree(checkpoint_dir, ignore_errors=True)
    return 0


def _print_summary(summary: Any) -> None:
    for key in ("forget_quality", "model_utility", "forget_truth_ratio", "privleak"):
        if key in summary:
            print(f"  {key} = " + ("null (no retain log)" if summary[key] is None else f"{summary[key]:.4g}"))


def _cmd_eval(args: argparse.Namespace) -> int:
    from llm.models import load_pretrained  # noqa: PLC0415
    from llm.models.hub import check_finite  # noqa: PLC0415
    from llm.prepare import evaluate_model  # noqa: PLC0415

    if not Path(args.model_dir).is_dir():
        raise FileNotFoundError(f"--model-dir {args.model_dir!r} is not a folder (expected a saved model folder, "
                                "e.g. <unlearn --out>/model)")
    out = Path(args.out) if args.out else Path(args.model_dir).with_name("eval")
    with output_dir(out, overwrite=args.overwrite) as staging:  # claimed before any work; whole or nothing
        prepared = prepared_entry(args)
        model, tokenizer = load_pretrained(args.model_dir, dtype=args.dtype, local_files_only=True,
                                           trust_remote_code=args.trust_remote_code, pad_token=args.pad_token)
        check_finite(model, str(args.model_dir))
        result = evaluate_model(prepared, model, tokenizer, staging, show_progress=not args.quiet)
    print(f"wrote {out}/TOFU_EVAL.json, TOFU_SUMMARY.json, TOFU_RUN.json")
    _print_summary(result.summary)
    return 0


def _cmd_bench(args: argparse.Namespace) -> int:
    from llm.bench import BenchConfig, markdown_table, run_bench  # noqa: PLC0415
    from llm.methods import bench_order  # noqa: PLC0415
    from llm.distributed import env_world_size  # noqa: PLC0415

    if env_world_size() > 1:
        raise ValueError("bench runs every method in one process; use 'ofmu llm unlearn' under torchrun")
    if args.profile != "single":
        from llm.fairreport import run_from_args  # noqa: PLC0415

        return run_from_args(args, prepare_config(args), run_settings)
    if args.jobs != 1:
        raise ValueError(f"--jobs applies to the protocol profiles only, not --profile single (got --jobs {args.jobs})")

    methods = tuple(m.strip() for m in args.methods.split(",")) if args.methods else bench_order()
    from llm.methods import METHODS  # noqa: PLC0415

    overrides = method_sets(args.set, methods)
    for name, values in overrides.items():  # names and values are checked before any work
        METHODS.get(name).from_dict(values)
    config = BenchConfig(methods=methods, epochs=5.0 if args.epochs is None else args.epochs,
                         batch_size=8 if args.batch_size is None else args.batch_size,
                         retain_batch_size=32 if args.retain_batch_size is None else args.retain_batch_size,
                         preset=args.preset,
                         overrides=overrides, lora=lora_options(args), max_retain_nll=args.max_retain_nll,
                         seed=args.seed, device=args.device, bf16=args.bf16,
                         gradient_checkpointing=args.gradient_checkpointing,
                         attn_implementation=args.attn_implementation)
    import time  # noqa: PLC0415

    with output_dir(args.out, overwrite=args.overwrite) as staging:  # claimed before any work; whole or nothing
        start = time.perf_counter()
        prepared = prepared_entry(args)
        prepare_s = time.perf_counter() - start
        report = run_bench(prepared, config, staging, progress=not args.quiet, save_models=args.save_models,
                           prepare_s=prepare_s)
    print(markdown_table(report["rows"]))
    print(f"wrote {args.out}/bench.md, bench.json, fq_vs_mu.png (prepare {prepare_s:.1f} s, "
          f"bench {report['wall_s']:.1f} s)")
    return 0


def _cmd_check_data(args: argparse.Namespace) -> int:
    from llm.data.check import check_data  # noqa: PLC0415

    if args.data in ("generated", "hub"):
        raise ValueError("--data: check-data checks your own data, a TOFU JSON file or a folder of split files")
    config = prepare_config(args)  # the split names exactly as prepare will read them
    findings, notices = check_data(args.data, forget=config.forget_split, retain=config.retain_split,
                                   holdout=config.holdout_split, question_key=args.question_key)
    for notice in notices:
        print(f"notice: {notice}")
    for finding in findings:
        print(finding)
    errors = sum(f.level == "error" for f in findings)
    print(f"{args.data}: {errors} error(s), {len(findings) - errors} warning(s)")
    return 2 if errors else 0


DESCRIPTION = """\
Unlearning of causal language models on TOFU-format question-answer data.

  prepare     build the data, the target model (fine-tuned on forget + retain) and the retain model
              (retain only), cached by their options; the other commands build it when missing
  check-data  check your own TOFU-format data (schema, degenerate cases) before any training
  unlearn     run one method from the target model; --out gets model/ (safetensors) and result.json
  eval        TOFU metrics of a saved model against the prepared entry's retain model
  bench       every method under the same compute budget: tables, plots and a verdict
  wmdp-bench  WMDP-style unlearning (multiple-choice accuracy on a forget domain) under the same protocol

Examples:
  ofmu llm prepare
  ofmu llm check-data --data my_tofu.json --forget-split forget --retain-split retain --holdout-split holdout
  ofmu llm unlearn --method ofmu --out runs/ofmu --set beta=0.2 --seed 1 --eval
  ofmu llm eval --model-dir runs/ofmu/model --out runs/ofmu/eval
  ofmu llm bench --out runs/bench --profile quick
'ofmu llm COMMAND --help' lists each command's options, methods, metrics and defaults (docs/llm.md)."""


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``llm`` with its sub-commands to the ``ofmu`` parser."""
    llm = subparsers.add_parser("llm", help="LLM unlearning (TOFU, WMDP-style): prepare | check-data | unlearn | eval | bench | wmdp-bench",
                                description=verbatim(DESCRIPTION))
    sub = llm.add_subparsers(dest="llm_command", required=True)
    entry_help = (data_help, models_help)

    p = sub.add_parser("prepare", help="build the corpus and the target / retain models (cached)",
                       description="Build (or find in the cache) the prepared entry: the data, the target model "
                                   "fine-tuned on forget + retain, the retain model, and both models' evaluation.",
                       epilog=epilog(*entry_help))
    add_prepare_options(p)
    p.set_defaults(func=_quiet_hub(_cmd_prepare))

    p = sub.add_parser("check-data", help="check a TOFU-format dataset before any training",
                       description="Check your own TOFU-format data as prepare will read it: each split's schema, "
                                   "the splits derived from others, and the degenerate cases that make the metrics "
                                   "meaningless (perturbed answers in the answer's wording: truth ratio ~0 and "
                                   "model utility 0 for every model). Exit status 2 when an error is found.",
                       epilog=epilog(data_help))
    add_prepare_options(p)
    p.set_defaults(func=_cmd_check_data)

    p = sub.add_parser("unlearn", help="run one method on the target model; save the model and its trace",
                       description="Run one unlearning method from the prepared target model and write --out: "
                                   "model/ (safetensors), result.json (config, trace summary, run metadata) and, "
                                   "with --eval, eval/ (TOFU metrics).",
                       epilog=epilog(methods_help, method_options_help, *entry_help))
    p.add_argument("--method", required=True, help="unlearning method (listed below)")
    p.add_argument("--out", required=True, help="output folder (written atomically)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="method option, e.g. beta=0.2 or ofmu.beta=0.2 (repeatable; listed below)")
    p.add_argument("--checkpoint-every", type=int, default=None, help="save a resumable checkpoint every N steps")
    p.add_argument("--checkpoint-dir", default=None, help="checkpoint folder (default <out>.checkpoint)")
    p.add_argument("--resume", action="store_true", help="continue from the checkpoint when there is one")
    p.add_argument("--keep-checkpoint", action="store_true", help="keep the checkpoint folder after success")
    p.add_argument("--overwrite", action="store_true", help="replace a finished --out folder")
    p.add_argument("--eval", action="store_true", help="also evaluate the unlearned model into <out>/eval")
    p.add_argument("--shard", default=None, choices=["fsdp"],
                   help="under torchrun: shard the model over the ranks with FSDP2 (first-order methods, OFMU "
                        "with hvp=fd; no LoRA); checkpoints use torch.distributed.checkpoint")
    add_run_options(p)
    add_prepare_options(p)
    p.set_defaults(func=_quiet_hub(_cmd_unlearn))

    p = sub.add_parser("eval", help="TOFU metrics of a model folder against the prepared entry",
                       description="Evaluate a saved model (e.g. <unlearn --out>/model) with the prepared entry's "
                                   "data and settings; forget quality and privleak against its retain model. "
                                   "Writes TOFU_EVAL.json (OpenUnlearning's layout), TOFU_SUMMARY.json, TOFU_RUN.json.",
                       epilog=epilog(metrics_help, *entry_help))
    p.add_argument("--model-dir", required=True, help="a model folder (safetensors)")
    p.add_argument("--out", default=None, help="output folder (default: <model-dir>/../eval)")
    p.add_argument("--overwrite", action="store_true", help="replace a finished --out folder")
    add_prepare_options(p)
    p.set_defaults(func=_quiet_hub(_cmd_eval))

    p = sub.add_parser("bench", help="every method under the same budget: table (Markdown + JSON) and plot",
                       description="Compare the unlearning methods: the fair protocol (equal pass budgets, the same "
                                   "configuration search for every method, several seeds, a verdict) or --profile "
                                   "single (one run per method with its preset).",
                       epilog=epilog(profiles_help, methods_help, method_options_help, metrics_help, *entry_help))
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--methods", default=None, help="comma-separated method names (listed below; default: the profile's)")
    p.add_argument("--epochs", type=float, default=None, help="--profile single: epochs over D_f for every method (default 5)")
    p.add_argument("--batch-size", type=int, default=None, help="--profile single: forget rows per step (default 8)")
    p.add_argument("--retain-batch-size", type=int, default=None, help="--profile single: retain rows per step (default 32)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="--profile single: method option, key=value (every method that has it) or method.key=value")
    p.add_argument("--save-models", action="store_true", help="also save every unlearned model")
    p.add_argument("--overwrite", action="store_true", help="replace a finished --out folder")
    p.add_argument("--profile", default="quick", choices=["quick", "full", "lean", "smoke", "single"],
                   help="the comparison (listed below)")
    p.add_argument("--no-hvp-check", dest="hvp_check", action="store_false",
                   help="protocol: skip the check of OFMU's estimator paths (exact, fd, lagged, random+frozen) on its chosen configuration")
    p.add_argument("--jobs", type=int, default=1,
                   help="protocol: worker processes for the runs (default 1; the record is the same for any value)")
    p.add_argument("--tune-data", default=None,
                   help="protocol: TOFU-format data to tune on, a file or folder with the same split names (default: "
                        "a generated corpus with --data-seed + 1 and other question templates)")
    add_run_options(p)
    add_prepare_options(p)
    p.set_defaults(func=_quiet_hub(_cmd_bench))

    from llm.wmdp.cli import add_wmdp_parser  # noqa: PLC0415

    add_wmdp_parser(sub, wrap=_quiet_hub)


def main(argv: list[str] | None = None) -> int:
    """``python -m llm.cli ...`` (the same as ``ofmu llm ...``)."""
    from ofmu_theory.command import run_command  # noqa: PLC0415

    parser = argparse.ArgumentParser(prog="ofmu")
    parser.add_argument("-v", "--verbose", action="store_true")
    register(parser.add_subparsers(dest="command", required=True))
    return run_command(parser, argv)

if __name__ == "__main__":
    raise SystemExit(main())
