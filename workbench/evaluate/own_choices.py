"""The ``choices`` answer mode: each item's own continuations scored after its prompt, the most likely wins.

This is lm-evaluation-harness's ``multiple_choice`` (``ConfigurableTask.process_results``): every document
brings its own choices (``Example.choices``: key -> the choice text, ``Example.answer``: the gold key); one
scoring call gives each choice's summed log-likelihood after the prompt (the target delimiter, whitespace,
ends the prompt and moves onto the continuation as lm-eval's tokenisation does), and the answer is the
argmax -- of the sums (``acc``, score_norm "sum") or of the sums over the choice texts' lengths in
characters (``acc_norm``, score_norm "char"). Ties go to the first choice, as ``numpy.argmax`` does.

    >>> pick([-3.0, -4.0], ["a", "bbbb"], "sum"), pick([-3.0, -4.0], ["a", "bbbb"], "char")
    (0, 1)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from workbench.data import Example
from workbench.errors import WorkbenchError
from workbench.evaluate.answer_modes import AnswerMode, Outcome, per_choice, register
from workbench.evaluate.calibration import argmax, label_probs
from workbench.evaluate.records import ItemFailure
from workbench.evaluate.strategies import Strategy


def pick(logliks: Sequence[float], texts: Sequence[str], norm: str) -> int:
    """The index of the best choice: the largest log-likelihood, normalised by ``norm`` (first of a tie)."""
    return argmax([per_choice(ll, text, norm) for ll, text in zip(logliks, texts, strict=True)])


@dataclass(frozen=True)
class OwnChoicesMode(AnswerMode):
    """Each item's own choices scored after its prompt (raw text, as lm-eval writes it); the best one wins."""

    def fits(self, strategy: Strategy) -> bool:
        return strategy.answer == "choices"

    def judge(self, answer: str | None, query: Example, fmt: str) -> bool:
        """The chosen key is the gold key (lm-eval compares indices)."""
        return answer is not None and answer == query.answer

    def answer(self, ctx, index, query, demos, scores, reason) -> Outcome:
        from workbench.prompts.rendering import render

        s = ctx.strategy
        keys, texts = list((query.choices or {}).keys()), list((query.choices or {}).values())
        if not keys:
            return ItemFailure(index, query.id, "this item has no choices of its own to score")
        try:
            rendered = render(s.spec, demos, query, as_chat=False)  # lm-eval's plain-text context
            details = ctx.backend.score_details(rendered.text, texts)
        except WorkbenchError as err:
            return ItemFailure(index, query.id, str(err).splitlines()[0])
        logliks = [d.logprob for d in details]
        normed = [per_choice(ll, text, s.score_norm) for ll, text in zip(logliks, texts, strict=True)]
        best = argmax(normed)
        fields: dict[str, Any] = {
            "prompt": rendered.text, "rule": "choices" if s.score_norm == "sum" else f"choices_per_{s.score_norm}",
            "output": " ".join(f"{k}: {ll:.4f}" for k, ll in zip(keys, logliks, strict=True)),
            "demos": tuple(d.id for d in rendered.demos), "logliks": dict(zip(keys, logliks, strict=True)),
            "probs": dict(zip(keys, label_probs(normed), strict=True))}
        return self.record(ctx, query, reason, extracted=keys[best], **fields)


register(OwnChoicesMode("choices", "each item's own choices scored after its prompt; the most likely wins",
                        generates=False), before="generate")
