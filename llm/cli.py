"""``ofmu llm``: prepare | unlearn | eval | bench | wmdp-bench.

``register(subparsers)`` adds the ``llm`` command to the ``ofmu`` parser (ofmu_cli/main.py). Every
sub-command takes the same *prepare options* (model, data, forget split, fine-tuning recipe, evaluation
settings), which identify one cached prepared entry; ``unlearn``, ``eval`` and ``bench`` build it first
when it is missing (a cache hit is instant)::

    ofmu llm prepare                                   # embedded GPT-2 on the generated corpus, forget10
    ofmu llm unlearn --method ofmu --out runs/ofmu --set beta=0.2 --checkpoint-every 10
    ofmu llm unlearn --method ofmu --out runs/ofmu --checkpoint-every 10 --resume   # after an interruption
    ofmu llm eval --model-dir runs/ofmu/model --out runs/ofmu/eval
    ofmu llm bench --out runs/bench                    # the fair protocol (quick profile): verdicts, plots
    ofmu llm bench --profile single --model smollm2 --lora --methods npo,ofmu --out runs/smol
    ofmu llm wmdp-bench --out runs/wmdp                # WMDP-style: generated fictional corpus (docs/wmdp.md)
    ofmu llm unlearn --method ofmu --out runs/ofmu --bf16 --gradient-checkpointing --set hvp=fd
    torchrun --nproc_per_node=4 -m llm.cli llm unlearn --method grad_diff --out runs/gd   # data parallel

Under torchrun (``WORLD_SIZE > 1``) ``unlearn`` builds a missing prepared entry one rank at a time (a file
lock), then joins the process group from the environment (nccl on CUDA, gloo on CPU); every rank trains
on its own shard of each batch, and only rank 0 writes files and prints. ``bench`` runs in one process.

Every command claims its ``--out`` before any work (writable, one run at a time, a finished one replaced
only with ``--overwrite``) and writes it whole at the end or not at all (:func:`ofmu_theory.io.output_dir`).

Exit status: 0 on success, 1 when the core reports a divergence (nothing is written), 2 on bad input,
3 on an environment or I/O failure, 130 / 143 when interrupted (see README.md).
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
from pathlib import Path
from typing import Any

from ofmu_theory.io import hold_lock, output_dir
from ofmu_theory.settings import parse_assignments

logger = logging.getLogger("llm.cli")


def parse_sets(items: list[str], *, what: str = "--set") -> dict[str, Any]:
    """["beta=0.2", "trainable_layers=1,2"] -> {"beta": 0.2, "trainable_layers": [1, 2]}."""
    return parse_assignments(items, what=what, lists=True)


# --- shared options --------------------------------------------------------------------------------


def add_prepare_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("prepared entry (model, data, recipe)")
    g.add_argument("--model", default="embedded", help="'embedded' (default), 'smollm2', or a hub id / local folder")
    g.add_argument("--size", default="tiny", help="embedded model size: micro | tiny | small | medium (default tiny)")
    g.add_argument("--data", default="generated", help="'generated' (default), 'hub', or a folder of TOFU JSON files")
    g.add_argument("--n-authors", type=int, default=40, help="generated corpus: authors (default 40)")
    g.add_argument("--questions-per-author", type=int, default=10, help="generated corpus: QA pairs per author")
    g.add_argument("--forget-split", default="forget10", help="forget01 | forget05 | forget10 (default forget10)")
    g.add_argument("--world-knowledge", action=argparse.BooleanOptionalAction, default=None,
                   help="add real_authors + world_facts to the training sets (default: embedded model only)")
    g.add_argument("--train-epochs", type=float, default=None, help="fine-tuning epochs (default: by model)")
    g.add_argument("--train-lr", type=float, default=None, help="fine-tuning peak lr (default: by model)")
    g.add_argument("--train-batch-size", type=int, default=None, help="fine-tuning batch (default 32)")
    g.add_argument("--template", default=None, help="prompt template name (default: by model)")
    g.add_argument("--max-length", type=int, default=256, help="longest tokenised sequence (default 256)")
    g.add_argument("--eval-batch-size", type=int, default=64)
    g.add_argument("--max-new-tokens", type=int, default=None,
                   help="ROUGE generation budget (default 64 for the embedded model, 200 otherwise)")
    g.add_argument("--eval-limit", type=int, default=None, help="evaluate only the first N items of each set")
    g.add_argument("--seed", type=int, default=0)
    g.add_argument("--dtype", default="float32", help="hub model weights dtype (default float32)")
    g.add_argument("--trust-remote-code", action="store_true", help="allow a hub repository's own model code")
    g.add_argument("--pad-token", default=None, help="pad token for a tokenizer without one: eos | unk | TOKEN")
    g.add_argument("--revision", default=None, help="pinned hub revision")
    g.add_argument("--cache-dir", default=None, help="the prepared entry's folder (default $OFMU_CACHE/llm/<key>)")
    g.add_argument("--threads", type=int, default=None,
                   help="torch CPU threads (default: 1 for the embedded model, torch's default otherwise)")
    g.add_argument("--quiet", action="store_true", help="no progress bars")


def prepare_config(args: argparse.Namespace) -> Any:
    from llm.prepare import EvalSettings, PrepareConfig  # noqa: PLC0415
    from llm.train import EMBEDDED_RECIPE, TOFU_RECIPE, TrainRecipe  # noqa: PLC0415

    embedded = args.model == "embedded"
    base = EMBEDDED_RECIPE if embedded else TOFU_RECIPE
    recipe = TrainRecipe(epochs=args.train_epochs or base.epochs, lr=args.train_lr or base.lr,
                         batch_size=args.train_batch_size or base.batch_size, warmup_epochs=base.warmup_epochs,
                         weight_decay=base.weight_decay)
    new_tokens = args.max_new_tokens or (64 if embedded else 200)
    return PrepareConfig(
        model=args.model, size=args.size, data=args.data, n_authors=args.n_authors,
        questions_per_author=args.questions_per_author, forget_split=args.forget_split,
        world_knowledge=args.world_knowledge, recipe=recipe, template=args.template, max_length=args.max_length,
        eval=EvalSettings(batch_size=args.eval_batch_size, max_new_tokens=new_tokens, limit=args.eval_limit),
        seed=args.seed, dtype=args.dtype, trust_remote_code=args.trust_remote_code, pad_token=args.pad_token,
        revision=args.revision,
    )


def _prepared(args: argparse.Namespace) -> Any:
    from llm.bench import set_threads  # noqa: PLC0415
    from llm.distributed import env_world_size, file_lock  # noqa: PLC0415
    from llm.prepare import cache_key, cache_root, prepare  # noqa: PLC0415

    # The embedded model's tensors are tiny: one intra-op thread is nearly as fast as two on an idle machine
    # and far faster on a busy one (spin-waiting threads; measured in docs/llm.md), so it is the default there.
    set_threads(args.threads if args.threads is not None else (1 if args.model == "embedded" else None))
    config = prepare_config(args)
    if env_world_size() == 1:  # one process builds an entry at a time; a second waits, then finds it complete
        folder = Path(args.cache_dir) if args.cache_dir else cache_root() / cache_key(config)
        with hold_lock(folder, what="the prepared entry", wait=True):
            return prepare(config, cache_dir=folder, progress=not args.quiet)
    # torchrun: before the process group exists, the ranks take turns — the first builds a missing entry
    # (fine-tuning in one process), the others then find it complete in the cache.
    folder = Path(args.cache_dir) if args.cache_dir else cache_root() / cache_key(config)
    with file_lock(folder.with_name(folder.name + ".lock")):
        return prepare(config, cache_dir=folder, progress=False)


def add_run_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("unlearning run")
    g.add_argument("--preset", default=None, choices=["openunlearning", "embedded"],
                   help="method defaults (default: embedded for the embedded model, else openunlearning)")
    g.add_argument("--lora", action="store_true", help="train LoRA adapters only (base weights never change)")
    g.add_argument("--lora-r", type=int, default=8)
    g.add_argument("--lora-alpha", type=float, default=16.0)
    g.add_argument("--lora-targets", default="all-linear", help="comma-separated module names, or all-linear")
    g.add_argument("--max-retain-nll", type=float, default=None,
                   help="utility floor: stop once the retain NLL on a probe exceeds this (default off)")
    g.add_argument("--device", default="auto",
                   help="auto (CUDA if available; cuda:$LOCAL_RANK under torchrun) | cpu | cuda | cuda:N")
    g.add_argument("--bf16", action="store_true",
                   help="forward passes under torch.autocast(bfloat16); θ stays float32 (master parameters)")
    g.add_argument("--gradient-checkpointing", action="store_true",
                   help="recompute each transformer layer's activations in the backward pass (less memory)")
    g.add_argument("--attn-implementation", default=None,
                   help="eager | sdpa | flash_attention_2 (default: the model's; exact HVPs switch to eager)")


def run_settings(args: argparse.Namespace, prepared: Any) -> Any:
    """The :class:`~llm.unlearn.RunSettings` of the run options."""
    from llm.unlearn import RunSettings  # noqa: PLC0415

    return RunSettings(seed=args.seed, lora=lora_options(args), max_length=prepared.config.max_length,
                       max_retain_nll=args.max_retain_nll, checkpoint_every=getattr(args, "checkpoint_every", None),
                       device=args.device, bf16=args.bf16, gradient_checkpointing=args.gradient_checkpointing,
                       attn_implementation=args.attn_implementation)


def lora_options(args: argparse.Namespace) -> Any:
    from llm.lora import LoraOptions  # noqa: PLC0415

    if not args.lora:
        return None
    targets = args.lora_targets if args.lora_targets == "all-linear" else tuple(args.lora_targets.split(","))
    return LoraOptions(r=args.lora_r, alpha=args.lora_alpha, target_modules=targets)


# --- commands ---------------------------------------------------------------------------------------


def _quiet_hub(command: Any) -> Any:
    """Run ``command(args)`` with the transformers progress bars (e.g. "Loading weights") off under --quiet,
    restored afterwards."""
    import functools  # noqa: PLC0415

    @functools.wraps(command)
    def run(args: argparse.Namespace) -> int:
        if not getattr(args, "quiet", False):
            return command(args)
        from transformers.utils import logging as hf_logging  # noqa: PLC0415

        was = hf_logging.is_progress_bar_enabled()
        hf_logging.disable_progress_bar()
        try:
            return command(args)
        finally:
            if was:
                hf_logging.enable_progress_bar()

    return run


def _cmd_prepare(args: argparse.Namespace) -> int:
    prepared = _prepared(args)
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
    method = METHODS.get(args.method).preset(preset, **parse_sets(args.set))
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
        prepared = _prepared(args)
        settings = run_settings(args, prepared)
        info = distributed.init_from_env(resolve_device(settings.device))
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
            print(f"  {key} = {summary[key]:.4g}")


def _cmd_eval(args: argparse.Namespace) -> int:
    from llm.models import load_pretrained  # noqa: PLC0415
    from llm.models.hub import check_finite  # noqa: PLC0415
    from llm.prepare import evaluate_model  # noqa: PLC0415

    if not Path(args.model_dir).is_dir():
        raise FileNotFoundError(f"--model-dir {args.model_dir!r} is not a folder (expected a saved model folder, "
                                "e.g. <unlearn --out>/model)")
    out = Path(args.out) if args.out else Path(args.model_dir).with_name("eval")
    with output_dir(out, overwrite=args.overwrite) as staging:  # claimed before any work; whole or nothing
        prepared = _prepared(args)
        model, tokenizer = load_pretrained(args.model_dir, dtype=args.dtype, local_files_only=True,
                                           trust_remote_code=args.trust_remote_code, pad_token=args.pad_token)
        check_finite(model, str(args.model_dir))
        result = evaluate_model(prepared, model, tokenizer, staging, show_progress=not args.quiet)
    print(f"wrote {out}/TOFU_EVAL.json, TOFU_SUMMARY.json, TOFU_RUN.json")
    _print_summary(result.summary)
    return 0


def _cmd_bench(args: argparse.Namespace) -> int:
    from llm.bench import DEFAULT_METHODS, BenchConfig, markdown_table, run_bench  # noqa: PLC0415
    from llm.distributed import env_world_size  # noqa: PLC0415

    if env_world_size() > 1:
        raise ValueError("bench runs every method in one process; use 'ofmu llm unlearn' under torchrun")
    if args.profile != "single":
        from llm.fairreport import run_from_args  # noqa: PLC0415

        return run_from_args(args, prepare_config(args), run_settings)
    if args.jobs != 1:
        raise ValueError(f"--jobs applies to the protocol profiles only, not --profile single (got --jobs {args.jobs})")

    methods = tuple(m.strip() for m in args.methods.split(",")) if args.methods else DEFAULT_METHODS
    overrides: dict[str, dict[str, Any]] = {}
    for key, value in parse_sets(args.set).items():
        name, dot, field_name = key.partition(".")
        if not dot:
            raise ValueError(f"bench --set needs method.key=value, got {key!r}")
        overrides.setdefault(name, {})[field_name] = value
    from llm.methods import METHODS  # noqa: PLC0415

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
        prepared = _prepared(args)
        prepare_s = time.perf_counter() - start
        report = run_bench(prepared, config, staging, progress=not args.quiet, save_models=args.save_models,
                           prepare_s=prepare_s)
    print(markdown_table(report["rows"]))
    print(f"wrote {args.out}/bench.md, bench.json, fq_vs_mu.png (prepare {prepare_s:.1f} s, "
          f"bench {report['wall_s']:.1f} s)")
    return 0


def _cmd_wmdp_bench(args: argparse.Namespace) -> int:
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
    m.add_argument("--seed", type=int, default=0, help="corpus, model, training and split seed")
    m.add_argument("--device", default=None, help="auto | cpu | cuda | cuda:N (default: where the model is)")
    m.add_argument("--cache-dir", default=None, help="the prepared entry's folder (default $OFMU_CACHE/llm/wmdp-<key>)")
    m.add_argument("--threads", type=int, default=None, help="torch CPU threads (default 1 for the embedded model)")


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``llm`` with its sub-commands to the ``ofmu`` parser."""
    llm = subparsers.add_parser("llm", help="LLM unlearning (TOFU, WMDP-style): prepare | unlearn | eval | bench | wmdp-bench",
                                description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = llm.add_subparsers(dest="llm_command", required=True)

    p = sub.add_parser("prepare", help="build the corpus and the target / retain models (cached)")
    add_prepare_options(p)
    p.set_defaults(func=_quiet_hub(_cmd_prepare))

    p = sub.add_parser("unlearn", help="run one method on the target model; save the model and its trace")
    p.add_argument("--method", required=True, help="method name (see docs/llm.md)")
    p.add_argument("--out", required=True, help="output folder (written atomically)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="method option, e.g. beta=0.2")
    p.add_argument("--checkpoint-every", type=int, default=None, help="save a resumable checkpoint every N steps")
    p.add_argument("--checkpoint-dir", default=None, help="checkpoint folder (default <out>.checkpoint)")
    p.add_argument("--resume", action="store_true", help="continue from the checkpoint when there is one")
    p.add_argument("--keep-checkpoint", action="store_true", help="keep the checkpoint folder after success")
    p.add_argument("--overwrite", action="store_true", help="replace a finished --out folder")
    p.add_argument("--eval", action="store_true", help="also evaluate the unlearned model into <out>/eval")
    add_run_options(p)
    add_prepare_options(p)
    p.set_defaults(func=_quiet_hub(_cmd_unlearn))

    p = sub.add_parser("eval", help="TOFU metrics of a model folder against the prepared entry")
    p.add_argument("--model-dir", required=True, help="a model folder (safetensors)")
    p.add_argument("--out", default=None, help="output folder (default: <model-dir>/../eval)")
    p.add_argument("--overwrite", action="store_true", help="replace a finished --out folder")
    add_prepare_options(p)
    p.set_defaults(func=_quiet_hub(_cmd_eval))

    p = sub.add_parser("bench", help="every method under the same budget: table (Markdown + JSON) and plot")
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--methods", default=None, help="comma-separated method names (default: all)")
    p.add_argument("--epochs", type=float, default=None, help="--profile single: epochs over D_f for every method (default 5)")
    p.add_argument("--batch-size", type=int, default=None, help="--profile single: forget rows per step (default 8)")
    p.add_argument("--retain-batch-size", type=int, default=None, help="--profile single: retain rows per step (default 32)")
    p.add_argument("--set", action="append", default=[], metavar="METHOD.KEY=VALUE", help="per-method option")
    p.add_argument("--save-models", action="store_true", help="also save every unlearned model")
    p.add_argument("--overwrite", action="store_true", help="replace a finished --out folder")
    p.add_argument("--profile", default="quick", choices=["quick", "full", "smoke", "single"],
                   help="quick (default) | full: the fair-comparison protocol (budgets, equal tuning, seeds, "
                        "verdict; docs/llm.md); smoke: the protocol at test size; single: one run per method "
                        "with its preset (no tuning, one seed)")
    p.add_argument("--no-hvp-check", dest="hvp_check", action="store_false",
                   help="protocol: skip the check of OFMU's estimator paths (exact, fd, lagged, random+frozen) on its chosen configuration")
    p.add_argument("--jobs", type=int, default=1,
                   help="protocol: worker processes for the runs (default 1; the record is the same for any value)")
    p.add_argument("--tune-data", default=None,
                   help="protocol: a TOFU-format folder to tune on (default: a generated corpus with seed+1 "
                        "and other question templates)")
    add_run_options(p)
    add_prepare_options(p)
    p.set_defaults(func=_quiet_hub(_cmd_bench))

    p = sub.add_parser("wmdp-bench", help="WMDP-style unlearning (forget / utility multiple-choice accuracy) under "
                                          "the fair protocol: bench.json, README, plots")
    add_wmdp_options(p)
    p.set_defaults(func=_quiet_hub(_cmd_wmdp_bench))


def main(argv: list[str] | None = None) -> int:
    """``python -m llm.cli ...`` (the same as ``ofmu llm ...``)."""
    from ofmu_theory.command import run_command  # noqa: PLC0415

    parser = argparse.ArgumentParser(prog="ofmu")
    parser.add_argument("-v", "--verbose", action="store_true")
    register(parser.add_subparsers(dest="command", required=True))
    return run_command(parser, argv)

if __name__ == "__main__":
    raise SystemExit(main())
