"""The algorithm: per cluster, the first member (nearest its centre first) whose rationale passes the filters,
as the reference's ``run_demo.py`` walks the clusters; the build's result with every candidate tried."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace

import numpy as np

from workbench.autocot.clustering import cluster_order, kmeans
from workbench.autocot.config import DEFAULT_CONFIG, AutoCoTConfig
from workbench.autocot.demo import Demo, as_examples
from workbench.autocot.filters import (
    collapse_whitespace,
    full_rationale,
    heuristic_failures,
    question_text,
    question_words,
)
from workbench.autocot.reasoner import ReasonFn, Reasoning, reason_all
from workbench.data import Example
from workbench.errors import DataError


@dataclass(frozen=True)
class Candidate:
    """One question tried for a cluster, and why it was kept or skipped."""

    index: int  # row in the question pool
    distance: float  # to the cluster centroid
    reasoning: Reasoning | None  # None when skipped before generating (question too long)
    failures: tuple[str, ...]  # filters it failed; empty = kept


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
            demos.append(_demo(pick, pool[pick.index], c, bool(pick.failures)))
    if progress is not None:
        progress(total, total)
    return tuple(demos), tuple(tuple(t) for t in tried)


def _demo(pick: Candidate, ex: Example, cluster: int, fallback: bool) -> Demo:
    """The demonstration a candidate with a rationale gives, written as the reference's demo files hold it."""
    return Demo(ex.input, collapse_whitespace(full_rationale(pick.reasoning.rationale)),
                (pick.reasoning.answer or "").strip(), ex.answer, cluster, round(pick.distance, 6), fallback,
                ex.choices)


def build_demos(
    pool: Sequence[Example],
    vectors: np.ndarray,
    reason: ReasonFn,
    cfg: AutoCoTConfig = DEFAULT_CONFIG,
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
            demos[c] = _demo(pick, pool[pick.index], c, True)
    ordered = tuple(demos[c] for c in sorted(demos, key=lambda c: -1 if c is None else c))
    return replace(result, demos=ordered)


def redo(demo: Demo, reasoning: Reasoning, cfg: AutoCoTConfig, answer_format: str = "number") -> Demo:
    """``demo`` with a newly generated rationale and answer, written and flagged as :func:`pick_demos` does."""
    failures = heuristic_failures(question_text(demo.question, demo.choices), reasoning, cfg, answer_format)
    return replace(demo, rationale=collapse_whitespace(full_rationale(reasoning.rationale)),
                   pred_ans=(reasoning.answer or "").strip(), fallback=bool(failures))
