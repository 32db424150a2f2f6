"""A document's prompt as lm-evaluation-harness 0.4.13 writes it (``ConfigurableTask.fewshot_context`` with no
chat template): the description, ``num_fewshot`` examples drawn by its seeded sampler, then the document's text.

``doc_to_text`` / ``doc_to_target`` / ``doc_to_choice`` are a field name (the field's value), a Jinja template
(rendered in :func:`workbench.sandbox.render_text`, whose options -- StrictUndefined, trailing newline kept,
blocks kept -- are lm-eval's ``utils.env``'s, so the text is the same byte for byte), a list (choices) or an
index (target). A template that renders digits is an index when the task has choices; a choice template's text
is a Python list literal (``ast.literal_eval``, as lm-eval reads it).

An example is ``text + target_delimiter + answer + fewshot_delimiter`` (no delimiter and no answer when the
target is empty); the examples are drawn per document, in document order, by one ``random.Random(1234)`` --
lm-eval's ``ContextSampler`` under ``simple_evaluate``'s default ``fewshot_random_seed`` -- and, when they
come from the evaluated split, ``n + 1`` are drawn and the document itself is dropped.

    >>> sample_fewshot([{"q": i} for i in range(5)], [{"q": 0}, {"q": 1}], 2, exclude=True)
    [[{'q': 3}, {'q': 4}], [{'q': 0}, {'q': 4}]]
"""

from __future__ import annotations

import ast
import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from workbench.errors import ConfigError, PromptError
from workbench.interop.lmeval.config import TaskFile
from workbench.sandbox import render_text

#: lm-eval's default ``fewshot_random_seed`` (``lm_eval.defaults.DEFAULT_OTHER_SEED``).
FEWSHOT_SEED = 1234
#: The longest choice-list text read with ``ast.literal_eval`` (a list literal of choices is short).
MAX_LITERAL_CHARS = 100_000

Doc = dict[str, Any]


def sample_fewshot(pool: Sequence[Doc], docs: Sequence[Doc], n: int, exclude: bool,
                   seed: int = FEWSHOT_SEED) -> list[list[Doc]]:
    """Each document's few-shot examples, as lm-eval's ``ContextSampler.sample`` draws them in document order
    with one ``Random(seed)`` (``exclude``: the pool is the evaluated split, so the document is left out)."""
    if n == 0:
        return [[] for _ in docs]
    rnd, pool = random.Random(seed), list(pool)
    if n + (1 if exclude else 0) > len(pool):
        raise ConfigError(f"num_fewshot {n} asks for more examples than the few-shot split has ({len(pool)}).")
    out = []
    for doc in docs:
        if not exclude:
            out.append(rnd.sample(pool, n))
            continue
        got = [x for x in rnd.sample(pool, n + 1) if x != doc][:n]
        if len(got) < n:  # copies of the document were drawn: draw again from the pool without it
            got = rnd.sample([x for x in pool if x != doc], n)
        out.append(got)
    return out


def first_fewshot(pool: Sequence[Doc], docs: Sequence[Doc], n: int, exclude: bool) -> list[list[Doc]]:
    """lm-eval's ``first_n`` sampler: the first ``n`` examples in order (the document itself left out when the
    pool is the evaluated split).

    >>> first_fewshot([{"q": 0}, {"q": 1}, {"q": 2}], [{"q": 0}], 2, exclude=True)
    [[{'q': 1}, {'q': 2}]]
    """
    out = []
    for doc in docs:
        kept = [x for x in pool if x != doc] if exclude else list(pool)
        if n > len(kept):
            raise ConfigError(f"num_fewshot {n} asks for more examples than the few-shot examples have ({len(kept)}).")
        out.append(kept[:n])
    return out


@dataclass(frozen=True)
class DocFormat:
    """How the task writes one document: its text, its choices, its target, an example of it."""

    task: TaskFile  # the task's keys
    features: frozenset[str]  # the evaluated split's columns (a doc_to_* naming one reads the field)

    def _template(self, template: str, doc: Doc, what: str) -> str:
        try:
            return render_text(template, doc, f"{what} template")
        except PromptError as err:
            raise ConfigError(f"{self.task.task}: {err}") from None

    def text(self, doc: Doc) -> str:
        """``doc_to_text``: the document's question text."""
        spec = self.task.doc_to_text
        value = doc[spec] if isinstance(spec, str) and spec in self.features else (
            self._template(spec, doc, "doc_to_text") if isinstance(spec, str) else spec)
        if isinstance(value, str) and value.isdigit() and self.task.doc_to_choice is not None and \
                not (isinstance(spec, str) and spec in self.features):
            value = int(value)
        if not isinstance(value, str):
            raise ConfigError(f"{self.task.task}: doc_to_text gives {type(value).__name__} {value!r}, not text "
                              "(a number means several contexts per document, which is not supported).")
        return value

    def choices(self, doc: Doc) -> list[str] | None:
        """``doc_to_choice``: the document's choices (None: the task has none)."""
        spec = self.task.doc_to_choice
        if spec is None:
            return None
        if isinstance(spec, dict):
            value: Any = list(spec.values())
        elif isinstance(spec, list):
            value = spec
        elif spec in self.features:
            value = doc[spec]
        else:
            rendered = self._template(spec, doc, "doc_to_choice")
            if len(rendered) > MAX_LITERAL_CHARS:
                raise ConfigError(f"{self.task.task}: doc_to_choice renders {len(rendered):,} characters; the limit "
                                  f"is {MAX_LITERAL_CHARS:,}.")
            try:
                value = ast.literal_eval(rendered)
            except (ValueError, SyntaxError, MemoryError, RecursionError):
                raise ConfigError(f"{self.task.task}: doc_to_choice renders {rendered[:80]!r}, not a list of "
                                  "choices.") from None
        if not isinstance(value, list) or not value or not all(isinstance(c, str) for c in value):
            raise ConfigError(f"{self.task.task}: doc_to_choice gives {value!r}, not a list of texts.")
        return value

    def target(self, doc: Doc) -> int | str:
        """``doc_to_target``: a choice index or the answer text."""
        spec = self.task.doc_to_target
        if isinstance(spec, int):
            return spec
        if spec in self.features:
            value = doc[spec]
        else:
            value = self._template(spec, doc, "doc_to_target")
            if value.isdigit() and self.task.doc_to_choice is not None:
                value = int(value)
            elif len(value) >= 2 and value[0] == "[" and value[-1] == "]":
                raise ConfigError(f"{self.task.task}: doc_to_target gives a list ({value[:80]}); several gold "
                                  "answers per document are not supported.")
        if isinstance(value, bool) or not isinstance(value, int | str):
            raise ConfigError(f"{self.task.task}: doc_to_target gives {type(value).__name__} {value!r}, not an "
                              "index or a text (several gold answers are not supported).")
        return value

    def answer_text(self, doc: Doc) -> str:
        """The answer written after an example (``build_qa_turn``: the choice at the target's index)."""
        target, choices = self.target(doc), self.choices(doc)
        if isinstance(target, int):
            if not choices or not 0 <= target < len(choices):
                raise ConfigError(f"{self.task.task}: doc_to_target gives index {target}, and the document has "
                                  f"{len(choices or [])} choices.")
            return choices[target]
        return target

    def example(self, doc: Doc) -> str:
        """A few-shot example: text, target delimiter, answer, few-shot delimiter (text alone with no answer)."""
        text, target = self.text(doc), self.target(doc)
        if target == "":
            return text
        return text + self.task.target_delimiter + self.answer_text(doc) + self.task.fewshot_delimiter

    def description(self, doc: Doc) -> str:
        """The description before the examples (a field, or a template rendered with the document)."""
        spec = self.task.description
        if not spec:
            return ""
        return str(doc[spec]) if spec in doc else self._template(spec, doc, "description")

    def prefix(self, doc: Doc, shots: Sequence[Doc]) -> str:
        """Everything before the document's own text: the description, then its examples."""
        return self.description(doc) + "".join(self.example(d) for d in shots)
