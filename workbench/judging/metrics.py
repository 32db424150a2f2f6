"""Text metrics and latency with promptfoo's names, meaning and default thresholds: ``levenshtein`` (edit
distance, at most the threshold), ``rouge-n`` (ROUGE-1 recall), ``bleu`` (sentence BLEU), ``similar`` (cosine of
sentence embeddings) and ``latency`` (milliseconds); ``not-`` on each is :meth:`~workbench.judging.base.Check.run`'s
inversion (pass flipped, score 1 - score), which is promptfoo's for rouge-n, bleu, similar and latency.

The numbers are the reference implementations' own: rapidfuzz's Levenshtein distance, rouge-score's ROUGE-1 and
sacrebleu's BLEU, configured as promptfoo computes them (see each class). With no value, a metric compares with
the item's gold answer (the workbench's stand-in for promptfoo's ``value: "{{expected}}"`` template).

    >>> from workbench.data import Example
    >>> from workbench.judging.base import Case
    >>> from workbench.judging.registry import build_check
    >>> item = Example("1", "Capital of France?", "Paris is the capital of France.")
    >>> build_check("levenshtein: Paris").run(Case(output="paris", item=item)).reason
    'edit distance 1 ≤ 5'
    >>> build_check({"type": "rouge-n"}).run(Case(output="The capital of France is Paris.", item=item)).score
    1.0
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Any

from workbench.errors import ConfigError
from workbench.judging.assertions import text_value
from workbench.judging.base import Case, CheckError, Finding, JudgeKind
from workbench.judging.registry import register_judge

if TYPE_CHECKING:
    from workbench.judging.tools import JudgeTools


def references(value: Any, *, many: bool) -> tuple[str, ...]:
    """A metric's reference text(s) as written (``many``: a list of texts is allowed too)."""
    if many and isinstance(value, list | tuple):
        if not value:
            raise ConfigError("the list has no entries.")
        return tuple(text_value(v) for v in value)
    return (text_value(value),)


def gold_or(params: tuple[str, ...] | None, case: Case) -> tuple[str, ...]:
    """The check's own references, else the item's gold answer (an item without one is that item's error)."""
    if params is not None:
        return params
    if not case.item.answer.strip():
        raise CheckError(f"item {case.item.id} has no gold answer to compare with; give the check a value.")
    return (case.item.answer,)


@dataclass(frozen=True)
class ReferenceMetric(JudgeKind):
    """A metric of the output against a reference text (the value, else the item's gold answer)."""

    value: str = "optional"  # default: the item's gold answer
    reads_gold: bool = True
    many: bool = False  # the value may be a list of references

    def prepare(self, value, threshold, options):
        return None if value is None else references(value, many=self.many)

    def shown(self, value):
        return super().shown(" | ".join(map(str, value)) if isinstance(value, list | tuple) else value)


# promptfoo src/assertions/levenshtein.ts: distance(output, value) <= threshold (default 5), score 1 or 0.
# promptfoo's handler ignores `not-`; here not-levenshtein passes when the distance is over the threshold.
@dataclass(frozen=True)
class Levenshtein(ReferenceMetric):
    """The edit distance between the output and the reference is at most the threshold."""

    def evaluate(self, params, case: Case, threshold, tools) -> Finding:
        from rapidfuzz.distance import Levenshtein as edit

        (ref,) = gold_or(params, case)
        distance = edit.distance(case.output, ref)
        ok = distance <= threshold
        return Finding(ok, float(ok), f"edit distance {distance} {'≤' if ok else '>'} {threshold:g}")


@cache
def rouge_scorer() -> Any:
    """rouge-score's ROUGE-1 scorer (its own tokenizer: lower-cased ASCII letters and digits, no stemming)."""
    from rouge_score.rouge_scorer import RougeScorer

    return RougeScorer(["rouge1"], use_stemmer=False)


def rouge_n(output: str, reference: str) -> float:
    """ROUGE-1 recall: the share of the reference's words (with repeats) the output has -- what promptfoo's
    ``rouge-n`` computes (js-rouge's ``n()``: n = 1, matches / reference n-grams).

    >>> rouge_n("the cat sat", "the cat sat on the mat")
    0.5
    """
    return float(rouge_scorer().score(target=reference, prediction=output)["rouge1"].recall)


# promptfoo src/assertions/rouge.ts: rouge.n(output, value) >= threshold (default 0.75), score the ROUGE value;
# not-rouge-n: pass when below, score 1 - ROUGE.
@dataclass(frozen=True)
class RougeN(ReferenceMetric):
    """ROUGE-1 recall of the output against the reference reaches the threshold."""

    def evaluate(self, params, case: Case, threshold, tools) -> Finding:
        (ref,) = gold_or(params, case)
        score = rouge_n(case.output, ref)
        ok = score >= threshold
        return Finding(ok, score, f"ROUGE-1 recall {score:.2f} {'≥' if ok else '<'} {threshold:g}")


@cache
def bleu_metric() -> Any:
    """sacrebleu's BLEU as promptfoo's bleu.ts computes it: lower-cased, words split at whitespace, 1- to
    4-grams weighted equally, a zero n-gram precision floored at 1e-7, brevity against the closest reference."""
    from sacrebleu.metrics import BLEU

    return BLEU(lowercase=True, tokenize="none", smooth_method="floor", smooth_value=1e-7, effective_order=False)


def bleu(output: str, refs: tuple[str, ...]) -> float:
    """Sentence BLEU in [0, 1] of ``output`` against ``refs`` (sacrebleu's corpus score of one sentence, which is
    its sentence score without the effective-order warning).

    >>> round(bleu("A quick brown fox jumps over the lazy dog", ("The quick brown fox jumps over the lazy dog",)), 4)
    0.8633
    """
    return float(bleu_metric().corpus_score([output], [[r] for r in refs]).score) / 100.0


# promptfoo src/assertions/bleu.ts: BLEU(output, value or values) >= threshold (default 0.5), score the BLEU;
# not-bleu: pass when below, score 1 - BLEU.
@dataclass(frozen=True)
class Bleu(ReferenceMetric):
    """Sentence BLEU of the output against the reference(s) reaches the threshold."""

    many: bool = True

    def evaluate(self, params, case: Case, threshold, tools) -> Finding:
        score = bleu(case.output, gold_or(params, case))
        ok = score >= threshold
        return Finding(ok, score, f"BLEU {score:.2f} {'≥' if ok else '<'} {threshold:g}")


@cache
def _default_tools() -> JudgeTools:
    """The tools a check run without any uses (the workbench's own MiniLM, loaded once)."""
    from workbench.judging.tools import JudgeTools

    return JudgeTools()


def cosine(output: str, refs: tuple[str, ...], tools: JudgeTools | None) -> float:
    """The highest cosine similarity of ``output``'s embedding to the references' (fixed texts' embeddings are
    kept in ``tools.memo`` for the run)."""
    tools = tools if tools is not None else _default_tools()
    embedder = tools.embedder()
    key = getattr(embedder, "id", id(embedder))
    todo = [r for r in refs if ("similar", key, r) not in tools.memo]
    vecs = embedder.encode([output, *todo])
    for r, v in zip(todo, vecs[1:], strict=True):
        tools.memo[("similar", key, r)] = v
    return max(float(vecs[0] @ tools.memo[("similar", key, r)]) for r in refs)


# promptfoo src/assertions/similar.ts and src/matchers/similarity.ts: cosine(embed(value), embed(output)) >=
# threshold (default 0.75), score the similarity; a list passes on its most similar entry; not-similar passes
# when every entry is below the threshold, score 1 - the highest similarity.
@dataclass(frozen=True)
class Similar(ReferenceMetric):
    """The output's embedding is at least ``threshold`` cosine-similar to the reference's (MiniLM)."""

    many: bool = True

    def evaluate(self, params, case: Case, threshold, tools) -> Finding:
        refs = gold_or(params, case)
        score = cosine(case.output, refs, tools)
        ok = score >= threshold
        return Finding(ok, score, f"similarity {score:.2f} {'≥' if ok else '<'} {threshold:g}")


# promptfoo src/assertions/latency.ts: the item's latency in ms <= threshold (needed here), score 1 or 0;
# not-latency passes when it is over.
@dataclass(frozen=True)
class Latency(JudgeKind):
    """The item took at most ``threshold`` milliseconds."""

    value: str = "none"

    def prepare(self, value, threshold, options):
        if threshold is None:
            raise ConfigError("needs a threshold: the most milliseconds an item may take, e.g. threshold: 5000.")
        return None

    def evaluate(self, params, case: Case, threshold, tools) -> Finding:
        if case.seconds is None:
            raise CheckError("this item's time was not measured: the answer came from the response cache; rerun "
                             "without the cache.")
        ms = case.seconds * 1000.0
        ok = ms <= threshold
        return Finding(ok, float(ok), f"{ms:.0f} ms {'≤' if ok else '>'} {threshold:g} ms")


register_judge(Levenshtein("levenshtein", "the edit distance to the value (default: the gold answer) is at most "
                                          "the threshold", threshold_range=(0.0, math.inf), default_threshold=5.0))
register_judge(RougeN("rouge-n", "ROUGE-1 recall against the value (default: the gold answer) reaches the "
                                 "threshold", threshold_range=(0.0, 1.0), default_threshold=0.75))
register_judge(Bleu("bleu", "sentence BLEU against the value or values (default: the gold answer) reaches the "
                            "threshold", threshold_range=(0.0, 1.0), default_threshold=0.5))
register_judge(Similar("similar", "the MiniLM embedding cosine similarity to the value or values (default: the "
                                  "gold answer) reaches the threshold", threshold_range=(-1.0, 1.0),
                       default_threshold=0.75))
register_judge(Latency("latency", "the item took at most the threshold in milliseconds",
                       threshold_range=(0.0, math.inf)))
