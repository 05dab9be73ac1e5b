"""A prepared entry: its configuration (:class:`PrepareConfig`), the cached folder (:class:`Prepared`) and
how every model of it is evaluated (the same data and settings for all, or forget quality is meaningless).

Built by :func:`llm.prepare.prepare`; see that module for the cache layout.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from llm.data.generator import FORGET_PERCENTS
from llm.data.loaders import load_folder
from llm.data.schema import QUESTION_KEYS, QAItem
from llm.evaluate import TofuEvalConfig, TofuEvalResult, evaluate_tofu, tofu_eval_data
from llm.models.embedded import EMBEDDED_SIZES
from llm.models.hub import load_pretrained
from llm.prompts import PROMPTS
from llm.train import EMBEDDED_RECIPE, TOFU_RECIPE, TrainRecipe


@dataclass(frozen=True, kw_only=True)
class EvalSettings:
    """How every model of one prepared entry is evaluated (the same for all, or forget quality is meaningless).

    Attributes:
        batch_size: items per forward pass / generate call.
        max_new_tokens: generation budget for ROUGE (TOFU: 200; the embedded answers fit in 64).
        limit: evaluate only the first ``limit`` items of each evaluation set (None: all).
        question_key: the question the forget-set metrics are asked (``question`` or ``paraphrased_question``).
        ou_compat: OpenUnlearning-compatible evaluation (:class:`llm.evaluate.TofuEvalConfig`); part of the
            entry, so the retain model's reference log is computed the same way as every model's.
        metrics: compute only these TOFU metrics (with what they are computed from; None: all of
            :data:`llm.evaluate.TOFU_METRICS`): a profile evaluates what it reports and nothing else.
    """

    batch_size: int = 16
    max_new_tokens: int = 200
    limit: int | None = None
    question_key: str = "question"
    ou_compat: bool = False
    metrics: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        if self.batch_size < 1 or self.max_new_tokens < 1:
            raise ValueError(f"batch_size and max_new_tokens must be >= 1, got {self.batch_size}, {self.max_new_tokens}")
        if self.limit is not None and self.limit < 2:
            raise ValueError(f"limit must be >= 2 or None, got limit={self.limit!r}")
        if self.question_key not in QUESTION_KEYS:
            raise ValueError(f"question_key must be one of {QUESTION_KEYS}, got question_key={self.question_key!r}")
        if self.metrics is not None:
            object.__setattr__(self, "metrics", tuple(self.metrics))  # a record's list reads back as the same key
            from llm.evaluate import TOFU_METRICS  # noqa: PLC0415

            unknown = [m for m in self.metrics if m not in TOFU_METRICS]
            if not self.metrics or unknown:
                raise ValueError(f"metrics must name TOFU metrics ({', '.join(TOFU_METRICS)}), got {self.metrics!r}")


@dataclass(frozen=True, kw_only=True)
class PrepareConfig:
    """Everything that defines a prepared entry (see the module docstring).

    Attributes:
        model: ``"embedded"``, ``"smollm2"``, or a hub id / local model folder.
        size: the embedded model size (``EMBEDDED_SIZES``).
        vocab_size: the embedded tokenizer's vocabulary.
        data: ``"generated"``, ``"hub"``, a local folder of TOFU split files, or one JSON file mapping split
            names to lists of TOFU records.
        n_authors, questions_per_author: the generated corpus's size.
        forget_split: ``forget01`` / ``forget05`` / ``forget10``; with local data any split name.
        retain_name, holdout_name: the retain and holdout split names (None: ``retainNN`` / ``holdoutNN`` from
            the forget split's percent).
        world_knowledge: add real_authors + world_facts to both training sets (None: only for the embedded model).
        recipe: fine-tuning recipe of the target and retain models (None: embedded or TOFU recipe).
        template: prompt template name (None: ``plain`` for the embedded model, ``smollm2`` for SmolLM2,
            ``chat`` for a hub model with a chat template, else ``phi``).
        max_length: longest tokenised sequence.
        eval: evaluation settings.
        seed: corpus, initialisation and sampling seed.
        dtype: weights dtype of hub models (``float32`` on CPU).
        trust_remote_code: allow a hub repository's own model code.
        pad_token: the pad token for a tokenizer without one (``"eos"``, ``"unk"`` or a token).
        revision: pinned hub revision (model and data).
        question_templates: generated data only: the question-template indices the corpus may use
            (None: all; a tuning corpus and an evaluation corpus with disjoint indices share no wording).
    """

    model: str = "embedded"
    size: str = "tiny"
    vocab_size: int = 1024
    data: str = "generated"
    n_authors: int = 40
    questions_per_author: int = 10
    forget_split: str = "forget10"
    world_knowledge: bool | None = None
    recipe: TrainRecipe | None = None
    template: str | None = None
    max_length: int = 256
    eval: EvalSettings = field(default_factory=lambda: EvalSettings(batch_size=64, max_new_tokens=64))
    seed: int = 0
    dtype: str = "float32"
    trust_remote_code: bool = False
    pad_token: str | None = None
    revision: str | None = None
    question_templates: tuple[int, ...] | None = None
    retain_name: str | None = None
    holdout_name: str | None = None

    def __post_init__(self) -> None:
        if self.question_templates is not None and self.data != "generated":
            raise ValueError(f"question_templates applies to generated data only, got data={self.data!r}")
        valid = [f"forget{p:02d}" for p in FORGET_PERCENTS]
        if self.data in ("generated", "hub") and self.forget_split not in valid:
            raise ValueError(f"forget_split must be one of {valid} for data={self.data!r}, "
                             f"got forget_split={self.forget_split!r}")
        names = {"forget_split": self.forget_split, "retain_split": self.retain_name,
                 "holdout_split": self.holdout_name}
        for what, name in names.items():
            if name is not None and (not name.strip() or "/" in name):
                raise ValueError(f"{what} must be a split name (no '/'), got {name!r}")
        if self.data in ("generated", "hub") and (self.retain_name or self.holdout_name):
            raise ValueError(f"retain / holdout split names apply to local data only, got data={self.data!r}")
        if len({self.forget_split, self.retain_split, self.holdout_split}) < 3:
            raise ValueError(f"the forget, retain and holdout splits must differ, got {self.forget_split!r}, "
                             f"{self.retain_split!r}, {self.holdout_split!r}")
        if self.model == "embedded":
            EMBEDDED_SIZES.get(self.size)
        if self.template is not None:
            PROMPTS.get(self.template)
        if self.max_length < 8:
            raise ValueError(f"max_length must be >= 8, got max_length={self.max_length!r}")

    @property
    def embedded(self) -> bool:
        return self.model == "embedded"

    @property
    def percent(self) -> int:
        """NN of a ``forgetNN`` split name (a ValueError for any other name)."""
        digits = self.forget_split.removeprefix("forget")
        if not (self.forget_split.startswith("forget") and digits.isdigit() and 0 < int(digits) < 100):
            raise ValueError(f"the forget split {self.forget_split!r} is not named forgetNN: give the retain and "
                             "holdout split names (--retain-split, --holdout-split)")
        return int(digits)

    @property
    def retain_split(self) -> str:
        return self.retain_name or f"retain{100 - self.percent:02d}"

    @property
    def holdout_split(self) -> str:
        return self.holdout_name or f"holdout{self.percent:02d}"

    def resolved(self) -> PrepareConfig:
        """The config with every automatic choice made (recipe, world knowledge; template needs the tokenizer)."""
        recipe = self.recipe or (EMBEDDED_RECIPE if self.embedded else TOFU_RECIPE)
        world = self.embedded if self.world_knowledge is None else self.world_knowledge
        template = self.template or ("plain" if self.embedded else "smollm2" if self.model == "smollm2" else None)
        return replace(self, recipe=recipe, world_knowledge=world, template=template)

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["recipe"] = None if self.recipe is None else self.recipe.to_dict()
        if self.question_templates is None:  # absent, not null: entries prepared before the option keep their key
            del out["question_templates"]
        else:
            out["question_templates"] = list(self.question_templates)
        for name in ("retain_name", "holdout_name"):  # the same: absent while unset
            if out[name] is None:
                del out[name]
        if out["eval"]["question_key"] == "question":
            del out["eval"]["question_key"]
        if not out["eval"]["ou_compat"]:  # absent while off: existing entries keep their key
            del out["eval"]["ou_compat"]
        if out["eval"]["metrics"] is None:  # the same: absent while every metric is computed
            del out["eval"]["metrics"]
        else:
            out["eval"]["metrics"] = list(out["eval"]["metrics"])
        return out


def split_names(config: PrepareConfig) -> tuple[str, ...]:
    """Every split a prepared entry needs."""
    return ("full", config.forget_split, config.retain_split, f"{config.forget_split}_perturbed", "retain_perturbed",
            config.holdout_split, "real_authors_perturbed", "world_facts_perturbed")


@dataclass(frozen=True, kw_only=True)
class Prepared:
    """A complete prepared entry (paths inside ``folder``)."""

    folder: Path
    config: PrepareConfig
    info: Mapping[str, Any]

    @property
    def data_dir(self) -> Path:
        return self.folder / "data"

    @property
    def target_dir(self) -> Path:
        return self.folder / "target"

    @property
    def retain_dir(self) -> Path:
        return self.folder / "retain"

    @property
    def retain_eval(self) -> Path:
        return self.folder / "retain_eval" / "TOFU_EVAL.json"

    @property
    def target_eval(self) -> Path:
        return self.folder / "target_eval" / "TOFU_EVAL.json"

    @property
    def base_eval(self) -> Path | None:
        """The pretrained model's log before fine-tuning (:data:`llm.prepare.KNOWLEDGE_METRICS`); None: not built
        (the embedded model, or an entry prepared before the stage existed)."""
        path = self.folder / "base_eval" / "TOFU_EVAL.json"
        return path if path.is_file() else None

    @property
    def template(self) -> str:
        return str(self.info["template"])

    def splits(self, names: Sequence[str] | None = None) -> dict[str, list[QAItem]]:
        """Splits from ``data/`` (all the entry's splits by default)."""
        return load_folder(self.data_dir, list(names or split_names(self.config)))

    def forget_retain(self) -> tuple[list[QAItem], list[QAItem]]:
        """(D_f, D_r) of the entry's forget split."""
        s = self.splits([self.config.forget_split, self.config.retain_split])
        return s[self.config.forget_split], s[self.config.retain_split]

    def load_model(self, which: str = "target") -> tuple[Any, Any]:
        """The target or retain model and tokenizer from the cache (safetensors only, no network)."""
        if which not in ("target", "retain"):
            raise ValueError(f"which must be 'target' or 'retain', got {which=!r}")
        return load_pretrained(self.folder / which, dtype="float32", local_files_only=True,
                               trust_remote_code=self.config.trust_remote_code)


# --- evaluation --------------------------------------------------------------------------------


def eval_config(config: PrepareConfig, *, show_progress: bool = False) -> TofuEvalConfig:
    """The TOFU evaluation settings every model of this entry is evaluated with."""
    return TofuEvalConfig(forget_split=config.forget_split, holdout_split=config.holdout_split,
                          batch_size=config.eval.batch_size, max_length=config.max_length,
                          max_new_tokens=config.eval.max_new_tokens, question_key=config.eval.question_key,
                          seed=config.seed, show_progress=show_progress, ou_compat=config.eval.ou_compat,
                          metrics=config.eval.metrics)


def eval_data(prepared: Prepared) -> dict[str, list[QAItem]]:
    """The five evaluation sets by role, cut to ``eval.limit`` items each when set."""
    config = prepared.config
    data = tofu_eval_data(prepared.data_dir, forget_split=config.forget_split, holdout_split=config.holdout_split)
    if config.eval.limit is not None:
        data = {role: items[: config.eval.limit] for role, items in data.items()}
    return data


def evaluate_model(prepared: Prepared, model: Any, tokenizer: Any, output_dir: str | os.PathLike[str], *,
                   reference: bool = True, show_progress: bool = False) -> TofuEvalResult:
    """TOFU metrics of ``model`` with this entry's data and settings (forget quality and privleak against
    the retain model's log when ``reference``; without it, an entry that lists its metrics has the retain-side
    metric each of those two is computed from instead: the retain model's own log is that reference)."""
    config = eval_config(prepared.config, show_progress=show_progress)
    if not reference and config.metrics is not None:
        config = replace(config, metrics=tuple(dict.fromkeys(_WITHOUT_REFERENCE.get(m, m) for m in config.metrics)))
    return evaluate_tofu(model=model, tokenizer=tokenizer, template=prepared.template, data=eval_data(prepared),
                         output_dir=output_dir, config=config, retain_logs=prepared.retain_eval if reference else None)


#: The metric a model's log needs for another model's forget quality / privleak to be computed against it.
_WITHOUT_REFERENCE = {"forget_quality": "forget_truth_ratio", "privleak": "mia_min_k"}
