"""Orders chosen by the model: Lu et al. 2022's entropy over a probing set ("Fantastically Ordered Prompts").

For K demonstrations, every candidate permutation (all K! up to :data:`MAX_PERMUTATIONS`, else that many seeded
ones, as the paper caps them at 24) becomes a prompt that ends where a new input starts ("...Review:"); the model
samples one probing sequence from each (:data:`PROBE_DECODING`: temperature 2, no repeated 3-grams, 128 tokens, as
the paper). The sequences are parsed in the prompt's own format into input/label pairs (:func:`parse_probes`); the
labels are dropped and the inputs make one probing set, shared by every permutation. Each permutation then answers
every probing input by label scoring, and is scored by

* **GlobalE** (:func:`global_entropy`): the entropy of the distribution of predicted labels over the probing set
  (a prompt that predicts one label for everything scores 0);
* **LocalE** (:func:`local_entropy`): the mean over the probing set of the entropy of each input's label
  probabilities.

The highest wins (the first of equals). The paper keeps its top 4 and reports their mean; an order has to be one
permutation, so we keep the best. :class:`ModelOrders` probes each set of demonstrations once and caches what the
model said, so every item that gets the same set reuses the choice (both statistics included).

    >>> fmt = ProbeFormat(start="Review:", end="Sentiment:", separator="\\n\\n")
    >>> parse_probes(" a fine film\\nSentiment: positive\\n\\nReview: dull\\nSentiment: negative\\n\\nReview: cut o", fmt)
    [Probe(input='a fine film', label='positive'), Probe(input='dull', label='negative')]
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from itertools import permutations
from typing import TYPE_CHECKING

import numpy as np

from workbench.data import Example
from workbench.decoding import DecodingConfig
from workbench.errors import ConfigError, DataError
from workbench.evaluate.calibration import label_probs
from workbench.prompts.rendering import render
from workbench.prompts.spec import PromptSpec

if TYPE_CHECKING:
    from workbench.backends import Backend
    from workbench.retrieval.orders import Order

log = logging.getLogger(__name__)

#: Candidate permutations at most: all K! up to it (K <= 4), else this many distinct seeded ones (the paper's 24).
MAX_PERMUTATIONS = 24
#: How a probing sequence is sampled (the paper: temperature 2 and blocked n-gram repetition, 128 tokens; the
#: budget bounds one sequence, so the probe costs at most MAX_PERMUTATIONS x 128 generated tokens).
PROBE_DECODING = DecodingConfig(do_sample=True, temperature=2.0, no_repeat_ngram_size=3, max_new_tokens=128, seed=0)
#: Probing inputs kept at most (the first input of every sequence first, then the later ones in turn): every
#: permutation answers each by one label-scoring call, so a probe costs at most MAX_PERMUTATIONS x 32 calls.
MAX_PROBES = 32
#: The marker that stands for an input while a prompt is rendered, to find where inputs start and end.
_MARK = "\u2063PROBE\u2063"

#: (demonstrations in order, a probing input) -> the exact prompt that answers it (the evaluation's own rendering).
PromptFor = Callable[[Sequence[Example], str], str]
#: prompt -> one log-likelihood per label, in the spec's label order (the backend's label scoring).
ScoreFor = Callable[[str], Sequence[float]]
#: (done, total, what) while a probe runs.
ProbeProgress = Callable[[int, int, str], None]


def _entropy(p: Sequence[float]) -> float:
    return float(sum(-x * math.log(x) for x in p if x > 0)) + 0.0  # + 0.0: no "-0.0"


def global_entropy(probs: Sequence[Sequence[float]]) -> float:
    """GlobalE: the entropy (nats) of the predicted labels' distribution; a row is one input's label probabilities,
    its prediction the most probable label (the first of equals).

    >>> round(global_entropy([[0.9, 0.1], [0.2, 0.8]]), 6), global_entropy([[0.9, 0.1], [0.6, 0.4]])
    (0.693147, 0.0)
    """
    rows = np.asarray(probs, dtype=float)
    if rows.ndim != 2 or not len(rows):
        raise ValueError("global_entropy needs one row of label probabilities per probing input")
    counts = np.bincount(rows.argmax(axis=1), minlength=rows.shape[1])
    return _entropy(counts / counts.sum())


def local_entropy(probs: Sequence[Sequence[float]]) -> float:
    """LocalE: the mean over inputs of the entropy (nats) of each input's label probabilities.

    >>> round(local_entropy([[0.5, 0.5], [1.0, 0.0]]), 6)
    0.346574
    """
    rows = np.asarray(probs, dtype=float)
    if rows.ndim != 2 or not len(rows):
        raise ValueError("local_entropy needs one row of label probabilities per probing input")
    return float(np.mean([_entropy(r) for r in rows]))


def candidate_permutations(k: int, seed: int = 0) -> list[tuple[int, ...]]:
    """Every permutation of ``range(k)`` in lexicographic order (the selection's own order first) when there are
    at most :data:`MAX_PERMUTATIONS`, else that many distinct ones drawn with ``seed``.

    >>> candidate_permutations(3)
    [(0, 1, 2), (0, 2, 1), (1, 0, 2), (1, 2, 0), (2, 0, 1), (2, 1, 0)]
    >>> len(candidate_permutations(5)), len(set(candidate_permutations(5)))
    (24, 24)
    """
    if math.factorial(k) <= MAX_PERMUTATIONS:
        return list(permutations(range(k)))
    from workbench.retrieval.orders import seeded_permutations

    return seeded_permutations(k, MAX_PERMUTATIONS, seed)


@dataclass(frozen=True)
class ProbeFormat:
    """Where an input starts and ends in the prompt's own format (its query template around the input)."""

    start: str  # the text before the input, stripped ("Review:"); "" when the template starts with it
    end: str  # the text after it, stripped ("Sentiment:"); "" when the template ends with it
    separator: str  # between demonstrations ("\n\n")


@dataclass(frozen=True)
class Probe:
    """One input/label pair parsed from a probing sequence (the label is dropped before scoring)."""

    input: str  # the input the model wrote
    label: str | None  # what it wrote after the end marker; None when the sequence stopped before it


def probe_format(spec: PromptSpec) -> ProbeFormat:
    """The markers of ``spec``'s query template (its raw text around the input).

    >>> probe_format(PromptSpec(query_template="Review: {input}\\nSentiment:"))
    ProbeFormat(start='Review:', end='Sentiment:', separator='\\n\\n')
    """
    query = next(t for kind, t in render(spec, [], _MARK, as_chat=False).parts if kind == "query")
    head, tail = query.split(_MARK, 1)
    return ProbeFormat(head.strip(), tail.strip(), spec.separator)


def probing_prompt(spec: PromptSpec, demos: Sequence[Example], backend: Backend) -> str:
    """The prompt a probing sequence is sampled from: the demonstrations, then the query cut where its input
    starts (the model's own chat template for a chat model)."""
    text = render(spec, demos, _MARK, backend).text
    return text[: text.index(_MARK)]


def parse_probes(text: str, fmt: ProbeFormat) -> list[Probe]:
    """The input/label pairs of a sampled continuation of a :func:`probing_prompt` (which ends where an input
    starts). The first input is kept even when the sequence ran out before its end marker (cut at a separator);
    a later one only when complete; parsing stops at the first piece out of format.

    >>> fmt = ProbeFormat(start="Q:", end="A:", separator="\\n\\n")
    >>> parse_probes(" a\\n\\nQ: b\\nA: 2", fmt), parse_probes("  ", fmt), parse_probes(" x\\nA: 1\\n\\nhello", fmt)
    ([Probe(input='a', label=None), Probe(input='b', label='2')], [], [Probe(input='x', label='1')])
    """
    out: list[Probe] = []
    rest, first = text, True
    while rest.strip():
        sep = rest.find(fmt.separator) if fmt.separator else -1
        end = rest.find(fmt.end) if fmt.end else -1
        if end < 0 or 0 <= sep < end:  # no end marker before the next separator: an unfinished input
            if first:
                piece = (rest[:sep] if sep >= 0 else rest).strip()
                if piece:
                    out.append(Probe(piece, None))
            if sep < 0:
                break
            rest = rest[sep + len(fmt.separator):]
        else:
            after = rest[end + len(fmt.end):]
            cut = after.find(fmt.separator) if fmt.separator else -1
            piece = rest[:end].strip()
            if piece:
                out.append(Probe(piece, (after[:cut] if cut >= 0 else after).strip() or None))
            if cut < 0:
                break
            rest = after[cut + len(fmt.separator):]
        first = False
        if fmt.start:
            if not rest.lstrip().startswith(fmt.start):
                break
            rest = rest.lstrip()[len(fmt.start):]
    return out


@dataclass(frozen=True)
class ProbeResult:
    """What the model said about one set of demonstrations: the candidates, the probing set, the label
    probabilities of every candidate on every probing input."""

    permutations: tuple[tuple[int, ...], ...]  # candidate orders, as positions into the demonstrations given
    probes: tuple[str, ...]  # the probing inputs, in the order they were kept
    probs: tuple[tuple[tuple[float, ...], ...], ...]  # [candidate][probe] -> label probabilities (spec label order)

    def scores(self, statistic: Callable[[Sequence[Sequence[float]]], float]) -> list[float]:
        """The statistic of every candidate, in candidate order."""
        return [statistic(rows) for rows in self.probs]

    def best(self, statistic: Callable[[Sequence[Sequence[float]]], float]) -> int:
        """The candidate with the highest statistic (the first of equals)."""
        values = self.scores(statistic)
        return max(range(len(values)), key=lambda i: (values[i], -i))


def probe(
    spec: PromptSpec,
    demos: Sequence[Example],
    backend: Backend,
    prompt_for: PromptFor | None = None,
    score: ScoreFor | None = None,
    seed: int = 0,
    progress: ProbeProgress | None = None,
    max_probes: int = MAX_PROBES,
    decoding: DecodingConfig = PROBE_DECODING,
) -> ProbeResult:
    """Sample the probing set from every candidate order of ``demos`` and score each candidate on it.

    ``prompt_for`` renders a candidate's prompt for a probing input (default: :func:`render`); ``score`` gives
    one log-likelihood per label after it (default: the backend's label scoring of " " + each label);
    ``max_probes`` bounds the probing set (:data:`MAX_PROBES`), ``decoding`` samples it (:data:`PROBE_DECODING`;
    its seed is ``seed``). Raises a DataError when the model wrote no input
    in the prompt's format.
    """
    if not spec.labels:
        raise ConfigError("Entropy orders compare the label probabilities of a prompt; this prompt has no label set.")
    demos = tuple(demos)
    if not demos:
        raise ConfigError("Entropy orders need demonstrations to order.")
    words = [" " + label for label in spec.labels]
    prompt_for = prompt_for or (lambda ds, text: render(spec, ds, text, backend).text)
    score = score or (lambda prompt: [s.logprob for s in backend.score_details(prompt, words)])
    perms = candidate_permutations(len(demos), seed)
    fmt = probe_format(spec)
    if progress is not None:
        progress(0, len(perms), "sampling the probing set")
    prompts = [probing_prompt(spec, [demos[i] for i in p], backend) for p in perms]
    gens = backend.generate(prompts, decoding.replace(seed=seed))
    parsed = [[p.input for p in parse_probes(g[0].text, fmt)] if not g[0].failed else [] for g in gens]
    inputs: list[str] = []
    for rank in range(max((len(p) for p in parsed), default=0)):  # the first of every sequence, then the next
        inputs += [p[rank] for p in parsed if rank < len(p)]
    inputs = inputs[:max_probes]
    if not inputs:
        raise DataError(f"The model wrote no input in the prompt's format in {len(perms)} probing samples, so no "
                        "entropy order can be chosen; choose another order.")
    log.info("entropy probe: %d candidates, %d probing inputs", len(perms), len(inputs))
    table = []
    for j, p in enumerate(perms):
        ordered = [demos[i] for i in p]
        table.append(tuple(tuple(label_probs(list(score(prompt_for(ordered, x))))) for x in inputs))
        if progress is not None:
            progress(j + 1, len(perms), "scoring the candidate orders")
    return ProbeResult(tuple(perms), tuple(inputs), tuple(table))


def _demo_key(ex: Example) -> tuple[str, str, str | None]:
    return ex.id, ex.input, ex.answer


class ModelOrders:
    """Model-chosen orders (:attr:`workbench.retrieval.orders.Order.statistic`) for one prompt and model: each
    set of demonstrations is probed once (:func:`probe`), and every statistic's choice is read from that probe.

    Called as ``(order, demos) -> (permutation, note)``: positions into ``demos``, and a line for the reason.
    """

    def __init__(self, spec: PromptSpec, backend: Backend, prompt_for: PromptFor | None = None,
                 score: ScoreFor | None = None, seed: int = 0, progress: ProbeProgress | None = None,
                 max_probes: int = MAX_PROBES, decoding: DecodingConfig = PROBE_DECODING):
        self.spec, self.backend, self.seed, self.progress = spec, backend, seed, progress
        self.max_probes, self.decoding = max_probes, decoding  # the probing set's size at most; how it is sampled
        self.prompt_for, self.score = prompt_for, score
        self.probed: dict[tuple, tuple[tuple[tuple[str, str, str | None], ...], ProbeResult]] = {}

    def result_for(self, demos: Sequence[Example]) -> tuple[tuple[tuple[str, str, str | None], ...], ProbeResult]:
        """The probe of this set of demonstrations (whatever their order), and the order it was probed in."""
        keys = tuple(_demo_key(d) for d in demos)
        key = tuple(sorted(keys, key=repr))  # the set, whatever its order
        if key not in self.probed:
            self.probed[key] = (keys, probe(self.spec, demos, self.backend, self.prompt_for, self.score, self.seed,
                                            self.progress, self.max_probes, self.decoding))
        return self.probed[key]

    def __call__(self, kind: Order, demos: Sequence[Example]) -> tuple[list[int], str]:
        if kind.statistic is None:
            raise ValueError(f"order {kind.name!r} is not chosen by the model")
        probed_keys, result = self.result_for(demos)
        values = result.scores(kind.statistic)
        best = result.best(kind.statistic)
        free = [_demo_key(d) for d in demos]  # positions in this call's order (a repeated demo: the next one)
        perm = []
        for i in result.permutations[best]:
            at = free.index(probed_keys[i])
            free[at] = None
            perm.append(at)
        note = (f"order {kind.name}: the best of {len(values)} candidate orders ({values[best]:.3f} nats; lowest "
                f"{min(values):.3f}) over a probing set of {len(result.probes)} model-written inputs")
        return perm, note
