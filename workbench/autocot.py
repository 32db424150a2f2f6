"""Auto-CoT (Zhang et al. 2022) as amazon-science/auto-cot's ``run_demo.py`` builds its demonstrations.

Cluster the questions for diversity (k-means++ on sentence embeddings, k = number of
demonstrations), order each cluster's members by distance to its centre, let
Zero-shot-CoT write a rationale for them in that order, and keep the first member that
passes the reference's filters (:func:`heuristic_failures`):

* the question, written ``Q: …\\nA:`` as the reference stores it, has at most 60 words;
* the rationale (``Let's think step by step. …``) has at most 5 lines (7 for last letters);
* the rationale ends with "." and an answer was extracted;
* arithmetic sets only: the answer occurs in the rationale's last sentence or among its
  last 10 words (case-insensitive).

A cluster none of whose members passes gives no demonstration, as in the reference;
``fallback=True`` asks for its nearest candidate instead, flagged in the result, the
page and the demo file. Rationales are generated live by the chosen model, at most
``max_tries_per_cluster`` per cluster (the reference reads rationales generated
beforehand for every question and so tries every member).

    >>> AutoCoTConfig.for_task("last_letters").k, AutoCoTConfig.for_task("last_letters").max_rationale_steps
    (4, 7)
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from workbench.data import Example
from workbench.decoding import DecodingConfig
from workbench.errors import ConfigError, DataError, ModelError
from workbench.prompts import PromptJob, PromptSpec, choices_text, run_prompts
from workbench.safeload import Bounds, check_tree, parse_json, validation_error

if TYPE_CHECKING:
    from workbench.backends import Backend

#: Zero-shot-CoT trigger: ends the reasoning prompt and starts every rationale (Kojima et al.).
COT_TRIGGER = "Let's think step by step."
#: Stop of the reasoning call: where a base model would begin the next question (the reference, on GPT-3, used none).
REASONING_STOPS = ("\nQ:",)
#: Decoding of the reasoning call: greedy, 128 tokens (the reference gives GPT-3 256; a small model rarely needs more).
REASONING_DECODING = DecodingConfig(max_new_tokens=128)
#: Rationales generated per cluster at most (the reference tries every member; we generate live, so bound it).
MAX_TRIES_PER_CLUSTER = 8
#: The reference's tasks (``run_demo.py --task``).
REFERENCE_TASKS = ("aqua", "gsm8k", "commonsensqa", "addsub", "multiarith", "strategyqa", "svamp", "singleeq",
                   "coin_flip", "last_letters")
#: Tasks on which the reference checks that the answer is at the end of the rationale.
ARITHMETIC_TASKS = ("gsm8k", "multiarith", "singleeq", "addsub", "svamp")
#: The reference's per-task settings (``num_clusters``, ``max_ra_len``); other tasks: 8 clusters, 5 steps.
TASK_PRESETS: dict[str, dict[str, int]] = {
    "aqua": {"k": 4},
    "last_letters": {"k": 4, "max_rationale_steps": 7},
    "commonsensqa": {"k": 7},
    "strategyqa": {"k": 6},
}
#: Dataset-name spellings of the reference's tasks (letters and digits only, lower case).
_TASK_ALIASES = {"commonsenseqa": "commonsensqa", "csqa": "commonsensqa", "coinflip": "coin_flip",
                 "lastletters": "last_letters", "lastletter": "last_letters"}
#: k-means restarts, each from its own k-means++ seeding; the best (lowest inertia) is kept (scikit-learn's
#: ``n_init`` when the reference was written).
KMEANS_N_INIT = 10
#: Lloyd iterations at most per restart (scikit-learn's ``max_iter``).
KMEANS_MAX_ITER = 300
#: Most bytes a demo file may have (demo files are untrusted input).
MAX_DEMO_FILE_BYTES = 2_000_000
#: A demo file's shape: nesting {"demo": [{"choices": {...}}]}, characters of one text, demonstrations.
DEMO_FILE_BOUNDS = Bounds(max_depth=4, max_string=20_000, max_items=256)
MAX_DEMOS_IN_FILE, MAX_DEMO_TEXT, MAX_DEMO_FILE_DEPTH = (DEMO_FILE_BOUNDS.max_items, DEMO_FILE_BOUNDS.max_string,
                                                         DEMO_FILE_BOUNDS.max_depth)
#: Characters a demo file's text may not hold: control characters but tab and newline, and line/paragraph
#: separators (they would reach a terminal raw through ``autocot show``).
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029]")


@dataclass(frozen=True)
class AutoCoTConfig:
    """Auto-CoT parameters; defaults are the reference's for its arithmetic sets (see :meth:`for_task`)."""

    k: int = 8  # demonstrations = k-means clusters (the reference: 8 unless its task preset says otherwise)
    max_question_words: int = 60  # the question "Q: …\nA:" has at most 60 words (the reference's filter)
    max_rationale_steps: int = 5  # the rationale has at most 5 lines (the reference's --max_ra_len; 7 for last letters)
    answer_at_end: bool | None = None  # check the answer is at the end; None: only when answers are numbers
    max_tries_per_cluster: int = MAX_TRIES_PER_CLUSTER  # rationales generated per cluster at most (bounds time)
    fallback: bool = False  # a cluster with no passing member gives its nearest candidate, flagged (the reference drops it)
    seed: int = 0  # k-means++ seed (deterministic clusters)

    def __post_init__(self) -> None:
        if self.k < 1:
            raise ConfigError(f"k must be at least 1 (got {self.k}).")
        if self.max_question_words < 1 or self.max_rationale_steps < 1:
            raise ConfigError("Heuristic limits must be at least 1.")
        if self.max_tries_per_cluster < 1:
            raise ConfigError(f"max_tries_per_cluster must be at least 1 (got {self.max_tries_per_cluster}).")

    @classmethod
    def for_task(cls, task: str | None, **changes: Any) -> AutoCoTConfig:
        """The reference's settings for one of its tasks (None: the defaults), then ``changes``.

        >>> AutoCoTConfig.for_task("commonsensqa").k, AutoCoTConfig.for_task("multiarith").answer_at_end
        (7, True)
        """
        if task is None:
            return cls(**changes)
        if task not in REFERENCE_TASKS:
            raise ConfigError(f"Unknown Auto-CoT task {task!r}; choose one of {', '.join(REFERENCE_TASKS)}.")
        return cls(**{**TASK_PRESETS.get(task, {}), "answer_at_end": task in ARITHMETIC_TASKS, **changes})

    def checks_answer_at_end(self, answer_format: str) -> bool:
        """Whether the answer-at-end filter applies (the reference applies it to its arithmetic sets)."""
        return self.answer_at_end if self.answer_at_end is not None else answer_format == "number"


def task_for(name: str) -> str | None:
    """The reference task a dataset name stands for ("commonsenseqa_dev.jsonl" -> "commonsensqa"), or None.

    >>> task_for("MultiArith.jsonl"), task_for("sst2_dev")
    ('multiarith', None)
    """
    key = re.sub(r"[^a-z0-9]", "", Path(name).stem.lower())
    names = {t.replace("_", ""): t for t in REFERENCE_TASKS} | _TASK_ALIASES
    return next((names[n] for n in sorted(names, key=len, reverse=True) if key.startswith(n)), None)


@dataclass(frozen=True)
class Reasoning:
    """What Zero-shot-CoT produced for one question."""

    rationale: str  # the reasoning output as generated, after "Let's think step by step."
    answer: str | None  # extracted from the answer step; None if nothing could be extracted


#: Produces the rationale and answer for a question (Zero-shot-CoT through a backend).
ReasonFn = Callable[[str], Reasoning]


@dataclass(frozen=True)
class Candidate:
    """One question tried for a cluster, and why it was kept or skipped."""

    index: int  # row in the question pool
    distance: float  # to the cluster centroid
    reasoning: Reasoning | None  # None when skipped before generating (question too long)
    failures: tuple[str, ...]  # filters it failed; empty = kept


@dataclass(frozen=True)
class Demo:
    """A demonstration as the reference's demo files hold it, plus where it came from."""

    question: str  # as asked, without "Q: " / "\nA:" and without the answer choices
    rationale: str  # "Let's think step by step. …", whitespace collapsed (the reference's demo files)
    pred_ans: str  # the answer the model gave
    gold_ans: str | None = None  # the pool's answer, for inspection only
    cluster: int | None = None  # k-means cluster it stands for
    distance: float | None = None  # to that cluster's centre
    fallback: bool = False  # True: no candidate of its cluster passed the filters; the nearest was used
    choices: dict[str, str] | None = field(default=None, hash=False)  # multiple choice: label -> text

    def to_example(self, demo_id: str, trigger: str = COT_TRIGGER) -> Example:
        """As a CoT demonstration for the Prompt Builder (reasoning "auto_cot").

        The rationale starts with the trigger, so the default CoT template gives the
        reference's text: ``Q: {question}\\nA: Let's think step by step. {rationale} The answer is {answer}.``
        """
        rationale = self.rationale if self.rationale.startswith(trigger) else f"{trigger} {self.rationale}"
        return Example(id=demo_id, input=self.question, answer=self.pred_ans, rationale=rationale,
                       choices=self.choices)


@dataclass(frozen=True)
class AutoCoTResult:
    demos: tuple[Demo, ...]  # at most one per cluster, in cluster order
    assignments: np.ndarray = field(repr=False)  # cluster id of every question
    vectors: np.ndarray = field(repr=False)  # normalised embeddings (for the 2-D picture)
    candidates: tuple[tuple[Candidate, ...], ...]  # per cluster, in the order tried

    @property
    def dropped(self) -> tuple[int, ...]:
        """Clusters that gave no demonstration (no member passed the filters, and no fallback was asked)."""
        kept = {d.cluster for d in self.demos}
        return tuple(c for c in range(len(self.candidates)) if c not in kept)

    @property
    def fallbacks(self) -> tuple[int, ...]:
        """Clusters whose demonstration is a flagged fallback."""
        return tuple(d.cluster for d in self.demos if d.fallback)

    def note(self) -> str:
        """One line on what was built: demonstrations, dropped clusters, fallbacks."""
        from workbench.words import plural

        text = f"{plural(len(self.demos), 'demonstration')} from {plural(len(self.candidates), 'cluster')}"
        if self.dropped:
            text += f"; dropped (no candidate passed): cluster {', '.join(map(str, self.dropped))}"
        if self.fallbacks:
            text += f"; fallback (nearest candidate, failed the filters): cluster {', '.join(map(str, self.fallbacks))}"
        return text

    def examples(self) -> list[Example]:
        """The demonstrations as examples; a fallback's id ends in "-fallback". DataError when there are none."""
        if not self.demos:
            raise DataError(f"Auto-CoT kept no demonstration: no candidate of any of the {len(self.candidates)} "
                            "clusters passed the filters; allow more tries per cluster, or ask for fallbacks.")
        return as_examples(self.demos)


def as_examples(demos: Sequence[Demo]) -> list[Example]:
    """Demonstrations as examples for a prompt: ids "autocot-0", …; a fallback's id ends in "-fallback"."""
    return [d.to_example(f"autocot-{i}" + ("-fallback" if d.fallback else "")) for i, d in enumerate(demos)]


@dataclass(frozen=True)
class ZeroShotCoTReasoner:
    """Rationale + answer for a question by Zero-shot-CoT's two calls (the Prompt Builder's runner)."""

    backend: Backend
    answer_format: str = "number"  # an AnswerFormat value: picks the answer trigger and extraction
    labels: tuple[str, ...] = ()  # the label set ("label" needs it) or the choice letters
    cfg: DecodingConfig = REASONING_DECODING  # greedy reasoning, and Zero-shot-CoT's short greedy answer step
    one_at_a_time: bool = False  # True: every question alone (the exact unbatched text on a batching backend)

    def __post_init__(self) -> None:
        object.__setattr__(self, "labels", tuple(self.labels))
        if self.answer_format == "label" and not self.labels:
            raise ConfigError("Auto-CoT on a label dataset needs its label set; give the labels "
                              "(e.g. positive, negative).")
        _ = self.spec  # validated now, not at the first question

    @cached_property
    def spec(self) -> PromptSpec:
        """Zero-shot-CoT: the query ``Q: {question}\nA: Let's think step by step.``, then the answer trigger."""
        trigger = label_trigger(self.labels) if self.answer_format == "label" else None
        return PromptSpec(reasoning="zero_shot_cot", answer_format=self.answer_format, labels=self.labels,
                          cot_trigger=COT_TRIGGER, answer_trigger=trigger, stop=REASONING_STOPS)

    def __call__(self, question: str) -> Reasoning:
        return self.many([question])[0]

    def many(self, questions: Sequence[str]) -> list[Reasoning]:
        """Rationales for several questions, each stage one ``generate`` call for all of them (a batching
        backend decodes them together); one question at a time when ``one_at_a_time``."""
        if self.one_at_a_time and len(questions) > 1:
            return [r for q in questions for r in self.many([q])]
        runs = run_prompts(self.spec, [PromptJob((), q) for q in questions], self.backend, self.cfg)
        for q, run in zip(questions, runs, strict=True):
            failed = next((st.generation for st in run.stages if st.generation.failed), None)
            if failed is not None:
                raise ModelError(f"The model could not write a rationale for {q[:60]!r}: {failed.error}")
        return [Reasoning(run.stages[0].output, run.answer) for run in runs]


def label_trigger(labels: Sequence[str]) -> str:
    """The answer trigger for a label set, in the shape of Kojima et al.'s "(Yes or No)" (the reference has no
    label sets; without the labels a model does not know what to answer).

    >>> label_trigger(["positive", "negative"]), label_trigger(["a", "b", "c"])
    ('Therefore, the answer (positive or negative) is', 'Therefore, the answer (a, b or c) is')
    """
    names = ", ".join(labels[:-1]) + " or " + labels[-1] if len(labels) > 1 else "".join(labels)
    return f"Therefore, the answer ({names}) is"


def zero_shot_cot_reasoner(
    backend: Backend,
    answer_format: str = "number",
    cfg: DecodingConfig = REASONING_DECODING,
    *,
    labels: Sequence[str] = (),
    one_at_a_time: bool = False,
) -> ZeroShotCoTReasoner:
    """The reasoner Auto-CoT uses: the test query ``Q: {question}\\nA: Let's think step by step.``, then the answer."""
    return ZeroShotCoTReasoner(backend, answer_format, tuple(labels), cfg, one_at_a_time)


# ---- pure parts: the reference's filters ----------------------------------------------
def question_text(question: str, choices: Mapping[str, str] | None = None) -> str:
    """The question the model reasons about: with its answer choices, laid out as the reference does.

    >>> question_text("Pick one.", {"A": "red", "B": "blue"})
    'Pick one. Answer Choices: (A) red (B) blue'
    """
    text = choices_text(choices)
    return f"{question} Answer Choices: {text}" if text else question


def question_words(question: str) -> int:
    """Words of the question as the reference counts them: in ``Q: {question}\\nA:``, markers included.

    >>> question_words("How many apples?")
    5
    """
    return len(f"Q: {question}\nA:".split())


def full_rationale(output: str, trigger: str = COT_TRIGGER) -> str:
    """The rationale the reference stores: the trigger followed by the reasoning output, trimmed.

    >>> full_rationale("\\nFirst, 2 + 2 = 4.\\n")
    "Let's think step by step.\\nFirst, 2 + 2 = 4."
    """
    return (trigger + (output if output[:1].isspace() else " " + output)).strip()


def rationale_steps(rationale: str) -> int:
    """Reasoning steps as the reference counts them: lines after one "\\n\\n" -> "\\n" pass.

    >>> rationale_steps("Let's think step by step.\\n\\nA.\\nB.")
    3
    """
    return len(rationale.strip().replace("\n\n", "\n").split("\n"))


def answer_at_end(rationale: str, answer: str) -> bool:
    """The reference's arithmetic check: ``answer`` is in the last sentence or is one of the last 10 words.

    The last sentence is the text before the final "." (the rationale ends with one); "in"
    is a substring test there, as in the reference. Case-insensitive.

    >>> answer_at_end("5 + 3 = 8. So she has 8 apples.", "8"), answer_at_end("It is 8. Then she left.", "8")
    (True, False)
    """
    text, answer = rationale.strip().casefold(), answer.strip().casefold()
    sentences = text.split(".")
    return (len(sentences) > 1 and answer in sentences[-2]) or answer in text.split()[-10:]


def collapse_whitespace(text: str) -> str:
    """Every run of whitespace (newlines included) as one space, as the reference writes rationales."""
    return " ".join(text.split())


def heuristic_failures(question: str, reasoning: Reasoning, cfg: AutoCoTConfig,
                       answer_format: str = "number") -> tuple[str, ...]:
    """The reference's filters a candidate fails, in its order (empty: it passes)."""
    failures = []
    words = question_words(question)
    if words > cfg.max_question_words:
        failures.append(f"question has {words} words > {cfg.max_question_words}")
    rationale = full_rationale(reasoning.rationale)
    steps = rationale_steps(rationale)
    if steps > cfg.max_rationale_steps:
        failures.append(f"rationale has {steps} steps > {cfg.max_rationale_steps}")
    if not rationale.endswith("."):
        failures.append('rationale does not end with "."')
    if not (reasoning.answer or "").strip():
        failures.append("no answer could be extracted")
    elif cfg.checks_answer_at_end(answer_format) and not answer_at_end(rationale, reasoning.answer):
        failures.append(f"answer {reasoning.answer.strip()} is not in the last sentence or the last 10 words")
    return tuple(failures)


# ---- clustering ---------------------------------------------------------------------
def _sq_dist(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Squared Euclidean distances, rows of ``a`` x rows of ``b``."""
    return np.maximum((a * a).sum(1)[:, None] - 2 * a @ b.T + (b * b).sum(1)[None, :], 0.0)


def _kmeans_pp(x: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
    """Greedy k-means++ seeding (Arthur & Vassilvitskii 2007, as scikit-learn: 2 + ln k trials per centre)."""
    trials = 2 + int(np.log(k))
    centers = [x[rng.integers(len(x))]]
    closest = _sq_dist(centers[0][None], x)[0]
    for _ in range(1, k):
        pot = closest.sum()
        if pot > 0:
            cand = np.minimum(np.searchsorted(np.cumsum(closest), rng.random(trials) * pot), len(x) - 1)
        else:
            cand = rng.integers(len(x), size=trials)
        new = np.minimum(closest, _sq_dist(x[cand], x))
        best = int(np.argmin(new.sum(1)))
        centers.append(x[cand[best]])
        closest = new[best]
    return np.array(centers)


def kmeans(vectors: np.ndarray, k: int, seed: int = 0, n_init: int = KMEANS_N_INIT,
           max_iter: int = KMEANS_MAX_ITER) -> np.ndarray:
    """Cluster id of each row: k-means++ seeding and Lloyd's iterations, best of ``n_init``; deterministic per seed.

    An emptied cluster is moved to the point farthest from its centre, as scikit-learn does.
    """
    x = np.asarray(vectors, dtype=np.float64)
    k = max(1, min(k, len(x)))
    rng = np.random.default_rng(seed)
    best, best_inertia = np.zeros(len(x), dtype=np.int64), np.inf
    for _ in range(n_init if k > 1 else 1):
        centers = _kmeans_pp(x, k, rng)
        labels = None
        for _ in range(max_iter):
            d = _sq_dist(x, centers)
            new = d.argmin(1)
            if labels is not None and np.array_equal(new, labels):
                break
            labels = new
            for c in range(k):
                members = labels == c
                if members.any():
                    centers[c] = x[members].mean(0)
                else:
                    far = int(d[np.arange(len(x)), labels].argmax())
                    centers[c], labels[far] = x[far], c
        inertia = float(_sq_dist(x, centers)[np.arange(len(x)), labels].sum())
        if inertia < best_inertia - 1e-9:
            best, best_inertia = labels.astype(np.int64), inertia
    return best


def cluster_order(vectors: np.ndarray, assignments: np.ndarray) -> list[list[tuple[int, float]]]:
    """Per cluster, its members as (row, distance to centroid), nearest first.

    >>> v = np.array([[1, 0], [0.9, 0.1], [0.6, 0.4], [0, 1]], dtype=np.float32)
    >>> [row for row, _ in cluster_order(v, np.array([0, 0, 0, 1]))[0]]
    [1, 0, 2]
    """
    out = []
    for c in range(int(assignments.max()) + 1 if len(assignments) else 0):
        members = np.flatnonzero(assignments == c)
        if len(members) == 0:
            out.append([])
            continue
        centroid = vectors[members].mean(axis=0)
        dist = np.linalg.norm(vectors[members] - centroid, axis=1)
        order = np.argsort(dist, kind="stable")
        out.append([(int(members[i]), float(dist[i])) for i in order])
    return out


# ---- the algorithm ------------------------------------------------------------------
def reason_all(reason: ReasonFn, questions: Sequence[str]) -> list[Reasoning]:
    """Rationales for several questions: in one batched call per stage when the reasoner can
    (:meth:`ZeroShotCoTReasoner.many`), else question by question."""
    many = getattr(reason, "many", None)
    return list(many(questions)) if many is not None else [reason(q) for q in questions]


def pick_demos(
    pool: Sequence[Example],
    ordered: list[list[tuple[int, float]]],
    reason: ReasonFn,
    cfg: AutoCoTConfig,
    answer_format: str = "number",
    progress: Callable[[int, int], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> tuple[tuple[Demo, ...], tuple[tuple[Candidate, ...], ...]]:
    """Per cluster, the first member (nearest first) passing the filters; none: dropped, or the nearest if fallback.

    The reference tries clusters one after another; here the clusters still undecided are tried in rounds,
    each round one rationale for every such cluster's next candidate, written together (a batching backend
    decodes them in one batch). Each cluster sees the same candidates in the same order, and no rationale is
    written that the one-by-one loop would not write, so the demonstrations are the reference's.
    """
    budget = [min(len(m), cfg.max_tries_per_cluster) for m in ordered]
    total = sum(budget)
    tried: list[list[Candidate]] = [[] for _ in ordered]
    chosen: list[Candidate | None] = [None] * len(ordered)
    at = [0] * len(ordered)  # next member of each cluster to look at
    open_ = [bool(m) for m in ordered]  # clusters still looking for a demonstration

    def written(c: int) -> int:
        return sum(t.reasoning is not None for t in tried[c])

    def report() -> None:
        if progress is not None:
            done = sum(budget[c] if not open_[c] else written(c) for c in range(len(ordered)))
            progress(min(done, total), total)

    def generate(rows: list[int]) -> list[Reasoning]:
        if should_stop is not None and should_stop():
            raise InterruptedError("Auto-CoT was cancelled.")
        return reason_all(reason, [question_text(pool[r].input, pool[r].choices) for r in rows])

    while True:
        wanted: list[tuple[int, int, float, str]] = []  # (cluster, row, distance, question)
        for c, members in enumerate(ordered):
            while open_[c]:
                if written(c) >= cfg.max_tries_per_cluster or at[c] >= len(members):
                    open_[c] = False
                    break
                row, dist = members[at[c]]
                at[c] += 1
                q = question_text(pool[row].input, pool[row].choices)
                if question_words(q) > cfg.max_question_words:  # fails before any generation, as it would after
                    tried[c].append(Candidate(row, dist, None, (f"question has {question_words(q)} words > "
                                                                f"{cfg.max_question_words}",)))
                    continue
                wanted.append((c, row, dist, q))
                break
        if not wanted:
            break
        for (c, row, dist, q), reasoning in zip(wanted, generate([w[1] for w in wanted]), strict=True):
            tried[c].append(Candidate(row, dist, reasoning, heuristic_failures(q, reasoning, cfg, answer_format)))
            if not tried[c][-1].failures:
                chosen[c], open_[c] = tried[c][-1], False
        report()

    if cfg.fallback:
        for c, members in enumerate(ordered):
            if chosen[c] is None and members:
                chosen[c] = next((t for t in tried[c] if t.reasoning is not None), None)
        # every question of a cluster too long: generate for its nearest anyway
        bare = [c for c, members in enumerate(ordered) if members and chosen[c] is None]
        for c, reasoning in zip(bare, generate([ordered[c][0][0] for c in bare]) if bare else [], strict=True):
            row, dist = ordered[c][0]
            chosen[c] = tried[c][0] = Candidate(row, dist, reasoning, tried[c][0].failures)

    demos = []
    for c, pick in enumerate(chosen):
        if pick is not None:
            ex = pool[pick.index]
            demos.append(Demo(ex.input, collapse_whitespace(full_rationale(pick.reasoning.rationale)),
                              (pick.reasoning.answer or "").strip(), ex.answer, c, round(pick.distance, 6),
                              bool(pick.failures), ex.choices))
    if progress is not None:
        progress(total, total)
    return tuple(demos), tuple(tuple(t) for t in tried)


def build_demos(
    pool: Sequence[Example],
    vectors: np.ndarray,
    reason: ReasonFn,
    cfg: AutoCoTConfig = AutoCoTConfig(),
    progress: Callable[[int, int], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    *,
    answer_format: str | None = None,
) -> AutoCoTResult:
    """The whole algorithm over a pool whose questions are already embedded (normalised rows).

    ``answer_format`` (default: the reasoner's, else "number") decides whether the
    answer-at-end filter applies when ``cfg.answer_at_end`` is None.
    """
    if len(pool) == 0:
        raise DataError("The question pool is empty; load a pool with at least one question.")
    fmt = answer_format or getattr(reason, "answer_format", "number")  # a ZeroShotCoTReasoner knows its format
    vectors = np.asarray(vectors, dtype=np.float32)
    assignments = kmeans(vectors, cfg.k, seed=cfg.seed)
    demos, candidates = pick_demos(list(pool), cluster_order(vectors, assignments), reason, cfg, fmt,
                                   progress, should_stop)
    return AutoCoTResult(demos, assignments, vectors, candidates)


def with_fallbacks(result: AutoCoTResult, pool: Sequence[Example]) -> AutoCoTResult:
    """``result`` with every dropped cluster given its nearest candidate that has a rationale, flagged fallback: what
    ``fallback=True`` would have built from the same rationales, without writing any again (a dropped cluster's
    candidates were all written and kept in the result). A cluster none of whose candidates was written (every
    question too long) stays dropped. Demonstrations stay in cluster order.
    """
    demos = {d.cluster: d for d in result.demos}
    for c in result.dropped:
        pick = next((t for t in result.candidates[c] if t.reasoning is not None), None)
        if pick is not None:
            ex = pool[pick.index]
            demos[c] = Demo(ex.input, collapse_whitespace(full_rationale(pick.reasoning.rationale)),
                            (pick.reasoning.answer or "").strip(), ex.answer, c, round(pick.distance, 6), True,
                            ex.choices)
    ordered = tuple(demos[c] for c in sorted(demos, key=lambda c: -1 if c is None else c))
    return replace(result, demos=ordered)


def redo(demo: Demo, reasoning: Reasoning, cfg: AutoCoTConfig, answer_format: str = "number") -> Demo:
    """``demo`` with a newly generated rationale and answer, written and flagged as :func:`pick_demos` does."""
    failures = heuristic_failures(question_text(demo.question, demo.choices), reasoning, cfg, answer_format)
    return replace(demo, rationale=collapse_whitespace(full_rationale(reasoning.rationale)),
                   pred_ans=(reasoning.answer or "").strip(), fallback=bool(failures))


# ---- files --------------------------------------------------------------------------
def demos_to_json(demos: Sequence[Demo]) -> str:
    """The reference's demo-file shape, ``{"demo": [{"question": "Q: …\\nA:", "rationale", "pred_ans", "gold_ans"}]}``,
    plus ``cluster``, ``distance``, ``fallback`` and (multiple choice) ``choices``."""
    rows = []
    for d in demos:
        row = {"question": f"Q: {question_text(d.question, d.choices)}\nA:",
               "rationale": d.rationale, "pred_ans": d.pred_ans, "gold_ans": d.gold_ans,
               "cluster": d.cluster, "distance": d.distance, "fallback": d.fallback}
        if d.choices:
            row["choices"] = d.choices
        rows.append(row)
    return json.dumps({"demo": rows}, indent=2, ensure_ascii=False)


def _file_model():
    """Pydantic models of a demo file (extra keys forbidden, strict types, bounded sizes)."""
    from pydantic import BaseModel, ConfigDict, Field

    text = Field(max_length=MAX_DEMO_TEXT)
    config = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False)

    class Row(BaseModel):
        model_config = config
        question: str = text
        rationale: str = text
        pred_ans: str = text
        gold_ans: str | None = Field(None, max_length=MAX_DEMO_TEXT)
        cluster: int | None = Field(None, ge=0, le=10_000)
        distance: float | None = None
        fallback: bool = False
        choices: dict[str, str] | None = Field(None, max_length=26)

    class File(BaseModel):
        model_config = config
        demo: list[Row] = Field(max_length=MAX_DEMOS_IN_FILE)

    return File


def demos_from_json(text: str | bytes, source: str = "The demo file") -> tuple[Demo, ...]:
    """Read a demo file (ours or the reference's); a one-line DataError says what is wrong."""
    from pydantic import ValidationError

    if len(text) > MAX_DEMO_FILE_BYTES:
        raise DataError(f"{source} is larger than {MAX_DEMO_FILE_BYTES:,} bytes; it is refused.")
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8-sig")
        except UnicodeDecodeError as err:
            raise DataError(f"{source} is not UTF-8 text (byte {err.start}); save it as UTF-8.") from None
    try:
        data = parse_json(text, source, MAX_DEMO_FILE_DEPTH)  # deep nesting, huge integers, repeated keys
    except json.JSONDecodeError as err:
        raise DataError(f"{source} is not valid JSON ({str(err).splitlines()[0][:120]}).") from None
    if not isinstance(data, dict) or not isinstance(data.get("demo"), list):
        raise DataError(f'{source} must be a JSON object with a "demo" list.')
    check_tree(data, source, DEMO_FILE_BOUNDS, holder="a demo file")
    try:
        model = _file_model().model_validate(data)
    except ValidationError as err:
        raise validation_error(source, err) from None
    for i, row in enumerate(model.demo):
        choices = [("choices", text) for pair in (row.choices or {}).items() for text in pair]
        for name, value in [*row, *choices]:
            bad = _CONTROL.search(value) if isinstance(value, str) else None
            if bad:
                raise DataError(f"{source}: demo.{i}.{name}: control character U+{ord(bad[0]):04X}; remove it.")
    demos = []
    for row in model.demo:
        question = row.question.removeprefix("Q: ").removesuffix("\nA:")  # the reference writes "Q: …\nA:"
        if row.choices:
            question = question.removesuffix(f" Answer Choices: {choices_text(row.choices)}")
        demos.append(Demo(question, row.rationale, row.pred_ans, row.gold_ans, row.cluster, row.distance,
                          row.fallback, row.choices))
    return tuple(demos)


def save_demos(demos: Sequence[Demo], path: str | Path) -> None:
    """Write atomically: a crash never leaves half a file."""
    from workbench.atomic import write_text_atomic

    write_text_atomic(path, demos_to_json(demos))


def load_demos(path: str | Path) -> tuple[Demo, ...]:
    from workbench.safeload import read_file

    hint = "give an Auto-CoT demo file (.json)."
    data = read_file(path, missing=hint, folder=hint, max_bytes=MAX_DEMO_FILE_BYTES,
                     too_big=lambda name, size: f"{path} is larger than {MAX_DEMO_FILE_BYTES:,} bytes; it is refused.")
    return demos_from_json(data, str(path))
