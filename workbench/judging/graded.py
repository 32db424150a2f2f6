"""Model-graded checks with promptfoo's names and meaning, judged by a local model: ``llm-rubric`` (a rubric in
plain words), ``factuality`` (the output's facts against the gold answer or the value), ``model-graded-closedqa``
(does the output meet a criterion) and ``answer-relevance`` (the judge writes the question the output answers;
its embedding similarity to the item's question is the score).

Each asks the judge -- the run's judge model, or the check's own ``provider`` -- through
:meth:`~workbench.judging.tools.JudgeTools.judge` (the runner puts it behind the response cache), with the
kind's prompt from :mod:`~workbench.judging.judge_prompts` (or the check's ``rubricPrompt``) rendered in the
judge's chat format when it has one. The judge decodes greedily unless the check's ``config`` says otherwise
(``temperature``, ``top_p``, ``seed``, ``max_tokens``), its reply is bounded by ``max_tokens`` and kept with the
verdict, and it is read robustly (small models wrap JSON in prose, write ``True``, put the letter in a sentence);
a reply that still cannot be read is a :class:`~workbench.judging.base.CheckError`: that item's error, never a
pass, whatever ``not-`` says.

Readings follow promptfoo (``src/matchers/llmGrading.ts``, ``rag.ts``): a rubric reply's ``score`` defaults to its
``pass``, and with a threshold the check passes only when ``pass`` and ``score >= threshold``; factuality's
categories A, B, C and E pass with score 1, D fails with 0; closed QA passes on ``Y``. One deviation, for small
judges: a rubric reply with a score but no ``pass`` passes when the score reaches the threshold (0.5 without one),
where promptfoo would pass it whatever its score.

    >>> read_rubric('Sure! {"reason": "it greets", "pass": true, "score": 1.0}', None)
    (True, 1.0, 'it greets')
    >>> read_category('The answer is (D): they disagree.')
    ('D', 'The answer is (D): they disagree.')
    >>> read_yes_no("The reply thanks the user, so it is polite.\\nY")
    True
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from workbench.decoding import DecodingConfig
from workbench.errors import ConfigError, WorkbenchError
from workbench.judging.assertions import text_value
from workbench.judging.base import Case, Check, CheckError, Finding, JudgeKind
from workbench.judging.judge_prompts import DEFAULTS, JudgePrompt, as_text, override, render, reply_start
from workbench.judging.metrics import cosine
from workbench.judging.registry import register_judge

if TYPE_CHECKING:
    from workbench.judging.tools import JudgeTools

#: The most tokens a judge may write when a check's ``config`` asks for more (a reply is read, not a document).
MAX_JUDGE_TOKENS = 1024
#: The longest reason kept from a judge's reply (characters, on one line).
MAX_REASON_CHARS = 300
#: The part of a reply that is read (characters): a reply past it is read from its start.
MAX_READ_CHARS = 20_000
#: The ``config`` keys a model-graded check takes (the judge's decoding; promptfoo's provider config names).
CONFIG_KEYS = ("temperature", "top_p", "seed", "max_tokens")
#: Questions ``answer-relevance`` asks a sampling judge for (promptfoo: 3); a greedy judge writes one (three
#: greedy calls would write the same question three times).
SAMPLED_QUESTIONS = 3
#: factuality's categories (OpenAI evals' ``fact``): their meaning (the reason when the judge gives none) and
#: score (promptfoo's defaults: every category but D, a disagreement, passes).
CATEGORIES = {
    "A": ("a subset of the expert answer, consistent with it", 1.0),
    "B": ("a superset of the expert answer, consistent with it", 1.0),
    "C": ("the same details as the expert answer", 1.0),
    "D": ("disagrees with the expert answer", 0.0),
    "E": ("differs from the expert answer in ways that do not matter for the facts", 1.0),
}


@dataclass(frozen=True)
class JudgeParams:
    """A model-graded check's prepared parameters."""

    prompt: JudgePrompt  # the kind's default prompt, or the check's rubricPrompt
    value: str | None  # the rubric, criterion or expected answer (None: the kind's default, e.g. the gold)
    provider: str | None  # the judge model the check names (None: the run's judge)
    cfg: DecodingConfig  # the judge's decoding: greedy unless the check's config samples


def judge_decoding(config: Any, max_tokens: int) -> DecodingConfig:
    """The judge's decoding from a check's ``config`` (greedy, ``max_tokens`` new tokens, unless it says).

    >>> judge_decoding(None, 128).greedy, judge_decoding({"temperature": 0.7, "seed": 3}, 128).temperature
    (True, 0.7)
    >>> judge_decoding({"max_tokens": 5000}, 128)
    Traceback (most recent call last):
    ...
    workbench.errors.ConfigError: config max_tokens must be a whole number from 1 to 1024, not 5000.
    """
    if config is None:
        return DecodingConfig(max_new_tokens=max_tokens)
    if not isinstance(config, Mapping):
        raise ConfigError(f"config must be a mapping of the judge's settings ({', '.join(CONFIG_KEYS)}).")
    unknown = sorted(set(map(str, config)) - set(CONFIG_KEYS))
    if unknown:
        raise ConfigError(f"config has unknown key {unknown[0]!r}; use {', '.join(CONFIG_KEYS)}.")
    tokens = config.get("max_tokens", max_tokens)
    if isinstance(tokens, bool) or not isinstance(tokens, int) or not 1 <= tokens <= MAX_JUDGE_TOKENS:
        raise ConfigError(f"config max_tokens must be a whole number from 1 to {MAX_JUDGE_TOKENS}, not {tokens!r}.")
    temperature = config.get("temperature", 0)
    if isinstance(temperature, bool) or not isinstance(temperature, int | float) or not temperature >= 0:
        raise ConfigError(f"config temperature must be a number of 0 or more, not {temperature!r}.")
    if temperature == 0:
        return DecodingConfig(max_new_tokens=tokens)
    seed, top_p = config.get("seed", 0), config.get("top_p", 1.0)
    if isinstance(seed, bool) or not isinstance(seed, int) or isinstance(top_p, bool) \
            or not isinstance(top_p, int | float):
        raise ConfigError("config seed must be a whole number and top_p a number.")
    return DecodingConfig(do_sample=True, temperature=float(temperature), top_p=float(top_p), seed=seed,
                          max_new_tokens=tokens)


@dataclass(frozen=True)
class Graded(JudgeKind):
    """A check that asks a judge model: its prompt's values for a case, and how its reply is read."""

    graded: bool = True
    max_tokens: int = 128  # the judge's default budget of new tokens for this kind

    def prepare(self, value, threshold, options) -> JudgeParams:
        text = None if value is None else text_value(value)
        provider = options.get("provider")
        if provider is not None and (not isinstance(provider, str) or not provider.strip()):
            raise ConfigError("provider must be a judge model's id, file or folder (text), e.g. "
                              "smollm2-135m-instruct.")
        refuse_server(provider)
        prompt = override(options["rubricPrompt"], self.name) if "rubricPrompt" in options else DEFAULTS[self.name]
        return JudgeParams(prompt, text, provider.strip() if provider else None,
                           judge_decoding(options.get("config"), self.max_tokens))

    def values(self, params: JudgeParams, case: Case) -> dict[str, str]:
        """The prompt's values for ``case``."""
        raise NotImplementedError

    def read(self, params: JudgeParams, replies: list[str], case: Case, threshold: float | None,
             tools: JudgeTools) -> Finding:
        """The verdict from the judge's replies (raise CheckError for one it cannot read)."""
        raise NotImplementedError

    def samples(self, params: JudgeParams) -> int:
        """Replies asked of the judge per item."""
        return 1

    def evaluate(self, params: JudgeParams, case: Case, threshold, tools) -> Finding:
        if tools is None:
            raise CheckError("a model-graded check needs a judge model; choose one (--judge MODEL, or the page's "
                             "Judge model).")
        messages = render(params.prompt, self.values(params, case))
        backend = tools.judge(params.provider)
        try:
            text = as_text(messages, backend)
            gens = backend.generate([text], params.cfg.replace(n=self.samples(params)))[0]
        except WorkbenchError as err:
            raise CheckError(f"the judge could not answer: {str(err).splitlines()[0] if str(err) else err!r}") \
                from None
        failed = next((g for g in gens if g.failed), None)
        if failed is not None:
            raise CheckError(f"the judge could not answer: {failed.error}")
        replies = [reply_start(messages) + g.text for g in gens]  # read (and kept) with its begun start
        try:
            return self.read(params, replies, case, threshold, tools)
        except CheckError as err:  # the reply it could not read is kept with the error verdict
            raise CheckError(str(err), reply="\n".join(replies)) from None


def one_line(text: str, limit: int = MAX_REASON_CHARS) -> str:
    """``text`` on one line, at most ``limit`` characters.

    >>> one_line("it is\\n  polite", 8)
    'it is p…'
    """
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _question(case: Case) -> str:
    if not case.item.input.strip():
        raise CheckError(f"item {case.item.id} has no question to show the judge.")
    return case.item.input


# ---- llm-rubric --------------------------------------------------------------------------------------------------
def first_json_object(text: str) -> dict | None:
    """The first JSON object in ``text`` (prose or a code fence around it is skipped); None when there is none.

    >>> first_json_object('```json\\n{"pass": false, "score": 0}\\n``` done')
    {'pass': False, 'score': 0}
    """
    decoder = json.JSONDecoder()
    text = text[:MAX_READ_CHARS]
    for m in re.finditer(r"\{", text):
        try:
            found, _ = decoder.raw_decode(text, m.start())
        except (ValueError, RecursionError):  # not JSON there, or nested past Python's stack (a judge's "[[[...")
            continue
        if isinstance(found, dict):
            return found
    return None


_TRUE, _FALSE = ("true", "yes", "pass", "passed", "y", "1"), ("false", "no", "fail", "failed", "n", "0")
# A small model's near-JSON: pass/score/reason as key: value pairs, keys quoted or not, Python's True/False.
_LOOSE = {"pass": re.compile(r"""\bpass(?:ed)?["']?\s*[:=]\s*["']?(?P<v>\w+)""", re.I),
          "score": re.compile(r"""\bscore["']?\s*[:=]\s*["']?(?P<v>-?\d+(?:\.\d+)?)""", re.I),
          "reason": re.compile(r"""\breason["']?\s*[:=]\s*(?P<q>["'])(?P<v>[^\n]*?)(?P=q)""", re.I)}


def read_rubric(reply: str, threshold: float | None) -> tuple[bool, float, str]:
    """(passed, score, reason) from an ``llm-rubric`` reply, or a CheckError line.

    >>> read_rubric("{'pass': True, 'score': 0.4, 'reason': 'terse'}", 0.5)
    (False, 0.4, 'terse')
    >>> read_rubric('{"score": 0.8}', None)
    (True, 0.8, 'the judge gave no reason')
    >>> read_rubric("I think it is fine.", None)
    Traceback (most recent call last):
    ...
    workbench.judging.base.CheckError: the judge's reply has no JSON object with pass or score.
    """
    found = first_json_object(reply)
    if found is None or not ({"pass", "score"} & set(found)):
        loose = {k: m["v"] for k, rx in _LOOSE.items() if (m := rx.search(reply[:MAX_READ_CHARS]))}
        found = loose if {"pass", "score"} & set(loose) else None
    if found is None:
        raise CheckError("the judge's reply has no JSON object with pass or score.")
    passed, score = _verdict(found.get("pass")), _score(found.get("score"))
    if passed is None and score is None:
        raise CheckError("the judge's reply gives neither pass nor score.")
    if passed is None:
        passed = score >= (threshold if threshold is not None else 0.5)
    if score is None:
        score = float(passed)
    if threshold is not None:
        passed = passed and score >= threshold
    reason = found.get("reason")
    reason = one_line(reason) if isinstance(reason, str) and reason.strip() else "the judge gave no reason"
    return passed, score, reason


def _verdict(value: Any) -> bool | None:
    if value is None or isinstance(value, bool):
        return value
    word = str(value).strip().lower()
    if word in _TRUE or word in _FALSE:
        return word in _TRUE
    raise CheckError(f"the judge's pass is {one_line(str(value), 40)!r}, not true or false.")


def _score(value: Any) -> float | None:
    if value is None:
        return None
    try:
        score = float(value) if not isinstance(value, bool) else math.nan
    except (TypeError, ValueError):
        score = math.nan
    if not 0.0 <= score <= 1.0:
        raise CheckError(f"the judge's score is {one_line(str(value), 40)!r}, not a number from 0 to 1.")
    return score


@dataclass(frozen=True)
class LlmRubric(Graded):
    """The judge says whether the rubric holds of the output (JSON pass / score / reason)."""

    value: str = "optional"  # the rubric; a rubricPrompt may carry it instead

    def prepare(self, value, threshold, options) -> JudgeParams:
        if (value is None or value == "") and "rubricPrompt" not in options:
            raise ConfigError("needs a value: the rubric, in plain words (e.g. 'is polite and under 50 words').")
        return super().prepare(value, threshold, options)

    def values(self, params, case):
        return {"output": case.output, "rubric": params.value or "", "input": case.item.input}

    def read(self, params, replies, case, threshold, tools):
        passed, score, reason = read_rubric(replies[0], threshold)
        return Finding(passed, score, reason, reply=replies[0])


# ---- factuality --------------------------------------------------------------------------------------------------
_LETTER = (re.compile(r"\(([A-E])\)"), re.compile(r"(?im)^\W*([A-E])\W*$"),
           re.compile(r"(?i)\b(?:category|option|answer)\b\W{0,4}(?:is\W{0,3})?\(?([A-E])\b"))


def read_category(reply: str) -> tuple[str, str]:
    """(category letter, reason) from a ``factuality`` reply: JSON ``{"category": ...}`` first, else the letter in
    parentheses, alone on a line, or after "category"/"answer"; a reply naming several (a list of the categories)
    or none is a CheckError line.

    >>> read_category('{"category": "b", "reason": "adds the year"}')
    ('B', 'adds the year')
    >>> read_category('{"category": "F"}')
    Traceback (most recent call last):
    ...
    workbench.judging.base.CheckError: the judge's category is 'F', not one of A-E.
    """
    found = first_json_object(reply)
    if found is not None and isinstance(found.get("category"), str | int):
        letter = str(found["category"]).strip().strip("()").upper()
        if letter not in CATEGORIES:
            raise CheckError(f"the judge's category is {one_line(str(found['category']), 20)!r}, not one of A-E.")
        reason = found.get("reason")
        return letter, one_line(reason) if isinstance(reason, str) and reason.strip() else ""
    for rx in _LETTER:
        letters = sorted({m.upper() for m in rx.findall(reply[:MAX_READ_CHARS])})
        if len(letters) > 1:
            raise CheckError(f"the judge's reply names several categories ({', '.join(letters)}).")
        if letters:
            return letters[0], one_line(reply)
    raise CheckError("the judge's reply names no category A-E.")


@dataclass(frozen=True)
class Factuality(Graded):
    """The judge compares the output's facts with the expected answer (the value, else the item's gold)."""

    value: str = "optional"  # the expected answer; default: the item's gold answer
    reads_gold: bool = True

    def values(self, params, case):
        ideal = params.value if params.value is not None else case.item.answer
        if not ideal.strip():
            raise CheckError(f"item {case.item.id} has no gold answer to compare with; give the check a value.")
        return {"input": _question(case), "ideal": ideal, "completion": case.output, "output": case.output}

    def read(self, params, replies, case, threshold, tools):
        letter, reason = read_category(replies[0])
        meaning, score = CATEGORIES[letter]
        return Finding(score > 0, score, f"({letter}) {reason or meaning}", reply=replies[0])


# ---- model-graded-closedqa ---------------------------------------------------------------------------------------
_VERDICT_LINE = re.compile(r"(?i)^(?:(?:final\s+)?(?:answer|verdict|conclusion)\s*[:\-]?\s*)?(Y|N|yes|no)$")


def read_yes_no(reply: str) -> bool:
    """Whether a ``model-graded-closedqa`` reply ends in Y: the last line that is only Y, N, Yes or No (markup and
    an "Answer:" before it allowed), or a CheckError line when no line is.

    >>> read_yes_no("It is short.\\n**Answer: N**\\n")
    False
    >>> read_yes_no("Yes, it is polite.")
    Traceback (most recent call last):
    ...
    workbench.judging.base.CheckError: the judge's reply has no line with only Y or N.
    """
    for line in reversed(reply[:MAX_READ_CHARS].splitlines()):
        bare = re.sub(r"[*_`'\".!()\[\]#>]", "", line).strip()
        m = _VERDICT_LINE.match(bare)
        if m is not None:
            return m[1][0].upper() == "Y"
    raise CheckError("the judge's reply has no line with only Y or N.")


@dataclass(frozen=True)
class ClosedQa(Graded):
    """The judge reasons whether the output meets the criterion, then writes Y or N."""

    max_tokens: int = 192

    def values(self, params, case):
        return {"input": _question(case), "criteria": params.value or "", "completion": case.output,
                "output": case.output}

    def read(self, params, replies, case, threshold, tools):
        ok = read_yes_no(replies[0])
        return Finding(ok, float(ok), "meets the criterion" if ok else "does not meet the criterion",
                       reply=replies[0])


# ---- answer-relevance --------------------------------------------------------------------------------------------
def read_question(reply: str) -> str:
    """The question an ``answer-relevance`` reply writes: its first non-empty line, less a "Question:" label.

    >>> read_question('\\n Question: "Where is the Louvre?"\\nAnswer: ...')
    'Where is the Louvre?'
    """
    for line in reply[:MAX_READ_CHARS].splitlines():
        line = re.sub(r"(?i)^\W*question\s*\d*\s*[:.-]\s*", "", line.strip()).strip().strip("\"'*").strip()
        if line:
            return one_line(line)
    raise CheckError("the judge wrote no question.")


@dataclass(frozen=True)
class AnswerRelevance(Graded):
    """The judge writes the question the output answers; the mean MiniLM cosine similarity of its questions to
    the item's question is the score (RAGAS' answer relevancy, as promptfoo computes it)."""

    value: str = "none"
    max_tokens: int = 48

    def samples(self, params):
        return 1 if params.cfg.greedy else SAMPLED_QUESTIONS

    def values(self, params, case):
        return {"answer": case.output, "output": case.output}

    def read(self, params, replies, case, threshold, tools):
        query = _question(case)
        questions = [read_question(r) for r in replies]
        sims = [cosine(q, (query,), tools) for q in questions]
        mean = sum(sims) / len(sims)
        ok = mean >= threshold - 1e-9
        return Finding(ok, max(0.0, min(1.0, mean)),
                       f"relevance {mean:.2f} {'≥' if ok else '<'} {threshold:g}", reply="\n".join(questions))


def judge_messages(check: Check, case: Case) -> tuple[dict[str, str], ...]:
    """The messages ``check`` would send its judge for ``case`` (before any chat template)."""
    if not isinstance(check.kind, Graded):
        raise ConfigError(f"assertion {check.type!r} asks no judge model.")
    return render(check.params.prompt, check.kind.values(check.params, case))


def judge_prompt(check: Check, case: Case, judge: Any = None) -> str:
    """The exact text ``check`` would send for ``case``: through ``judge``'s chat template when it has one, else
    the messages one after another (what a base model is given). For the page to show.

    >>> from workbench.data import Example
    >>> from workbench.judging.registry import build_check
    >>> check = build_check({"type": "llm-rubric", "value": "is polite", "rubricPrompt": "Polite? {output}"})
    >>> judge_prompt(check, Case(output="Thanks!", item=Example("1", "Say thanks", "")))
    'Polite? Thanks!\\n'
    """
    return as_text(judge_messages(check, case), judge)


def refuse_server(provider: str | None) -> None:
    """One line when a check's ``provider`` names a server: assertions come from shared files (a prompt file, a
    dataset row, a prompt set), and one naming a server would send the outputs there. The run's own judge
    (``--judge URL``, the page's Judge model) is the user's choice and may be a server.

    >>> refuse_server("smollm2-135m-instruct")
    >>> refuse_server("http://1.2.3.4:9/v1")
    Traceback (most recent call last):
    ...
    workbench.errors.ConfigError: provider 'http://1.2.3.4:9/v1' names a server; a check's provider must be a local judge model (a registry id, file or folder), since an assertion from a shared file would send your outputs there. Choose a server judge yourself with --judge URL (or the page's Judge model).
    """
    from workbench.backends.kinds import is_server

    if isinstance(provider, str) and is_server(provider.strip()):
        raise ConfigError(f"provider {provider.strip()[:100]!r} names a server; a check's provider must be a local "
                          "judge model (a registry id, file or folder), since an assertion from a shared file would "
                          "send your outputs there. Choose a server judge yourself with --judge URL (or the page's "
                          "Judge model).")


def providers(checks: Iterable[Check]) -> tuple[str, ...]:
    """The judge models ``checks`` name as ``provider`` (each once, in order): what a run checks up front."""
    return tuple(dict.fromkeys(c.params.provider for c in checks
                               if isinstance(c.kind, Graded) and c.params.provider is not None))


def check_providers(checks: Iterable[Check]) -> None:
    """One line, before any model call, for the first judge model ``checks`` name that cannot be one here (an
    unknown id, a missing file), without loading any."""
    from workbench.judging.tools import check_provider

    for provider in providers(checks):
        check_provider(provider)


register_judge(LlmRubric("llm-rubric", "a judge model says whether the output meets a rubric written in plain words",
                         threshold_range=(0.0, 1.0)))
register_judge(Factuality("factuality", "a judge model compares the output's facts with the value (default: the "
                                        "gold answer)"))
register_judge(ClosedQa("model-graded-closedqa", "a judge model says whether the output meets a criterion (Y/N)"))
register_judge(AnswerRelevance("answer-relevance", "a judge model writes the question the output answers; its "
                                                   "similarity to the item's question reaches the threshold",
                               threshold_range=(0.0, 1.0), default_threshold=0.7))
