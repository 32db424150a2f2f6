"""Strategies: a prompt spec + how demonstrations are chosen + decoding + how the answer is read.

A :class:`Strategy` is a prompt spec, a selector, K and an order, decoding settings and an answer mode:
**generate** (free text, then :func:`workbench.answers.extract`) or **score** (one scoring call with every
label word after the prompt). Short names (``knn4``, ``zscot``, ``manualcot+sc5``, ``knn4+score+cal``) are
parsed against the registry (:mod:`workbench.evaluate.registry`).

    >>> parse_strategy_name("knn4")
    StrategyName(base='knn', k=4, samples=1, answer=None, calibrate=None, score_norm=None, fallback=False, order=None)
    >>> parse_strategy_name("random4+global-entropy").order
    'global-entropy'
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from workbench.answers import AnswerFormat, answer_trigger
from workbench.data import Example, Pool
from workbench.decoding import DecodingConfig
from workbench.errors import ConfigError
from workbench.evaluate.registry import STRATEGIES
from workbench.judging.base import Check
from workbench.judging.registry import build_checks
from workbench.prompts.spec import PromptSpec, next_question_stops
from workbench.reasoning.base import query_letters
from workbench.reasoning.modes import ANSWER_MAX_NEW_TOKENS, NONE
from workbench.reasoning.registry import get as reasoning_mode
from workbench.retrieval.orders import ORDER_KINDS
from workbench.retrieval.selectors.base import SelectorKind
from workbench.retrieval.selectors.registry import SELECTOR_REGISTRY
from workbench.retrieval.selectors.registry import needs_index as selector_needs_index

#: How a strategy reads the answer: generated text, the label words scored, or each item's own choices scored
#: (an lm-evaluation-harness multiple_choice document: its ``choices``, the gold their key).
ANSWER_MODES = ("generate", "score", "choices")
#: How label scores are compared: summed log-probabilities ("acc" in lm-evaluation-harness), or divided
#: by the label word's tokens or UTF-8 bytes, or by its characters ("char": lm-evaluation-harness's
#: ``acc_norm``, the log-likelihood over the choice text's length, the delimiter before it left out).
SCORE_NORMS = ("sum", "token", "byte", "char")
#: Strategy-name modifiers that choose a score normalisation.
NORM_MODIFIERS = {"norm": "byte", "norm_byte": "byte", "norm_token": "token", "norm_char": "char", "sum": "sum"}
#: Demonstrations when a few-shot name gives no number ("knn" = "knn4").
DEFAULT_K = 4
#: Chain-of-thought exemplars when "manualcot" gives no number (Wei et al. 2022's 8). "autocot" without a number
#: takes the Auto-CoT reference's per-task K (``workbench.autocot.config.preset_k`` of the pool, when a run starts).
DEFAULT_COT_K = 8
#: Token budget of a chain of thought (Kojima et al. 2022 give the reasoning call 128 tokens).
REASONING_MAX_NEW_TOKENS = 128
#: Decoding of a direct answer: greedy (deterministic), a short budget.
ANSWER_DECODING = DecodingConfig(max_new_tokens=ANSWER_MAX_NEW_TOKENS)
#: Self-consistency sampling temperature (Wang et al. 2022 use T=0.7 with GPT-3, no top-k).
SC_TEMPERATURE = 0.7
#: Base names the strategy parser knows, with the retrieval selector each uses (None: no demonstrations).
BASES: dict[str, str | None] = {base: kind.selector for base, kind in STRATEGIES.items()}


@dataclass(frozen=True)
class Strategy:
    """One way to prompt: spec, demonstration choice, decoding and how the answer is read."""

    name: str  # unique within a run; shown in tables and charts
    spec: PromptSpec  # templates, reasoning mode, answer format and labels
    selector: str | None = None  # None = zero-shot; a SELECTOR_REGISTRY name ("fixed"/"autocot": ``demos``)
    k: int = 0  # demonstrations per prompt
    order: str = "similar_last"  # a workbench.retrieval.orders.ORDERS name
    decoding: DecodingConfig = ANSWER_DECODING  # greedy, a short answer
    answer: str = "generate"  # one of ANSWER_MODES
    label_words: tuple[tuple[str, str], ...] = ()  # (label, word scored after the prompt); () = " " + label
    calibrate: bool = False  # contextual calibration of label scores (score mode only)
    score_norm: str = "sum"  # label scores: one of SCORE_NORMS (sum of log-probs, per token, per byte)
    samples: int = 1  # self-consistency: sampled reasoning paths, majority vote (1 = off)
    seed: int = 0  # random selector seed; sampling seeds derive from decoding.seed
    demos: tuple[Example, ...] = ()  # the demonstrations of a "fixed" selector, in order
    fallback: bool = False  # Auto-CoT: keep a flagged fallback demo for a cluster where no candidate passes
    checks: tuple[Check, ...] = ()  # assertions judging every item (workbench.judging); () = the format's check
    threshold: float | None = None  # pass threshold on the checks' weighted score (None: every check must pass)
    repeat: int = 1  # runs of each item, seeds decoding.seed .. + repeat - 1 (pass@k, pass^k, flaky items)
    model: str | None = None  # the model that runs it (a --model reference: registry id, path, server); None:
    # the run's own model. Several models in one run make a prompt x model matrix (promptfoo's providers).

    def __post_init__(self) -> None:
        object.__setattr__(self, "label_words", tuple((str(a), str(b)) for a, b in dict(self.label_words).items()))
        object.__setattr__(self, "demos", tuple(self.demos))
        if not self.name.strip():
            raise ConfigError("A strategy needs a name.")
        if self.model is not None and (not isinstance(self.model, str) or not self.model.strip()):
            raise ConfigError(f"{self.name}: the model must be a model reference (an id, a path or a server), "
                              f"not {self.model!r}.")
        if self.answer not in ANSWER_MODES:
            raise ConfigError(f"Unknown answer mode {self.answer!r}; use 'generate', 'score' or 'choices'.")
        if self.k < 0:
            raise ConfigError(f"{self.name}: K must be 0 or more, not {self.k}.")
        if self.samples < 1:
            raise ConfigError(f"{self.name}: self-consistency needs at least 1 sample, not {self.samples}.")
        object.__setattr__(self, "checks", tuple(self.checks))
        if self.repeat < 1:
            raise ConfigError(f"{self.name}: repeat must be 1 or more, not {self.repeat}.")
        if self.repeat > 1 and self.answer != "generate":
            raise ConfigError(f"{self.name}: label scoring is deterministic; repeat a generating strategy instead.")
        if self.repeat > 1 and self.decoding.greedy and self.samples == 1:
            raise ConfigError(f"{self.name}: repeating greedy decoding gives the same output every time; sample "
                              "(a temperature above 0) to repeat, or repeat once.")
        if self.answer == "score":
            if not self.spec.labels:
                raise ConfigError(f"{self.name}: label scoring needs a fixed label set, and this prompt has none; "
                                  "generate the answer and extract it instead.")
            if self.spec.mode is not NONE or self.samples > 1:
                raise ConfigError(f"{self.name}: label scoring reads one answer after the prompt; chain-of-thought "
                                  "and self-consistency generate their answer.")
            unknown = [lab for lab, _ in self.label_words if lab not in self.spec.labels]
            if unknown:
                raise ConfigError(f"{self.name}: label words given for {unknown}, which are not labels "
                                  f"{list(self.spec.labels)}.")
            if any(not w.strip() for _, w in self.label_words):
                raise ConfigError(f"{self.name}: every label word must be non-empty text.")
        if self.score_norm not in SCORE_NORMS:
            raise ConfigError(f"{self.name}: unknown score normalisation {self.score_norm!r}; use "
                              f"{', '.join(SCORE_NORMS)}.")
        if self.answer == "choices" and (self.spec.mode is not NONE or self.samples > 1 or self.calibrate):
            raise ConfigError(f"{self.name}: scoring an item's own choices reads one answer after the prompt; "
                              "chain-of-thought, self-consistency and calibration do not apply.")
        if self.score_norm != "sum" and self.answer == "generate":
            raise ConfigError(f"{self.name}: length normalisation applies to label scores; add +score to "
                              "its name or answer by label scoring.")
        if self.calibrate and self.answer != "score":
            raise ConfigError(f"{self.name}: calibration corrects label scores; add +score to its name or answer by "
                              "label scoring.")
        if self.calibrate and self.score_norm != "sum":  # Zhao et al.'s W = diag(p_cf)^-1 acts on probabilities
            raise ConfigError(f"{self.name}: contextual calibration corrects the label words' probabilities, and a "
                              f"score per {self.score_norm} is not one; calibrate summed scores (+cal without +norm) "
                              "or normalise without +cal.")
        if self.order not in ORDER_KINDS:
            raise ConfigError(f"{self.name}: unknown order {self.order!r}; choose one of {', '.join(ORDER_KINDS)}.")
        if ORDER_KINDS[self.order].needs_model and self.k and not self.spec.labels:
            raise ConfigError(f"{self.name}: the {self.order} order compares label probabilities, and this prompt "
                              "has no label set; choose another order.")

    @property
    def _selector_kind(self) -> SelectorKind | None:
        return SELECTOR_REGISTRY.get(self.selector) if self.selector is not None else None

    @property
    def needs_index(self) -> bool:
        """The pool must be embedded and indexed for this strategy's demonstrations (its selector decides)."""
        return selector_needs_index(self.selector, self.k, bool(self.demos))

    @property
    def carries_demos(self) -> bool:
        """Its demonstrations travel with it (``demos``: hand-picked, or built by Auto-CoT) rather than being
        chosen per query."""
        return self._selector_kind is not None and self._selector_kind.carries_demos

    @property
    def demos_to_build(self) -> bool:
        """Its demonstrations are built before the run (Auto-CoT) and are not built yet."""
        return self._selector_kind is not None and not self._selector_kind.pickable and not self.demos

    @property
    def chooses_per_query(self) -> bool:
        """A selector chooses K demonstrations for each query over the pool's index."""
        return self.selector is not None and self.k > 0 and not self.carries_demos

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
            "fallback": self.fallback, "checks": [c.to_dict() for c in self.checks], "threshold": self.threshold,
            "repeat": self.repeat, **({"model": self.model} if self.model is not None else {}),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Strategy:
        """Inverse of :meth:`to_dict` (resuming a stored run)."""
        d = dict(data)
        d["spec"] = PromptSpec.from_dict(d["spec"])
        d["decoding"] = DecodingConfig.from_dict(d["decoding"])
        d["label_words"] = tuple(tuple(p) for p in d.get("label_words", ()))
        d["demos"] = tuple(Example.from_dict(row) for row in d.get("demos", ()))
        d["checks"] = build_checks(d.get("checks") or (), d.get("name", ""))
        return cls(**d)


@dataclass(frozen=True)
class StrategyName:
    """A parsed short name such as ``knn4``, ``bm25_4``, ``manualcot+sc5`` or ``knn4+score+cal``."""

    base: str  # a key of BASES
    k: int  # demonstrations (0 for zero-shot styles, and for "autocot" without a number: its pool's preset K)
    samples: int  # self-consistency samples
    answer: str | None  # "generate" / "score" when the name says so, else None (the run's default)
    calibrate: bool | None  # True when the name says "+cal", else None (the run's default)
    score_norm: str | None = None  # a SCORE_NORMS value when the name says "+norm..." , else the run's default
    fallback: bool = False  # "+fallback": Auto-CoT keeps a flagged demo for clusters where no candidate passes
    order: str | None = None  # an orders.ORDERS name when the name says so ("random4+global-entropy"), else the run's


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
    if STRATEGIES[base].samples:
        samples = int(n) if n else 5
        if samples < 2:
            raise ConfigError(f"{name!r}: self-consistency needs at least 2 samples (e.g. sc5).")
    elif not STRATEGIES[base].takes_k:
        if n:
            raise ConfigError(f"{name!r}: {base} takes no number; use e.g. knn{n} for {n} demonstrations.")
    else:
        k = int(n) if n else {"manualcot": DEFAULT_COT_K, "autocot": 0}.get(base, DEFAULT_K)
        if n and k < 1:
            raise ConfigError(f"{name!r}: K must be at least 1; use 'zero' for no demonstrations.")
    answer: str | None = None
    calibrate: bool | None = None
    norm: str | None = None
    fallback = False
    order: str | None = None
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
        elif mod in ORDER_KINDS and STRATEGIES[base].takes_k:
            order = mod
        else:
            raise ConfigError(f"Unknown modifier {mod!r} in {name!r}; use scN, score, gen, cal, norm, norm_token "
                              f"(or fallback after autocot; an order after a base with demonstrations: "
                              f"{', '.join(ORDER_KINDS)}).")
    return StrategyName(base, k, samples, answer, calibrate, norm, fallback, order)


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


def _default_order(selector: str | None) -> str:
    """How a strategy orders its demonstrations: its selector's default (similarity-based: most similar last)."""
    kind = SELECTOR_REGISTRY.get(selector) if selector is not None else None  # an unknown name: the default
    return kind.default_order if kind is not None else "similar_last"


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
    order: str | None = None,
) -> Strategy:
    """The strategy a short name describes, on top of a dataset's base ``spec``.

    ``answer``/``calibrate`` are the run's defaults; a name's ``+score``/``+gen``/``+cal``
    overrides them. Chain-of-thought strategies always generate. ``k`` overrides the
    number in the name. ``pool`` supplies Manual-CoT exemplars (its first K rows with a
    rationale). ``order`` is the run's order of the demonstrations (``--order``; an order named in the name
    wins; None: the selector's default).
    """
    parsed = parse_strategy_name(name)
    base, samples = parsed.base, parsed.samples
    if base == "sc":  # self-consistency over a chain of thought: manual if the pool has rationales
        base = "manualcot" if _has_rationales(pool) else "zscot"
    n = parsed.k if parsed.base != "sc" else (DEFAULT_COT_K if base == "manualcot" else 0)
    if k is not None and (n or base == "autocot"):
        n = k
    reasoning = STRATEGIES[base].reasoning
    reasons = reasoning_mode(reasoning) is not NONE  # a chain of thought before the answer
    cot = reasons or samples > 1
    mode = parsed.answer or ("generate" if cot else answer)
    cal = bool(parsed.calibrate if parsed.calibrate is not None else (calibrate and mode == "score"))
    strat_spec = spec.replace(reasoning=reasoning, stop=next_question_stops(spec)) if reasons else spec
    if base == "zero" and mode == "generate":
        strat_spec = with_direct_trigger(strat_spec)
    cfg = DecodingConfig(max_new_tokens=REASONING_MAX_NEW_TOKENS if reasons else ANSWER_MAX_NEW_TOKENS)
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
        name=name.strip(), spec=strat_spec, selector=selector, k=n,
        order=parsed.order or (order if selector is not None else None) or _default_order(selector),
        decoding=cfg, answer=mode, label_words=tuple((label_words or {}).items()) if mode == "score" else (),
        calibrate=cal, samples=samples, seed=seed, demos=demos,
        score_norm=(parsed.score_norm or score_norm) if mode == "score" else "sum", fallback=parsed.fallback,
    )


def parse_strategies(text: str | Sequence[str], spec: PromptSpec, pool: Pool | None = None, **options: Any
                     ) -> list[Strategy]:
    """Comma-separated short names (or a list of them) -> strategies; names must be unique."""
    names = [n.strip() for n in (text.split(",") if isinstance(text, str) else text) if n.strip()]
    if not names:
        raise ConfigError("No strategies given; name at least one, e.g. zero, knn4, random4.")
    seen = [n.lower() for n in names]
    dupes = sorted({n for n in seen if seen.count(n) > 1})
    if dupes:
        raise ConfigError(f"Strategy {dupes[0]!r} is listed twice; give each strategy once.")
    return [make_strategy(n, spec, pool, **options) for n in names]


def needs_index(strategies: Sequence[Strategy]) -> bool:
    """True when a strategy selects demonstrations by embedding (or Auto-CoT clusters): the pool must be indexed."""
    return any(s.needs_index for s in strategies)
