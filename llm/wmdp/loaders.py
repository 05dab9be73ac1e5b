"""Loading WMDP-format files: local JSON / JSON-lines paths, or the hub for users with a network.

Nothing here downloads unless :func:`load_hub` is called (it imports ``datasets`` lazily); the tests
and the bench read local files only. Parquet is not read: export a split with
``datasets.load_dataset(...).to_json(path)`` (JSON lines) to use it here.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from llm.data.loaders import read_records
from llm.wmdp.schema import MCQuestion, check_mc_row, check_text_row

#: The hub datasets of the WMDP paper (Li et al. 2024) and MMLU (Hendrycks et al. 2021).
WMDP_HUB_ID = "cais/wmdp"
WMDP_CONFIGS: tuple[str, ...] = ("wmdp-bio", "wmdp-chem", "wmdp-cyber")
CORPORA_HUB_ID = "cais/wmdp-corpora"
MMLU_HUB_ID = "cais/mmlu"
SUFFIXES: tuple[str, ...] = (".json", ".jsonl")


def _records(path: str | os.PathLike[str]) -> tuple[Path, list[object]]:
    file = Path(path)
    if file.suffix not in SUFFIXES:
        raise ValueError(f"{file}: expected a .json or .jsonl file (parquet is not read; export it to JSON lines)")
    records = read_records(file)
    if not records:
        raise ValueError(f"{file}: holds no records")
    return file, records


def domain_of(path: str | os.PathLike[str]) -> str:
    """A WMDP file's domain label: its name without suffix (``wmdp-bio.jsonl`` -> ``wmdp-bio``)."""
    return Path(path).name.split(".")[0]


def load_mc(path: str | os.PathLike[str], *, mmlu: bool = False, domain: str | None = None) -> list[MCQuestion]:
    """Multiple-choice rows of one file (WMDP layout, or MMLU's with ``mmlu=True``).

    Args:
        domain: the subject given to WMDP rows (default: the file's name, :func:`domain_of`).

    Raises:
        ValueError: an unreadable file, no rows, or a bad row (naming the file, row and key).
    """
    file, records = _records(path)
    label = domain or domain_of(file)
    return [check_mc_row(r, source=str(file), row=i, mmlu=mmlu, domain=label) for i, r in enumerate(records, start=1)]


def load_mc_files(paths: Sequence[str | os.PathLike[str]], *, mmlu: bool = False) -> list[MCQuestion]:
    """The rows of several files in order (each WMDP file's rows labelled with its domain)."""
    if not paths:
        raise ValueError("no multiple-choice file given")
    return [q for path in paths for q in load_mc(path, mmlu=mmlu)]


def load_texts(path: str | os.PathLike[str]) -> list[str]:
    """The ``text`` of every record of a corpus file (``{"text": ...}`` per record).

    Raises:
        ValueError: an unreadable file, no records, or a bad record (naming the file, row and key).
    """
    file, records = _records(path)
    return [check_text_row(r, source=str(file), row=i) for i, r in enumerate(records, start=1)]


def load_hub(kind: str, name: str, *, split: str = "test", revision: str | None = None) -> list[object]:
    """Rows of a hub dataset (network or a populated Hugging Face cache; never called by the tests).

    Args:
        kind: ``"wmdp"`` (``name`` in :data:`WMDP_CONFIGS`), ``"corpus"`` (``name`` e.g. ``"bio-retain-corpus"``;
            the bio forget corpus is gated: ask its authors) or ``"mmlu"`` (``name`` a subject or ``"all"``).
        split: the split (WMDP and MMLU: ``"test"``; corpora: ``"train"``).
        revision: a pinned dataset revision.

    Returns:
        :class:`MCQuestion` rows (wmdp, mmlu) or texts (corpus), checked like local files.
    """
    ids = {"wmdp": WMDP_HUB_ID, "corpus": CORPORA_HUB_ID, "mmlu": MMLU_HUB_ID}
    if kind not in ids:
        raise ValueError(f"kind must be one of {sorted(ids)}, got kind={kind!r}")
    from datasets import load_dataset  # noqa: PLC0415 - optional, needs network

    rows = load_dataset(ids[kind], name, split=split, revision=revision)
    source = f"{ids[kind]}/{name}[{split}]"
    if kind == "corpus":
        return [check_text_row(r, source=source, row=i) for i, r in enumerate(rows, start=1)]
    return [check_mc_row(r, source=source, row=i, mmlu=kind == "mmlu", domain=name) for i, r in enumerate(rows, start=1)]
