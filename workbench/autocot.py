"""Auto-CoT (Zhang et al. 2022): chain-of-thought demonstrations the model writes itself.

Cluster the questions for diversity (k-means on sentence embeddings, k = number of
demonstrations), order each cluster's questions by distance to its centroid, let
Zero-shot-CoT write a rationale for them in that order, and keep the first one that
passes the paper's heuristics. Rationales are generated live by the chosen model
(the paper's public code reads rationales generated beforehand).

    >>> AutoCoTConfig().max_question_words, AutoCoTConfig().max_rationale_steps
    (60, 5)
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from workbench.data import Example
from workbench.decoding import DecodingConfig
from workbench.errors import DataError

if TYPE_CHECKING:
    from workbench.backends import Backend

#: Most bytes a demo file may have on import (untrusted input).
MAX_DEMO_FILE_BYTES = 2_000_000
#: Zero-shot-CoT trigger that starts every rationale (Kojima et al.).
COT_TRIGGER = "Let's think step by step."
#: Stop strings for the reasoning call: a base model would go on to invent the next question.
REASONING_STOPS = ("\nQ:", "\n\n\n")


@dataclass(frozen=True)
class AutoCoTConfig:
    """Auto-CoT parameters; defaults are the paper's."""

    k: int = 8  # demonstrations = k-means clusters (the paper uses 8 for arithmetic)
    max_question_words: int = 60  # heuristic: question at most 60 words
    max_rationale_steps: int = 5  # heuristic: rationale at most 5 reasoning steps (lines)
    require_answer_at_end: bool = True  # heuristic: the predicted answer appears in the last sentence
    max_tries_per_cluster: int = 4  # candidates generated per cluster before falling back (bounds time)
    seed: int = 0  # k-means seed (deterministic clusters)

    def __post_init__(self) -> None:
        from workbench.errors import ConfigError

        if self.k < 1:
            raise ConfigError(f"k must be at least 1 (got {self.k}).")
        if self.max_question_words < 1 or self.max_rationale_steps < 1:
            raise ConfigError("Heuristic limits must be at least 1.")
        if self.max_tries_per_cluster < 1:
            raise ConfigError(f"max_tries_per_cluster must be at least 1 (got {self.max_tries_per_cluster}).")


@dataclass(frozen=True)
class Reasoning:
    """What Zero-shot-CoT produced for one question."""

    rationale: str  # the reasoning text after "Let's think step by step."
    answer: str | None  # extracted from the answer step; None if nothing could be extracted


#: Produces the rationale and answer for a question (Zero-shot-CoT through a backend).
ReasonFn = Callable[[str], Reasoning]


@dataclass(frozen=True)
class Candidate:
    """One question tried for a cluster, and why it was kept or skipped."""

    index: int  # row in the question pool
    distance: float  # to the cluster centroid
    reasoning: Reasoning | None  # None when skipped before generating (question too long)
    failures: tuple[str, ...]  # heuristics it failed; empty = kept


@dataclass(frozen=True)
class Demo:
    """A demonstration in the paper's demo-file shape, plus where it came from."""

    question: str
    rationale: str
    pred_ans: str
    gold_ans: str | None = None
    cluster: int | None = None
    distance: float | None = None
    fallback: bool = False  # True: no candidate passed the heuristics; the nearest was used

    def to_example(self, demo_id: str, trigger: str = COT_TRIGGER) -> Example:
        """As a CoT demonstration for the Prompt Builder (reasoning "auto_cot").

        The rationale starts with the trigger, so the default CoT template gives the
        paper's text: ``Q: {question}\nA: Let's think step by step. {rationale} The answer is {answer}.``
        """
        rationale = self.rationale if self.rationale.startswith(trigger) else f"{trigger} {self.rationale}"
        return Example(id=demo_id, input=self.question, answer=self.pred_ans, rationale=rationale)


@dataclass(frozen=True)
class AutoCoTResult:
    demos: tuple[Demo, ...]
    assignments: np.ndarray = field(repr=False)  # cluster id of every question
    vectors: np.ndarray = field(repr=False)  # normalised embeddings (for the 2-D picture)
    candidates: tuple[tuple[Candidate, ...], ...]  # per cluster, in the order tried

    def examples(self) -> list[Example]:
        return [d.to_example(f"autocot-{i}") for i, d in enumerate(self.demos)]


def zero_shot_cot_reasoner(
    backend: Backend,
    answer_format: str = "number",
    cfg: DecodingConfig = DecodingConfig(max_new_tokens=128),  # noqa: B008 - frozen; greedy by default
) -> ReasonFn:
    """Rationale + answer for a question by Zero-shot-CoT's two calls (the Prompt Builder's runner)."""
    from workbench.prompts import PromptSpec, run_prompt

    spec = PromptSpec(reasoning="zero_shot_cot", answer_format=answer_format, cot_trigger=COT_TRIGGER,
                      stop=REASONING_STOPS)

    def reason(question: str) -> Reasoning:
        run = run_prompt(spec, [], question, backend, cfg)
        return Reasoning(run.stages[0].output.strip(), run.answer)

    return reason


# ---- pure parts ---------------------------------------------------------------------
def clean_rationale(text: str) -> str:
    """Collapse blank lines and trim, as the paper does before counting steps."""
    return "\n".join(line.strip() for line in text.replace("\r", "").split("\n") if line.strip())


def rationale_steps(text: str) -> int:
    """Reasoning steps = non-empty lines (the paper splits on newlines)."""
    return len(clean_rationale(text).split("\n")) if text.strip() else 0


def heuristic_failures(question: str, reasoning: Reasoning, cfg: AutoCoTConfig) -> tuple[str, ...]:
    """Names of the heuristics a candidate fails (empty: it passes)."""
    failures = []
    words = len(question.split())
    if words > cfg.max_question_words:
        failures.append(f"question has {words} words > {cfg.max_question_words}")
    steps = rationale_steps(reasoning.rationale)
    if steps > cfg.max_rationale_steps:
        failures.append(f"rationale has {steps} steps > {cfg.max_rationale_steps}")
    if not reasoning.rationale.strip():
        failures.append("empty rationale")
    if not reasoning.answer:
        failures.append("no answer could be extracted")
    elif cfg.require_answer_at_end and not answer_at_end(reasoning.rationale, reasoning.answer):
        failures.append(f"answer {reasoning.answer} is not at the end of the rationale")
    return tuple(failures)


def answer_at_end(rationale: str, answer: str) -> bool:
    """True when ``answer`` occurs in the rationale's last sentence.

    >>> answer_at_end("5 + 3 = 8. So she has 8 apples.", "8")
    True
    """
    sentences = [s for s in re.split(r"(?<=[.!?])\s+", clean_rationale(rationale).replace("\n", " ")) if s.strip()]
    if not sentences:
        return False
    last = sentences[-1].replace(",", "")
    return re.search(rf"(?<![\w.]){re.escape(answer)}(?![\w])", last) is not None


def cluster_order(vectors: np.ndarray, assignments: np.ndarray) -> list[list[tuple[int, float]]]:
    """Per cluster, its members as (row, distance to centroid), nearest first.

    >>> v = np.array([[1, 0], [0.8, 0.6], [0, 1]], dtype=np.float32)
    >>> cluster_order(v, np.array([0, 0, 1]))[0][0][0]
    0
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


def pick_demos(
    questions: Sequence[str],
    ordered: list[list[tuple[int, float]]],
    reason: ReasonFn,
    cfg: AutoCoTConfig,
    gold: Sequence[str | None] | None = None,
    progress: Callable[[int, int], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> tuple[tuple[Demo, ...], tuple[tuple[Candidate, ...], ...]]:
    """For each cluster, the first candidate passing the heuristics (or the nearest, flagged)."""
    demos, tried_all = [], []
    total = len(ordered) * cfg.max_tries_per_cluster
    done = 0
    for c, members in enumerate(ordered):
        tried: list[Candidate] = []
        chosen = None
        for row, dist in members:
            if should_stop is not None and should_stop():
                raise InterruptedError("Auto-CoT was cancelled.")
            generated = sum(1 for t in tried if t.reasoning is not None)
            if generated >= cfg.max_tries_per_cluster:
                break
            q = questions[row]
            if len(q.split()) > cfg.max_question_words:
                tried.append(Candidate(row, dist, None, (f"question has {len(q.split())} words > "
                                                         f"{cfg.max_question_words}",)))
                continue
            reasoning = reason(q)
            done += 1
            if progress is not None:
                progress(min(done, total), total)
            failures = heuristic_failures(q, reasoning, cfg)
            tried.append(Candidate(row, dist, reasoning, failures))
            if not failures:
                chosen = (tried[-1], False)
                break
        if chosen is None:
            nearest = next((t for t in tried if t.reasoning is not None), None)
            if nearest is None and members:  # every question too long: generate for the nearest anyway
                row, dist = members[0]
                nearest = Candidate(row, dist, reason(questions[row]), ("question too long",))
                tried.append(nearest)
            chosen = (nearest, True) if nearest is not None else None
        if chosen is not None:
            cand, fallback = chosen
            demos.append(Demo(questions[cand.index], clean_rationale(cand.reasoning.rationale).replace("\n", " "),
                              cand.reasoning.answer or "", gold[cand.index] if gold else None, c,
                              round(cand.distance, 6), fallback))
        tried_all.append(tuple(tried))
        done = (c + 1) * cfg.max_tries_per_cluster
        if progress is not None:
            progress(min(done, total), total)
    return tuple(demos), tuple(tried_all)


def build_demos(
    pool: Sequence[Example],
    vectors: np.ndarray,
    reason: ReasonFn,
    cfg: AutoCoTConfig = AutoCoTConfig(),
    progress: Callable[[int, int], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> AutoCoTResult:
    """The whole algorithm over a pool whose questions are already embedded (normalised rows)."""
    from workbench.retrieval import kmeans_assign

    if len(pool) == 0:
        raise DataError("The question pool is empty; load a pool with at least one question.")
    assignments = kmeans_assign(np.asarray(vectors, dtype=np.float32), cfg.k, seed=cfg.seed)
    ordered = cluster_order(np.asarray(vectors, dtype=np.float32), assignments)
    questions = [ex.input for ex in pool]
    gold = [ex.answer for ex in pool]
    demos, candidates = pick_demos(questions, ordered, reason, cfg, gold, progress, should_stop)
    return AutoCoTResult(demos, assignments, np.asarray(vectors), candidates)


# ---- files --------------------------------------------------------------------------
def demos_to_json(demos: Sequence[Demo]) -> str:
    """The paper's demo-file shape: {"demo": [{"question", "rationale", "pred_ans", "gold_ans"}, ...]}."""
    rows = []
    for d in demos:
        row = {"question": d.question, "rationale": d.rationale, "pred_ans": d.pred_ans, "gold_ans": d.gold_ans}
        row.update({"cluster": d.cluster, "distance": d.distance, "fallback": d.fallback})
        rows.append(row)
    return json.dumps({"demo": rows}, indent=2, ensure_ascii=False)


def demos_from_json(text: str | bytes) -> tuple[Demo, ...]:
    """Read a demo file (ours or the paper's); a DataError says what is wrong."""
    if len(text) > MAX_DEMO_FILE_BYTES:
        raise DataError(f"The demo file is larger than {MAX_DEMO_FILE_BYTES // 1_000_000} MB; it is refused.")
    try:
        data = json.loads(text)
    except (ValueError, UnicodeDecodeError) as err:
        raise DataError(f"The demo file is not valid JSON ({err}).") from None
    if not isinstance(data, dict) or not isinstance(data.get("demo"), list):
        raise DataError('The demo file must be a JSON object with a "demo" list.')
    demos = []
    for i, row in enumerate(data["demo"]):
        if not isinstance(row, dict):
            raise DataError(f"Demo {i} is not an object.")
        missing = [k for k in ("question", "rationale", "pred_ans") if not isinstance(row.get(k), str)]
        if missing:
            raise DataError(f"Demo {i} lacks text field(s): {', '.join(missing)}.")
        question = row["question"].removesuffix("\nA:")  # the paper's files end questions with "\nA:"
        demos.append(Demo(question, row["rationale"], row["pred_ans"],
                          None if row.get("gold_ans") is None else str(row.get("gold_ans")),
                          row.get("cluster") if isinstance(row.get("cluster"), int) else None,
                          row.get("distance") if isinstance(row.get("distance"), (int, float)) else None,
                          bool(row.get("fallback", False))))
    return tuple(demos)


def save_demos(demos: Sequence[Demo], path: str | Path) -> None:
    """Write atomically: a crash never leaves half a file."""
    path = Path(path)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(demos_to_json(demos), encoding="utf-8")
    tmp.replace(path)


def load_demos(path: str | Path) -> tuple[Demo, ...]:
    path = Path(path)
    if not path.is_file():
        raise DataError(f"No demo file at {path}.")
    if path.stat().st_size > MAX_DEMO_FILE_BYTES:
        raise DataError(f"{path} is larger than {MAX_DEMO_FILE_BYTES // 1_000_000} MB; it is refused.")
    return demos_from_json(path.read_text(encoding="utf-8"))
