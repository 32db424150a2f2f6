"""generate_until's verdict as lm-evaluation-harness gives it: the filter pipeline (``regex`` then
``take_first``, ``lm_eval.filters``) reads the answer out of the generated text, and ``exact_match``
(``lm_eval.api.metrics.exact_match_hf_evaluate``) compares it with the target after its options.

Patterns come from an untrusted file, so they run with the ``regex`` module's time limit (a catastrophic
pattern is that item's error, not a hang): :data:`workbench.judging.patterns.TIME_LIMIT_S`.

    >>> strict = FilterSpec(name="strict-match", filter=[FilterStep(function="regex"), FilterStep(function="take_first")])
    >>> apply_filter(strict, "so 3 + 4 = 7.\\n#### 7")
    '7'
    >>> apply_filter(strict, "I do not know")
    '[invalid]'
    >>> exact_match("The Answer.", "the answer", MetricSpec(metric="exact_match", ignore_case=True, ignore_punctuation=True))
    True
"""

from __future__ import annotations

import string
from dataclasses import dataclass
from typing import Any

import regex

from workbench.errors import ConfigError
from workbench.interop.lmeval.config import FilterSpec, FilterStep, MetricSpec
from workbench.judging.base import Case, CheckError, Finding, JudgeKind
from workbench.judging.patterns import TIME_LIMIT_S, quoted
from workbench.judging.registry import register_judge

#: The pipeline lm-eval applies when a task lists no filters.
TAKE_FIRST = FilterSpec(name="none", filter=[FilterStep(function="take_first")])


def compile_pattern(pattern: str, what: str) -> Any:
    """``pattern`` compiled, or one ConfigError line."""
    try:
        return regex.compile(pattern)
    except regex.error as err:
        raise ConfigError(f"{what} {quoted(pattern)} does not compile: {err}.") from None


def _timed(call, pattern: str):
    try:
        return call()
    except TimeoutError:
        raise CheckError(f"the regex {quoted(pattern)} took over {TIME_LIMIT_S:g} s on this output (catastrophic "
                         "backtracking); simplify the pattern.") from None


def regex_filter(step: FilterStep, text: str) -> str:
    """lm-eval's ``RegexFilter`` on one response: ``findall``, the ``group_select``-th match (a tuple of groups:
    its first non-empty one), stripped; the fallback when nothing matches."""
    found = _timed(lambda: regex.findall(step.regex_pattern, text, timeout=TIME_LIMIT_S), step.regex_pattern)
    if not found:
        return step.fallback
    try:
        match = found[step.group_select]
    except IndexError:
        raise CheckError(f"group_select {step.group_select} is past the {len(found)} matches of "
                         f"{quoted(step.regex_pattern)}.") from None
    if isinstance(match, tuple):
        match = next((m for m in match if m), None)
        if match is None:
            return step.fallback
    return match.strip()


def apply_filter(spec: FilterSpec, output: str) -> str:
    """The text a filter pipeline keeps of one output (one response per document: take_first keeps it)."""
    text = output
    for step in spec.filter:
        if step.function == "regex":
            text = regex_filter(step, text)
    return text


def exact_match(prediction: str, reference: str, metric: MetricSpec) -> bool:
    """lm-eval's exact_match on one pair: each of ``regexes_to_ignore`` removed (``re.sub(r, "", x)``), then
    lower-cased, punctuation and digits removed as asked, then compared."""
    pred, ref = prediction, reference
    for pattern in metric.regexes_to_ignore or ():
        pred = _timed(lambda p=pred, r=pattern: regex.sub(r, "", p, timeout=TIME_LIMIT_S), pattern)
        ref = _timed(lambda p=ref, r=pattern: regex.sub(r, "", p, timeout=TIME_LIMIT_S), pattern)
    if metric.ignore_case:
        pred, ref = pred.lower(), ref.lower()
    for flag, chars in ((metric.ignore_punctuation, string.punctuation), (metric.ignore_numbers, string.digits)):
        if flag:
            table = str.maketrans("", "", chars)
            pred, ref = pred.translate(table), ref.translate(table)
    return pred == ref


@dataclass(frozen=True)
class Matching:
    """A filter pipeline and the exact_match options: the check's prepared value."""

    filter: FilterSpec  # how the answer is read from the output
    metric: MetricSpec  # exact_match and its options


@dataclass(frozen=True)
class ExactMatchKind(JudgeKind):
    """lm-eval's filter then exact_match against the document's target (``Example.answer``)."""

    def prepare(self, value: Any, threshold: float | None, options) -> Matching:
        matching = Matching(FilterSpec.model_validate(value["filter"]), MetricSpec.model_validate(value["metric"]))
        for step in matching.filter.filter:
            if step.function == "regex":
                compile_pattern(step.regex_pattern, f"filter {matching.filter.name}: regex_pattern")
        for pattern in matching.metric.regexes_to_ignore or ():
            compile_pattern(pattern, "exact_match: regexes_to_ignore entry")
        return matching

    def shown(self, value: Any) -> str | None:
        return f"{value['filter']['name']} then exact_match" if isinstance(value, dict) else super().shown(value)

    def evaluate(self, params: Matching, case: Case, threshold, tools) -> Finding:
        kept = apply_filter(params.filter, case.output)
        same = exact_match(kept, case.item.answer, params.metric)
        return Finding(same, 1.0 if same else 0.0, f"{params.filter.name}: {quoted(kept)} "
                       f"{'matches' if same else 'does not match'} {quoted(case.item.answer)}")


#: The one kind; its checks are built by :func:`matching_check` (an lm-eval task's, not an assertion users write).
EXACT_MATCH = register_judge(ExactMatchKind("lm-eval-exact-match",
                                            "lm-eval: the filtered answer equals the target (exact_match)",
                                            value="required", negatable=False, reads_gold=True, written=False))


def matching_check(spec: FilterSpec, metric: MetricSpec):
    """The check that judges a generate_until strategy: ``spec`` then exact_match with ``metric``'s options."""
    from workbench.judging.base import Check

    value = {"filter": spec.model_dump(), "metric": metric.model_dump(exclude_none=True)}
    return Check(EXACT_MATCH, value=value, params=EXACT_MATCH.prepare(value, None, {}))
