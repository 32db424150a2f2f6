"""Evaluate prompting strategies on a labelled dataset: runs, metrics, calibration, order sensitivity.

A :class:`Strategy` is a prompt spec + how demonstrations are chosen (selector, K,
order) + decoding settings + how the answer is read: **generate** (free text, then
:func:`workbench.answers.extract`) or **score** (one :meth:`Backend.score` call with
every label word after the prompt; the pattern-verbalizer idea, never off-label).
Label scoring may be **calibrated** (Zhao et al. 2021, "Calibrate before use"): the
label probabilities of content-free inputs ("N/A", "", "[MASK]") after the same
demonstrations estimate the prompt's bias ``p_cf``; predictions are corrected with
``W = diag(p_cf)^-1``. Raw and calibrated predictions are both kept.

:func:`evaluate` runs strategies × items, writing every item's record to the
:class:`~workbench.store.Store` as soon as it is done, so an interrupted run resumes
where it stopped (pass its ``run_id``). :func:`order_sensitivity` evaluates one set of
K demonstrations under P seeded permutations (Lu et al. 2022).

    >>> parse_strategy_name("knn4")
    StrategyName(base='knn', k=4, samples=1, answer=None, calibrate=None, score_norm=None, fallback=False)
"""

from __future__ import annotations

import dataclasses
import math
import re
import statistics
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import permutations as all_permutations
from typing import TYPE_CHECKING, Any

import numpy as np

from workbench.answers import AnswerFormat, answer_trigger, is_correct, normalise, wilson_interval
from workbench.data import Example, Pool
from workbench.decoding import DecodingConfig
from workbench.errors import ConfigError, DataError
from workbench.prompts import (
    ANSWER_MAX_NEW_TOKENS,
    PromptSpec,
    answer_prompt,
    fit_to_window,
    next_question_stops,
    query_letters,
    reserved_tokens,
    run_prompt,
)
from workbench.stats import PairedTest, mcnemar, paired_tests  # noqa: F401 (moved; old imports work)

if TYPE_CHECKING:
    from workbench.backends import Backend
    from workbench.retrieval import Embedder, PoolIndex
    from workbench.store import Store

#: How a strategy reads the answer.
ANSWER_MODES = ("generate", "score")
#: How label scores are compared: summed log-probabilities ("acc" in lm-evaluation-harness), or divided
#: by the label word's tokens or UTF-8 bytes ("acc_norm"-style, for label words of different lengths).
SCORE_NORMS = ("sum", "token", "byte")
#: Strategy-name modifiers that choose a score normalisation.
NORM_MODIFIERS = {"norm": "byte", "norm_byte": "byte", "norm_token": "token", "sum": "sum"}
#: Content-free inputs of contextual calibration (Zhao et al. 2021, Section 5).
CONTENT_FREE_INPUTS = ("N/A", "", "[MASK]")
#: Demonstrations when a few-shot name gives no number ("knn" = "knn4").
DEFAULT_K = 4
#: Chain-of-thought exemplars when "manualcot" / "autocot" gives no number (Wei et al. 2022; Auto-CoT k=8).
DEFAULT_COT_K = 8
#: Token budget of a chain of thought (Kojima et al. 2022 give the reasoning call 128 tokens).
REASONING_MAX_NEW_TOKENS = 128
#: Decoding of a direct answer: greedy (deterministic), a short budget.
ANSWER_DECODING = DecodingConfig(max_new_tokens=ANSWER_MAX_NEW_TOKENS)
#: Self-consistency sampling temperature (Wang et al. 2022 use T=0.7 with GPT-3, no top-k).
SC_TEMPERATURE = 0.7
#: Base names the strategy parser knows, with the retrieval selector each uses (None: no demonstrations).
BASES: dict[str, str | None] = {
    "zero": None,
    "random": "random",
    "knn": "knn",
    "diverse": "cluster",
    "cluster": "cluster",
    "bm25": "bm25",
    "mmr": "mmr",
    "balanced": "label_balanced",
    "zscot": None,
    "manualcot": "fixed",
    "autocot": "autocot",
    "sc": None,
}
#: Order of demonstrations for each selector: similarity-based ones put the most similar last.
DEFAULT_ORDER = {"random": "as_selected", "fixed": "as_selected", "autocot": "as_selected",
                 "label_balanced": "as_selected"}
#: Record fields shown in per-item tables, in order.
RECORD_FIELDS = ("id", "input", "prompt", "output", "extracted", "gold", "correct", "rule", "seconds")
#: The marker that stands for the query while a content-free prompt is rendered (the renderer refuses "").
_CF_MARK = "\u2063CONTENT-FREE\u2063"
#: A gold answer that is a number: "7", "-3", "1,250.50", "$4".
_NUMBER = re.compile(r"-?\$?(\d{1,3}(,\d{3})+|\d+)(\.\d+)?|-?\.\d+")


# --------------------------------------------------------------------------- strategies

@dataclass(frozen=True)
class Strategy:
    """One way to prompt: spec, demonstration choice, decoding and how the answer is read."""

    name: str  # unique within a run; shown in tables and charts
    spec: PromptSpec  # templates, reasoning mode, answer format and labels
    selector: str | None = None  # None = zero-shot; a retrieval selector name, "fixed" (``demos``) or "autocot"
    k: int = 0  # demonstrations per prompt
    order: str = "similar_last"  # a retrieval.ORDERS name
    decoding: DecodingConfig = ANSWER_DECODING  # greedy, a short answer
    answer: str = "generate"  # one of ANSWER_MODES
    label_words: tuple[tuple[str, str], ...] = ()  # (label, word scored after the prompt); () = " " + label
    calibrate: bool = False  # contextual calibration of label scores (score mode only)
    score_norm: str = "sum"  # label scores: one of SCORE_NORMS (sum of log-probs, per token, per byte)
    samples: int = 1  # self-consistency: sampled reasoning paths, majority vote (1 = off)
    seed: int = 0  # random selector seed; sampling seeds derive from decoding.seed
    demos: tuple[Example, ...] = ()  # the demonstrations of a "fixed" selector, in order
    fallback: bool = False  # Auto-CoT: keep a flagged fallback demo for a cluster where no candidate passes

    def __post_init__(self) -> None:
        object.__setattr__(self, "label_words", tuple((str(a), str(b)) for a, b in dict(self.label_words).items()))
        object.__setattr__(self, "demos", tuple(self.demos))
        if not self.name.strip():
            raise ConfigError("A strategy needs a name.")
        if self.answer not in ANSWER_MODES:
            raise ConfigError(f"Unknown answer mode {self.answer!r}; use 'generate' or 'score'.")
        if self.k < 0:
            raise ConfigError(f"{self.name}: K must be 0 or more, not {self.k}.")
        if self.samples < 1:
            raise ConfigError(f"{self.name}: self-consistency needs at least 1 sample, not {self.samples}.")
        if self.answer == "score":
            if not self.spec.labels:
                raise ConfigError(f"{self.name}: label scoring needs a fixed label set; use --answer generate "
                                  "for this dataset.")
            if self.spec.reasoning != "none" or self.samples > 1:
                raise ConfigError(f"{self.name}: label scoring reads one answer after the prompt; chain-of-thought "
                                  "and self-consistency need --answer generate.")
            unknown = [lab for lab, _ in self.label_words if lab not in self.spec.labels]
            if unknown:
                raise ConfigError(f"{self.name}: label words given for {unknown}, which are not labels "
                                  f"{list(self.spec.labels)}.")
            if any(not w.strip() for _, w in self.label_words):
                raise ConfigError(f"{self.name}: every label word must be non-empty text.")
        if self.score_norm not in SCORE_NORMS:
            raise ConfigError(f"{self.name}: unknown score normalisation {self.score_norm!r}; use "
                              f"{', '.join(SCORE_NORMS)}.")
        if self.score_norm != "sum" and self.answer != "score":
            raise ConfigError(f"{self.name}: length normalisation applies to label scores; add +score "
                              "(or --answer score).")
        if self.calibrate and self.answer != "score":
            raise ConfigError(f"{self.name}: calibration corrects label scores; add +score (or --answer score).")

    @property
    def words(self) -> dict[str, str]:
        """Label -> the continuation scored for it (default: a space and the label)."""
        given = dict(self.label_words)
        return {lab: given.get(lab, " " + lab) for lab in self.spec.labels}

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able dict (run metadata in the store)."""
        return {
            "name": self.name, "spec": self.spec.to_dict(), "selector": self.selector, "k": self.k,
            "order": self.order, "decoding": self.decoding.to_dict(), "answer": self.answer,
            "label_words": [list(p) for p in self.label_words], "calibrate": self.calibrate,
            "score_norm": self.score_norm,
            "samples": self.samples, "seed": self.seed, "demos": [d.to_dict() for d in self.demos],
            "fallback": self.fallback,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Strategy:
        """Inverse of :meth:`to_dict` (resuming a stored run)."""
        d = dict(data)
        d["spec"] = PromptSpec.from_dict(d["spec"])
        d["decoding"] = DecodingConfig.from_dict(d["decoding"])
        d["label_words"] = tuple(tuple(p) for p in d.get("label_words", ()))
        d["demos"] = tuple(_example(row) for row in d.get("demos", ()))
        return cls(**d)


def _example(row: Mapping[str, Any]) -> Example:
    return Example(id=row["id"], input=row["question"], answer=row["answer"], rationale=row.get("rationale"),
                   label=row.get("label"), choices=row.get("choices"))


@dataclass(frozen=True)
class StrategyName:
    """A parsed short name such as ``knn4``, ``bm25_4``, ``manualcot+sc5`` or ``knn4+score+cal``."""

    base: str  # a key of BASES
    k: int  # demonstrations (0 for zero-shot styles)
    samples: int  # self-consistency samples
    answer: str | None  # "generate" / "score" when the name says so, else None (the run's default)
    calibrate: bool | None  # True when the name says "+cal", else None (the run's default)
    score_norm: str | None = None  # a SCORE_NORMS value when the name says "+norm..." , else the run's default
    fallback: bool = False  # "+fallback": Auto-CoT keeps a flagged demo for clusters where no candidate passes


def _split_base(part: str) -> tuple[str, str] | None:
    """("bm25", "4") for "bm25_4": the longest known base the part starts with, and the number after it."""
    for base in sorted(BASES, key=len, reverse=True):
        if part.startswith(base):
            rest = part[len(base):].removeprefix("_")
            if rest == "" or rest.isdigit():
                return base, rest
    return None


def parse_strategy_name(name: str) -> StrategyName:
    """``BASE[K]`` then ``+`` modifiers: ``scN`` (self-consistency), ``score``/``gen``, ``cal``."""
    parts = [p.strip().lower() for p in name.strip().split("+")]
    if not parts or not parts[0]:
        raise ConfigError("Empty strategy name; use e.g. zero, knn4, random4, diverse4, bm25_4, zscot, sc5.")
    split = _split_base(parts[0])
    if split is None:
        raise ConfigError(f"Unknown strategy {name!r}; start it with one of {', '.join(BASES)} (e.g. knn4).")
    base, n = split
    samples, k = 1, 0
    if base == "sc":
        samples = int(n) if n else 5
        if samples < 2:
            raise ConfigError(f"{name!r}: self-consistency needs at least 2 samples (e.g. sc5).")
    elif base in ("zero", "zscot"):
        if n:
            raise ConfigError(f"{name!r}: {base} takes no number; use e.g. knn{n} for {n} demonstrations.")
    else:
        k = int(n) if n else (DEFAULT_COT_K if base in ("manualcot", "autocot") else DEFAULT_K)
        if k < 1:
            raise ConfigError(f"{name!r}: K must be at least 1; use 'zero' for no demonstrations.")
    answer: str | None = None
    calibrate: bool | None = None
    norm: str | None = None
    fallback = False
    for mod in parts[1:]:
        if mod in ("score", "gen", "generate"):
            answer = "score" if mod == "score" else "generate"
        elif mod in ("cal", "calibrate", "calibrated"):
            calibrate = True
        elif mod == "fallback" and base == "autocot":
            fallback = True
        elif mod in NORM_MODIFIERS:
            norm = NORM_MODIFIERS[mod]
            answer = answer or "score"
        elif (sc := re.fullmatch(r"sc(\d+)", mod)) and int(sc[1]) >= 2:
            samples = int(sc[1])
        else:
            raise ConfigError(f"Unknown modifier {mod!r} in {name!r}; use scN, score, gen, cal, norm, norm_token "
                              "(or fallback after autocot).")
    return StrategyName(base, k, samples, answer, calibrate, norm, fallback)


def with_direct_trigger(spec: PromptSpec) -> PromptSpec:
    """Kojima et al.'s direct zero-shot baseline: a Q/A prompt whose answer starts with the format's answer
    trigger ("A: The answer (arabic numerals) is"), so the first number after it is the answer. Specs with
    their own answer prefix, or not in the Q/A layout, and label/free formats stay as they are."""
    fmt = AnswerFormat(spec.answer_format)
    if fmt not in (AnswerFormat.NUMBER, AnswerFormat.CHOICE, AnswerFormat.YES_NO) or spec.answer_prefix:
        return spec
    if not spec.query_template.rstrip().endswith("A:"):
        return spec
    return spec.replace(answer_prefix=" " + answer_trigger(fmt, query_letters(spec), direct=True))


def _has_rationales(pool: Pool | None) -> bool:
    return pool is not None and any((ex.rationale or "").strip() for ex in pool)


def make_strategy(
    name: str,
    spec: PromptSpec,
    pool: Pool | None = None,
    *,
    answer: str = "generate",
    calibrate: bool = False,
    label_words: Mapping[str, str] | None = None,
    k: int | None = None,
    seed: int = 0,
    score_norm: str = "sum",
) -> Strategy:
    """The strategy a short name describes, on top of a dataset's base ``spec``.

    ``answer``/``calibrate`` are the run's defaults; a name's ``+score``/``+gen``/``+cal``
    overrides them. Chain-of-thought strategies always generate. ``k`` overrides the
    number in the name. ``pool`` supplies Manual-CoT exemplars (its first K rows with a
    rationale).
    """
    parsed = parse_strategy_name(name)
    base, samples = parsed.base, parsed.samples
    if base == "sc":  # self-consistency over a chain of thought: manual if the pool has rationales
        base = "manualcot" if _has_rationales(pool) else "zscot"
    n = parsed.k if parsed.base != "sc" else (DEFAULT_COT_K if base == "manualcot" else 0)
    if k is not None and n:
        n = k
    reasoning = {"zscot": "zero_shot_cot", "manualcot": "manual_cot", "autocot": "auto_cot"}.get(base, "none")
    cot = reasoning != "none" or samples > 1
    mode = parsed.answer or ("generate" if cot else answer)
    cal = bool(parsed.calibrate if parsed.calibrate is not None else (calibrate and mode == "score"))
    strat_spec = spec.replace(reasoning=reasoning, stop=next_question_stops(spec)) if reasoning != "none" else spec
    if base == "zero" and mode == "generate":
        strat_spec = with_direct_trigger(strat_spec)
    cfg = DecodingConfig(max_new_tokens=REASONING_MAX_NEW_TOKENS if reasoning != "none" else ANSWER_MAX_NEW_TOKENS)
    if samples > 1:
        cfg = cfg.replace(do_sample=True, temperature=SC_TEMPERATURE, n=samples, seed=seed)
    selector = BASES[base]
    demos: tuple[Example, ...] = ()
    if base == "manualcot":
        if not _has_rationales(pool):
            raise ConfigError(f"{name!r} needs demonstrations with a rationale; the pool has none (use zscot or "
                              "autocot, or a pool with a rationale column).")
        demos = tuple(ex for ex in pool if (ex.rationale or "").strip())[: n + 1]  # one spare: the query may be one
    return Strategy(
        name=name.strip(), spec=strat_spec, selector=selector, k=n, order=DEFAULT_ORDER.get(selector, "similar_last"),
        decoding=cfg, answer=mode, label_words=tuple((label_words or {}).items()) if mode == "score" else (),
        calibrate=cal, samples=samples, seed=seed, demos=demos,
        score_norm=(parsed.score_norm or score_norm) if mode == "score" else "sum", fallback=parsed.fallback,
    )


def parse_strategies(text: str | Sequence[str], spec: PromptSpec, pool: Pool | None = None, **options: Any
                     ) -> list[Strategy]:
    """Comma-separated short names (or a list of them) -> strategies; names must be unique."""
    names = [n.strip() for n in (text.split(",") if isinstance(text, str) else text) if n.strip()]
    if not names:
        raise ConfigError("No strategies given; use e.g. --strategies zero,knn4,random4.")
    seen = [n.lower() for n in names]
    dupes = sorted({n for n in seen if seen.count(n) > 1})
    if dupes:
        raise ConfigError(f"Strategy {dupes[0]!r} is listed twice; give each strategy once.")
    return [make_strategy(n, spec, pool, **options) for n in names]


#: The name of the dataset's own template (:func:`default_spec`) among prompt variants.
INFERRED = "inferred"


@dataclass(frozen=True)
class PromptVariant:
    """A prompt spec evaluated under every chosen strategy (a spec file, the Prompt Builder's prompt, ...)."""

    name: str  # prefix of its strategies' names ("a/knn4"); none while the inferred template runs alone
    spec: PromptSpec
    demos: tuple[Example, ...] = ()  # the demonstrations it was built with, run "as built" when asked


def cross_variants(variants: Sequence[PromptVariant], names: str | Sequence[str], pool: Pool | None,
                   as_built: bool = False, **options: Any) -> list[Strategy]:
    """Every variant × every strategy name (the one place the CLI and the Evaluate page cross them).

    Names get the variant as a prefix ("a/knn4") unless the inferred template runs alone; variant names
    must be distinct. ``as_built`` adds ``builtK``: a variant's own K demonstrations, fixed, in its order.
    Label words apply to the variants that have those labels.
    """
    seen = [v.name for v in variants]
    dupes = sorted({n for n in seen if seen.count(n) > 1})
    if dupes:
        raise ConfigError(f"Two prompt variants are both named {dupes[0]!r}; rename one.")
    prefix = seen != [INFERRED]
    words = dict(options.pop("label_words", None) or {})
    out: list[Strategy] = []
    for v in variants:
        opts = {**options, "label_words": {lab: w for lab, w in words.items() if lab in v.spec.labels}}
        strategies = parse_strategies(names, v.spec, pool, **opts) if names else []
        if as_built and v.demos:
            base = make_strategy(f"random{len(v.demos)}", v.spec, pool, **opts)
            strategies.append(dataclasses.replace(base, name=f"built{len(v.demos)}", selector="fixed",
                                                  demos=tuple(v.demos), order="as_selected"))
        out += [dataclasses.replace(s, name=f"{v.name}/{s.name}") if prefix else s for s in strategies]
    return out


def parse_label_words(text: str) -> dict[str, str]:
    """``"positive= great, negative= terrible"`` -> {"positive": " great", "negative": " terrible"}.

    The word is taken exactly after "=" (so a leading space is kept); ``\\n`` stands for a newline.
    """
    out: dict[str, str] = {}
    for item in (p for p in text.split(",") if p.strip()):
        if "=" not in item:
            raise ConfigError(f"Label word {item.strip()!r} needs the form label=word, e.g. positive= great.")
        label, word = item.split("=", 1)
        word = word.rstrip().replace("\\n", "\n")
        if not label.strip() or not word.strip():
            raise ConfigError(f"Label word {item.strip()!r} needs a label and a word, e.g. positive= great.")
        out[label.strip()] = word
    return out


# --------------------------------------------------------------------------- the dataset's base spec

def infer_format(dataset: Pool) -> tuple[AnswerFormat, tuple[str, ...]]:
    """The answer format the gold answers suggest, and its label set (letters for choices)."""
    answers = [ex.answer for ex in dataset]
    if any(ex.choices for ex in dataset):
        letters = dict.fromkeys(k for ex in dataset for k in (ex.choices or {}))
        return AnswerFormat.CHOICE, tuple(letters)
    labels = dataset.labels()
    if labels and all(a in labels for a in answers):
        if {a.casefold() for a in answers} <= {"yes", "no"}:
            return AnswerFormat.YES_NO, ()
        return AnswerFormat.LABEL, labels
    if answers and all(_NUMBER.fullmatch(a.strip()) for a in answers):
        return AnswerFormat.NUMBER, ()
    return AnswerFormat.FREE, ()


def default_spec(dataset: Pool, pool: Pool | None = None) -> PromptSpec:
    """A plain prompt spec for a dataset: Q/A lines, or Input/Label lines with an instruction for labels."""
    fmt, labels = infer_format(dataset)
    rationales = [ex.rationale for ex in (pool or dataset) if ex.rationale]
    cot_demo = "Q: {input}\nA: {rationale} The answer is {answer}."
    if rationales and all(re.search(r"answer is\s*\S+\.?\s*$", r, re.IGNORECASE) for r in rationales):
        cot_demo = "Q: {input}\nA: {rationale}"  # the rationales already end with "The answer is X."
    if fmt is AnswerFormat.LABEL:
        return PromptSpec(
            instruction=f"Classify each input as one of: {', '.join(labels)}.",
            demo_template="Input: {input}\nLabel: {answer}", query_template="Input: {input}\nLabel:",
            cot_demo_template="Input: {input}\nLabel: {rationale} The answer is {answer}.",
            answer_format=fmt.value, labels=labels, stop=("\n",),
        )
    if fmt is AnswerFormat.CHOICE:
        return PromptSpec(demo_template="Q: {input} Answer Choices: {choices}\nA: {answer}",
                          query_template="Q: {input} Answer Choices: {choices}\nA:",
                          cot_demo_template="Q: {input} Answer Choices: {choices}\nA: {rationale} The answer is "
                                            "{answer}.",
                          answer_format=fmt.value, labels=labels, stop=("\n",))
    return PromptSpec(cot_demo_template=cot_demo, answer_format=fmt.value, stop=("\n",))


# --------------------------------------------------------------------------- calibration (pure)

def label_probs(logliks: Sequence[float]) -> list[float]:
    """Log-likelihoods of the label words -> probabilities normalised over the label set."""
    top = max(logliks)
    weights = [math.exp(x - top) for x in logliks]
    total = sum(weights)
    return [w / total for w in weights]


def content_free_prior(logliks: Sequence[Sequence[float]]) -> list[float]:
    """``p_cf``: the label probabilities of the content-free inputs, averaged, normalised.

    As in Zhao et al.'s code: the raw probabilities are averaged over the inputs and then
    normalised (one shared shift before exponentiating changes nothing after normalising).
    """
    if not logliks:
        raise ConfigError("Calibration needs at least one content-free input.")
    top = max(max(row) for row in logliks)
    rows = [[math.exp(x - top) for x in row] for row in logliks]
    mean = [sum(col) / len(rows) for col in zip(*rows, strict=True)]
    total = sum(mean)
    return [m / total for m in mean]


def calibrate(probs: Sequence, p_cf: Sequence) -> list:
    """Contextual calibration: ``W p`` with ``W = diag(p_cf)^-1`` (b = 0), renormalised to sum to 1.

    Pure arithmetic, so exact inputs (``fractions.Fraction``) give exact outputs.
    """
    if len(probs) != len(p_cf):
        raise ConfigError(f"{len(probs)} label probabilities but {len(p_cf)} content-free ones.")
    if any(q <= 0 for q in p_cf):
        raise ConfigError("A content-free probability is 0; calibration would divide by zero.")
    scaled = [p / q for p, q in zip(probs, p_cf, strict=True)]
    total = sum(scaled)
    return [s / total for s in scaled]


def argmax(values: Sequence) -> int:
    """Index of the largest value; ties go to the first (label order)."""
    return max(range(len(values)), key=lambda i: (values[i], -i))


# --------------------------------------------------------------------------- metrics (pure)

@dataclass(frozen=True)
class StrategySummary:
    """Accuracy of one strategy with its 95% Wilson interval (raw too, for calibrated strategies)."""

    strategy: str
    n: int
    correct: int
    accuracy: float
    ci_low: float
    ci_high: float
    seconds: float  # summed per-item wall time
    raw_correct: int | None = None  # calibrated strategies: correct before calibration
    raw_accuracy: float | None = None
    raw_ci_low: float | None = None
    raw_ci_high: float | None = None
    fewer_demos: int = 0  # items that ran with fewer demonstrations than asked (dropped to fit the window)

    @property
    def items_per_second(self) -> float:
        return self.n / self.seconds if self.seconds > 0 else 0.0

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["items_per_second"] = round(self.items_per_second, 3)
        return d


def summarize(records: Sequence[Mapping[str, Any]]) -> list[StrategySummary]:
    """Per strategy (in first-seen order): accuracy, Wilson CI, time; raw accuracy where calibrated."""
    groups: dict[str, list[Mapping[str, Any]]] = {}
    for r in records:
        groups.setdefault(r["strategy"], []).append(r)
    out = []
    for name, rows in groups.items():
        n, correct = len(rows), sum(bool(r.get("correct")) for r in rows)
        lo, hi = wilson_interval(correct, n)
        extra: dict[str, Any] = {}
        if rows and all("raw_correct" in r for r in rows):
            rc = sum(bool(r["raw_correct"]) for r in rows)
            rlo, rhi = wilson_interval(rc, n)
            extra = {"raw_correct": rc, "raw_accuracy": rc / n, "raw_ci_low": rlo, "raw_ci_high": rhi}
        extra["fewer_demos"] = sum(1 for r in rows if r.get("dropped"))
        out.append(StrategySummary(name, n, correct, correct / n if n else 0.0, lo, hi,
                                   round(sum(float(r.get("seconds", 0.0)) for r in rows), 4), **extra))
    return out


def chart_rows(summaries: Sequence[StrategySummary]) -> list[dict[str, Any]]:
    """One bar per strategy (two for calibrated ones: raw and calibrated), with CI bounds."""
    rows = []
    for s in summaries:
        if s.raw_accuracy is not None:
            rows.append({"strategy": f"{s.strategy} (raw)", "accuracy": s.raw_accuracy, "ci_low": s.raw_ci_low,
                         "ci_high": s.raw_ci_high, "n": s.n})
        rows.append({"strategy": s.strategy, "accuracy": s.accuracy, "ci_low": s.ci_low, "ci_high": s.ci_high,
                     "n": s.n})
    return rows


def item_table(records: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """One row per item: id, input, gold, then each strategy's answer and whether it was right."""
    rows: dict[int, dict[str, Any]] = {}
    for r in records:
        row = rows.setdefault(r["item_index"], {"item": r["item_index"], "id": r.get("id"), "input": r.get("input"),
                                                 "gold": r.get("gold")})
        row[f"{r['strategy']}"] = r.get("extracted")
        row[f"{r['strategy']} ✓"] = bool(r.get("correct"))
    return [rows[i] for i in sorted(rows)]


def disagreements(records: Sequence[Mapping[str, Any]], by: str = "answer") -> list[int]:
    """Item indexes where the strategies' answers differ (``by="answer"``, normalised) or where some
    strategies are right and others wrong (``by="correct"``). Items run by one strategy only never count."""
    if by not in ("answer", "correct"):
        raise ConfigError(f"Disagreement is by 'answer' or 'correct', not {by!r}.")
    seen: dict[int, list] = {}
    for r in records:
        value = bool(r.get("correct")) if by == "correct" else normalise(r.get("extracted"), r.get("format", "free"))
        seen.setdefault(r["item_index"], []).append(value)
    return sorted(i for i, values in seen.items() if len(values) > 1 and len(set(values)) > 1)


def spread(accuracies: Sequence[float]) -> dict[str, float]:
    """Mean, sample standard deviation (n-1; 0 for one value), min and max of accuracies."""
    if not accuracies:
        raise ConfigError("No accuracies to summarise.")
    values = [float(a) for a in accuracies]
    return {"mean": statistics.fmean(values), "std": statistics.stdev(values) if len(values) > 1 else 0.0,
            "min": min(values), "max": max(values), "n": len(values)}


def seeded_permutations(k: int, count: int, seed: int = 0) -> list[tuple[int, ...]]:
    """``count`` distinct permutations of ``range(k)`` (fewer when k! is smaller), drawn with a local RNG."""
    total = math.factorial(k)
    if count >= total:
        perms = list(all_permutations(range(k)))
        rng = np.random.default_rng(seed)
        return [perms[i] for i in rng.permutation(total)]
    rng = np.random.default_rng(seed)
    out: list[tuple[int, ...]] = []
    while len(out) < count:
        p = tuple(int(i) for i in rng.permutation(k))
        if p not in out:
            out.append(p)
    return out


# --------------------------------------------------------------------------- the runner

@dataclass(frozen=True)
class Progress:
    """Where a run is: items done (over all strategies), the current strategy, time and ETA."""

    done: int
    total: int
    strategy: str
    elapsed_s: float  # this session's wall time (resumed items excluded)
    eta_s: float | None  # estimated seconds left; None until one item has run
    run_id: int | None = None  # the stored run (a page keeps it to offer "resume" after a cancel)

    @property
    def fraction(self) -> float:
        return self.done / self.total if self.total else 1.0


@dataclass(frozen=True)
class EvalRun:
    """A finished (or cancelled) run: its id in the store, status and per-strategy summaries."""

    run_id: int
    status: str  # "finished" or "cancelled"
    summaries: tuple[StrategySummary, ...]
    records: tuple[dict, ...] = field(repr=False)


def _key(text: str) -> str:
    return " ".join(text.split()).casefold()


def content_free_prompt(strategy: Strategy, demos: Sequence[Example], content_free: str, backend: Backend) -> str:
    """The prompt with ``content_free`` in place of the query, after the same demonstrations."""
    text = fit_to_window(strategy.spec, demos, _CF_MARK, backend, _label_budget(strategy, backend)).text
    return text.replace(_CF_MARK, content_free)


def _label_budget(strategy: Strategy, backend: Backend) -> int:
    return max(backend.count_tokens(w) for w in strategy.words.values())  # counts a BOS too: one spare


def _verbalize(demos: Sequence[Example], words: Mapping[str, str]) -> tuple[Example, ...]:
    """Demonstrations showing the label word (stripped) in place of the label, as scoring expects."""
    out = []
    for d in demos:
        label = d.answer if d.answer in words else d.label
        if label in words and words[label].strip() != d.answer:
            d = dataclasses.replace(d, answer=words[label].strip())
        out.append(d)
    return tuple(out)


class _Runner:
    """Runs one strategy item by item; holds its selector and the calibration cache."""

    def __init__(self, strategy: Strategy, pool: Pool, backend: Backend, index: PoolIndex | None):
        self.s, self.pool, self.backend = strategy, pool, backend
        self.selector = None
        if strategy.selector not in (None, "fixed", "autocot") and strategy.k:
            from workbench.retrieval import make_selector

            self.selector = make_selector(strategy.selector, index, seed=strategy.seed)
        self._priors: dict[tuple, list[float]] = {}
        self._labels = [ex.label for ex in pool]

    def demos_for(self, query: Example) -> tuple[tuple[Example, ...], tuple[float, ...] | None, str]:
        """Demonstrations for a query (never the query itself), their relevance scores, and why."""
        s = self.s
        if s.k == 0 or s.selector is None:
            return (), None, "zero-shot"
        if s.selector in ("fixed", "autocot"):
            demos = tuple(d for d in s.demos if _key(d.input) != _key(query.input))[: s.k]
            return demos, None, "fixed demonstrations"
        from workbench.retrieval import order

        sel = order(self.selector.select(query.input, s.k), s.order, seed=s.seed,
                    labels=self._labels)
        return tuple(self.pool[i] for i in sel.indices), sel.scores, sel.reason

    def run(self, index: int, query: Example) -> dict[str, Any]:
        t0 = time.perf_counter()
        demos, scores, reason = self.demos_for(query)
        if self.s.answer == "score":
            record = self._score(query, demos, scores)
        elif self.s.samples > 1:
            record = self._self_consistency(index, query, demos, scores)
        else:
            run = run_prompt(self.s.spec, demos, query, self.backend, self.s.decoding, scores=scores)
            output = run.stages[-1].output
            if len(run.stages) == 2:  # Zero-shot-CoT: the reasoning, the answer trigger, then the answer
                output = answer_prompt(self.s.spec, "", run.stages[0].output, query) + output
            record = {"prompt": run.rendered.text, "output": output, "extracted": run.answer,
                      "rule": run.extraction.rule, "dropped": run.rendered.dropped,
                      "demos": [d.id for d in run.rendered.demos],
                      "tokens": {"prompt": run.rendered.tokens,
                                 "completion": sum(st.generation.completion_tokens for st in run.stages)}}
        fmt = self.s.spec.answer_format
        record["correct"] = is_correct(record["extracted"], query.answer, fmt)
        if "raw_extracted" in record:
            record["raw_correct"] = is_correct(record["raw_extracted"], query.answer, fmt)
        record.setdefault("demos", [d.id for d in demos])
        return {"id": query.id, "input": query.input, **record, "gold": query.answer, "format": fmt,
                "selection": reason, "seconds": round(time.perf_counter() - t0, 4)}

    def _label_scores(self, prompt: str) -> list[float]:
        """One score per label word after ``prompt``: summed log-probabilities, or per token / per byte."""
        details = self.backend.score_details(prompt, list(self.s.words.values()))
        return [d.normalised(self.s.score_norm) for d in details]

    def _score(self, query: Example, demos: tuple[Example, ...], scores) -> dict[str, Any]:
        words = self.s.words
        labels = list(words)
        demos = _verbalize(demos, words)
        rendered = fit_to_window(self.s.spec, demos, query, self.backend, _label_budget(self.s, self.backend),
                                 scores)
        logliks = self._label_scores(rendered.text)
        probs = label_probs(logliks)
        raw = labels[argmax(probs)]
        rule = "label_score" if self.s.score_norm == "sum" else f"label_score_per_{self.s.score_norm}"
        record: dict[str, Any] = {
            "prompt": rendered.text, "output": " ".join(f"{lab}: {ll:.3f}" for lab, ll in zip(labels, logliks, strict=True)),
            "extracted": raw, "rule": rule, "dropped": rendered.dropped,
            "demos": [d.id for d in rendered.demos], "logliks": dict(zip(labels, logliks, strict=True)),
            "probs": dict(zip(labels, probs, strict=True)),
        }
        if self.s.calibrate:
            p_cf = self._prior(rendered.demos)
            cal = calibrate(probs, p_cf)
            record.update({"raw_extracted": raw, "extracted": labels[argmax(cal)], "rule": f"calibrated_{rule}",
                           "p_cf": dict(zip(labels, p_cf, strict=True)), "calibrated_probs": dict(zip(labels, cal, strict=True))})
        return record

    def _prior(self, demos: tuple[Example, ...]) -> list[float]:
        key = tuple(d.id for d in demos)
        if key not in self._priors:
            rows = [self._label_scores(content_free_prompt(self.s, demos, cf, self.backend))
                    for cf in CONTENT_FREE_INPUTS]
            self._priors[key] = content_free_prior(rows)
        return self._priors[key]

    def _self_consistency(self, index: int, query: Example, demos, scores) -> dict[str, Any]:
        from workbench.consistency import self_consistency

        spec, base = self.s.spec, self.s.decoding
        # Seeds depend on the item, not on call order: a resumed run samples the same paths.
        cfg = base.replace(seed=(base.seed or 0) + index * self.s.samples)
        rendered = fit_to_window(spec, demos, query, self.backend, reserved_tokens(spec, cfg, self.backend, query),
                                 scores)
        result = self_consistency(spec, rendered.text, self.backend, cfg, query=query)
        outputs = [p.text for p in result.paths]
        return {"prompt": rendered.text, "output": outputs[0], "extracted": result.winner, "rule": "majority_vote",
                "samples": [p.raw_answer for p in result.paths], "agreement": round(result.vote.agreement, 4),
                "outputs": outputs, "dropped": rendered.dropped, "demos": [d.id for d in rendered.demos]}


def needs_index(strategies: Sequence[Strategy]) -> bool:
    """True when a strategy selects demonstrations by embedding (or Auto-CoT clusters): the pool must be indexed."""
    return any((s.selector not in (None, "fixed", "autocot") and s.k) or (s.selector == "autocot" and not s.demos)
               for s in strategies)


def prepare_strategies(
    strategies: Sequence[Strategy],
    pool: Pool,
    backend: Backend,
    index_fn: Callable[[], PoolIndex],
    progress: Callable[[int, int], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> list[Strategy]:
    """Fill in demonstrations that must be built before a run: Auto-CoT writes its rationales here."""
    out = []
    for s in strategies:
        if s.selector == "autocot" and not s.demos:
            from workbench.autocot import AutoCoTConfig, build_demos, task_for, zero_shot_cot_reasoner

            index = index_fn()
            reason = zero_shot_cot_reasoner(backend, s.spec.answer_format, labels=s.spec.labels)
            # The reference's per-task preset (clusters, steps); K from the strategy's name.
            cfg = AutoCoTConfig.for_task(task_for(pool.name), k=s.k, seed=s.seed, fallback=s.fallback)
            result = build_demos(list(pool), index.vectors, reason, cfg, progress=progress, should_stop=should_stop)
            s = dataclasses.replace(s, demos=tuple(result.examples()))
        out.append(s)
    return out


def run_meta(dataset: Pool, pool: Pool, strategies: Sequence[Strategy], backend: Backend,
             limit: int | None, embedder: str | None = None, store: Store | None = None) -> dict[str, Any]:
    """What a run is: model, backend, dataset and pool (name, size, hash), strategies, versions, and the
    manifest that makes it reproducible (package versions, model file sha256, embedder, index kind, seeds).

    ``embedder`` names the embedder used; by default the workbench's own when a strategy needs one.
    The model's sha256 is :func:`workbench.cache.model_identity`'s (remembered in ``store`` when given).
    """
    import os
    import platform

    import workbench
    from workbench.cache import model_identity
    from workbench.report import package_versions

    indexed = needs_index(strategies)
    if indexed:
        from workbench.retrieval import DEFAULT_EMBEDDER, index_kind
    model_path = getattr(getattr(backend, "spec", None), "path", None)
    # Only a real file, folder or server is hashed (a test double's empty path would mean the current folder).
    known = backend.name == "openai-compatible" or bool(model_path and os.path.exists(model_path))
    identity = model_identity(backend, store) if known else None
    seeds = sorted({s.seed for s in strategies} | {s.decoding.seed for s in strategies if s.decoding.seed is not None})
    return {
        "kind": "evaluate", "model": backend.spec.id, "backend": backend.name,
        "dataset": {"name": dataset.name, "size": len(dataset), "hash": dataset.content_hash},
        "pool": {"name": pool.name, "size": len(pool), "hash": pool.content_hash},
        "limit": limit, "strategies": [s.to_dict() for s in strategies],
        "versions": {"workbench": workbench.__version__, "python": platform.python_version()},
        "manifest": {
            "packages": {"workbench": workbench.__version__, **package_versions()},
            "python": platform.python_version(),
            "model_file": os.path.basename(model_path) if model_path else None,  # no home folder in a shared file
            "model_sha256": identity.removeprefix("sha256:") if identity and identity.startswith("sha256:") else None,
            "model_identity": identity,  # sha256:<hex>, server:<url>#<model>, or id:<id>@<path>
            "embedder": (embedder or DEFAULT_EMBEDDER) if indexed else None,
            "index_kind": index_kind(len(pool)) if indexed else None,
            "dataset_hash": dataset.content_hash, "pool_hash": pool.content_hash,
            "seeds": seeds,
        },
    }


#: Strategy fields that must match for a run to be resumed (Auto-CoT's demonstrations are filled in later).
_RESUME_FIELDS = ("spec", "selector", "k", "order", "decoding", "answer", "label_words", "calibrate", "score_norm",
                  "samples", "seed")


def check_resumable(run_id: int, meta: Mapping[str, Any], strategies: Sequence[Strategy], backend: Backend) -> None:
    """Refuse to continue a stored run with another model, backend, prompt or decoding: one line naming what
    differs (resuming would silently mix two setups' results into one run)."""
    for what, stored, now in (("model", meta.get("model"), backend.spec.id),
                              ("backend", meta.get("backend"), backend.name)):
        if stored is not None and stored != now:
            raise ConfigError(f"Run {run_id} was made with {what} {stored!r}, not {now!r}; resume it with the same "
                              f"{what} or start a new run.")
    stored = {d.get("name"): d for d in meta.get("strategies", [])}
    for s in strategies:
        if s.name not in stored:
            raise ConfigError(f"Run {run_id} has no strategy {s.name!r}; resume it with its own strategies "
                              f"({', '.join(map(str, stored))}).")
        mine = s.to_dict()
        for key in _RESUME_FIELDS:
            if key in stored[s.name] and stored[s.name][key] != mine[key]:
                what = {"spec": "prompt", "decoding": "decoding settings"}.get(key, key.replace("_", " "))
                raise ConfigError(f"Run {run_id}: strategy {s.name!r} was run with other {what}; resume it with "
                                  "the same settings or start a new run.")


def evaluate(
    dataset: Pool,
    pool: Pool | None,
    strategies: Sequence[Strategy],
    backend: Backend,
    store: Store,
    run_id: int | None = None,
    limit: int | None = None,
    progress: Callable[[Progress], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    embedder: Embedder | None = None,
    index_cache_dir: str | None = None,
    index: PoolIndex | None = None,
    cache: bool = True,
) -> EvalRun:
    """Run every strategy on the first ``limit`` items of ``dataset``, recording each item at once.

    ``pool`` is where demonstrations come from (default: the dataset itself; selection
    never shows an item its own row). ``run_id`` resumes a stored run: items already
    recorded are skipped. ``should_stop()`` is checked between items; a stop, an error or
    an interrupt finishes the run as "cancelled"/"failed" with the items done so far.
    ``embedder`` (default: :func:`~workbench.retrieval.load_embedder`) is only loaded when
    a strategy needs the pool embedded; ``index`` is a ready index of ``pool`` (a page's cache).
    ``cache`` answers a generation or label scoring already made for the same model, prompt and
    decoding from the store's response cache (:mod:`workbench.cache`); the run summary's "cache"
    holds its hits and misses (None when off).
    """
    from workbench.cache import CachedBackend, ResponseCache
    from workbench.errors import WorkbenchError

    strategies = list(strategies)
    if not strategies:
        raise ConfigError("Choose at least one strategy to evaluate.")
    names = [s.name for s in strategies]
    if len(set(names)) != len(names):
        raise ConfigError("Strategy names must be unique within a run.")
    if limit is not None and limit < 1:
        raise ConfigError(f"limit must be at least 1, not {limit}.")
    if len(dataset) == 0:
        raise DataError("The dataset is empty.")
    pool = dataset if pool is None else pool
    items = list(dataset)[: limit or len(dataset)]

    if index is not None and index.pool.content_hash != pool.content_hash:
        raise DataError("The index given was built on another pool; index the demonstration pool itself.")
    index_holder: list[PoolIndex] = [] if index is None else [index]

    def index_fn() -> PoolIndex:
        if not index_holder:
            from workbench.retrieval import build_index, load_embedder

            index_holder.append(build_index(pool, embedder or load_embedder(), cache_dir=index_cache_dir))
        return index_holder[0]

    if run_id is None:
        strategies = prepare_strategies(strategies, pool, backend, index_fn, should_stop=should_stop)
        run_id = store.create_run(run_meta(dataset, pool, strategies, backend, limit,
                                           embedder=getattr(embedder, "name", None), store=store))
    else:
        meta = store.get_run(run_id).meta
        if meta.get("dataset", {}).get("hash") != dataset.content_hash:
            raise DataError(f"Run {run_id} was made on another dataset; load the same file to resume it.")
        if meta.get("pool", {}).get("hash") not in (None, pool.content_hash):
            raise DataError(f"Run {run_id} took its demonstrations from another pool; choose the same pool to "
                            "resume it.")
        check_resumable(run_id, meta, strategies, backend)
        store.reopen_run(run_id)
        stored = {d["name"]: d for d in meta.get("strategies", [])}
        # Reuse stored demonstrations (Auto-CoT's, written by the model) instead of building them again.
        strategies = [dataclasses.replace(s, demos=Strategy.from_dict(stored[s.name]).demos)
                      if s.name in stored and not s.demos else s for s in strategies]
        strategies = prepare_strategies(strategies, pool, backend, index_fn, should_stop=should_stop)

    index = index_fn() if needs_index(strategies) else None
    if index is not None:
        index.embed_many([ex.input for ex in items])  # one batched pass instead of one per item

    model = CachedBackend(backend, ResponseCache(store)) if cache else backend
    done_sets = {s.name: store.completed(run_id, s.name) for s in strategies}
    total = len(items) * len(strategies)
    done = sum(len([i for i in done_sets[s.name] if i < len(items)]) for s in strategies)
    ran, t_start = 0, time.perf_counter()
    status = "finished"
    try:
        for s in strategies:
            runner = _Runner(s, pool, model, index)
            for i, ex in enumerate(items):
                if i in done_sets[s.name]:
                    continue
                if should_stop is not None and should_stop():
                    status = "cancelled"
                    break
                store.add_result(run_id, s.name, i, runner.run(i, ex))
                ran, done = ran + 1, done + 1
                if progress is not None:
                    elapsed = time.perf_counter() - t_start
                    progress(Progress(done, total, s.name, elapsed, elapsed / ran * (total - done), run_id))
            if status == "cancelled":
                break
    except WorkbenchError:
        status = "failed"
        raise
    except BaseException:  # KeyboardInterrupt, a Streamlit rerun: what is stored stays, resumable
        status = "cancelled"
        raise
    finally:
        records = [r for r in store.results(run_id) if r["strategy"] in names and r["item_index"] < len(items)]
        summaries = summarize(records)
        cached = model.stats.to_dict() if isinstance(model, CachedBackend) else None
        store.finish_run(run_id, {"strategies": [x.to_dict() for x in summaries], "items": len(items),
                                  "cache": cached}, status)
    return EvalRun(run_id, status, tuple(summaries), tuple(records))


def order_sensitivity(
    dataset: Pool,
    pool: Pool | None,
    strategy: Strategy,
    backend: Backend,
    store: Store,
    permutations: int = 8,
    seed: int = 0,
    demos: Sequence[Example] | None = None,
    **options: Any,
) -> tuple[EvalRun, dict[str, float]]:
    """The same K demonstrations under ``permutations`` seeded orders: accuracy mean ± std, min, max.

    ``demos`` default: K pool examples drawn with ``seed`` (label-balanced when the pool
    has labels, so every order shows every class), outside the evaluated items when the pool
    has enough others, so every item sees all K. ``options`` go to :func:`evaluate`. The
    spread is over the final accuracy (calibrated when the strategy calibrates; the raw
    accuracies are in the summaries).
    """
    pool = dataset if pool is None else pool
    k = strategy.k or DEFAULT_K
    if demos is None:
        # Draw outside the evaluated items when the pool has room, so every item sees all K demonstrations.
        limit = options.get("limit")
        evaluated = {_key(ex.input) for ex in list(dataset)[: limit or len(dataset)]}
        others = tuple(ex for ex in pool if _key(ex.input) not in evaluated)
        demos = draw_demos(Pool(pool.name, others) if len(others) >= k else pool, k, seed)
    demos = tuple(demos)
    if not demos:
        raise DataError("Order sensitivity needs demonstrations; the pool is empty.")
    variants = [
        dataclasses.replace(strategy, name=f"{strategy.name} order {j + 1}", selector="fixed", k=len(demos),
                            order="as_selected", demos=tuple(demos[i] for i in perm))
        for j, perm in enumerate(seeded_permutations(len(demos), permutations, seed))
    ]
    run = evaluate(dataset, pool, variants, backend, store, **options)
    return run, spread([s.accuracy for s in run.summaries])


def draw_demos(pool: Pool, k: int, seed: int = 0) -> tuple[Example, ...]:
    """K pool examples drawn with a local RNG; round-robin over labels when the pool has them."""
    rng = np.random.default_rng(seed)
    labels = pool.labels()
    if not labels:
        return tuple(pool[int(i)] for i in rng.choice(len(pool), size=min(k, len(pool)), replace=False))
    by_label = {lab: [int(i) for i in rng.permutation([j for j, ex in enumerate(pool) if ex.label == lab])]
                for lab in labels}
    chosen: list[int] = []
    while len(chosen) < k and any(by_label.values()):
        for lab in labels:
            if by_label[lab] and len(chosen) < k:
                chosen.append(by_label[lab].pop())
    return tuple(pool[i] for i in chosen)
