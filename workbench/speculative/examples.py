"""The shipped example prompts of the speculative lab (copy-heavy ones, where drafting pays, and creative ones)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Example:
    """A shipped example prompt (workbench/shipped/speculative/examples.yaml)."""

    id: str
    kind: str  # "copy-heavy" (drafting pays) or "creative" (it does not)
    title: str
    prompt: str
    max_new_tokens: int = 64  # the budget the example is measured with


#: Where the example prompts are shipped.
EXAMPLES_FILE = Path(__file__).resolve().parents[1] / "shipped" / "speculative" / "examples.yaml"


def examples(path: str | Path = EXAMPLES_FILE) -> tuple[Example, ...]:
    """The shipped example prompts, copy-heavy ones first (read by the bounded loader, as every file is)."""
    from workbench.errors import DataError
    from workbench.safeload import MAX_DOCUMENT_BYTES, load_document, read_file

    data = load_document(read_file(path, max_bytes=MAX_DOCUMENT_BYTES), str(path), what="example files")
    try:
        return tuple(Example(**e) for e in data["examples"])
    except (KeyError, TypeError) as err:
        raise DataError(f"{path} is not a list of examples ({err}).") from None
