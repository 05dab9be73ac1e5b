"""TOFU data: the record schema, loaders, the shipped real-fact tables and the fictitious-author generator."""

from llm.data.generator import TofuCorpus, generate_corpus, n_split_authors, write_corpus
from llm.data.loaders import (
    REFERENCE_TABLES,
    TOFU_HUB_ID,
    load_folder,
    load_reference_table,
    load_split,
    load_tofu_hub,
    read_records,
    required_fields,
)
from llm.data.schema import QAItem, check_disjoint, parse_record, validate_records

__all__ = [
    "REFERENCE_TABLES", "TOFU_HUB_ID", "QAItem", "TofuCorpus", "check_disjoint", "generate_corpus", "load_folder",
    "load_reference_table", "load_split", "load_tofu_hub", "n_split_authors", "parse_record", "read_records",
    "required_fields", "validate_records", "write_corpus",
]
