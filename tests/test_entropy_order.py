"""Orders chosen by entropy (Lu et al. 2022): GlobalE / LocalE, the probing-set parser, the permutation chosen on
the fake backend with scripted probing samples and scripted label scores, the evaluation path (one probe per set
of demonstrations), the strategy modifier, and one real gemma-3-270m probe with K=3 (6 candidate orders)."""

from __future__ import annotations

import math
import re

import pytest

from tests.fakes import FakeBackend
from workbench.data import Example, Pool
from workbench.errors import ConfigError, DataError
from workbench.evaluate.runner import evaluate
from workbench.evaluate.strategies import Strategy, make_strategy, parse_strategy_name
from workbench.prompts.spec import PromptSpec
from workbench.retrieval.entropy import (
    MAX_PERMUTATIONS,
    PROBE_DECODING,
    ModelOrders,
    Probe,
    ProbeFormat,
    candidate_permutations,
    global_entropy,
    local_entropy,
    parse_probes,
    probe,
    probe_format,
    probing_prompt,
)
from workbench.retrieval.orders import ORDER_KINDS, order
from workbench.retrieval.selectors.base import Selection
from workbench.store import open_store

SPEC = PromptSpec(demo_template="Review: {input}\nSentiment: {answer}", query_template="Review: {input}\nSentiment:",
                  answer_format="label", labels=("positive", "negative"))
A = Example(id="a", input="alpha film", answer="positive")
B = Example(id="b", input="beta film", answer="negative")
C = Example(id="c", input="gamma film", answer="positive")
NAMES = {"alpha": "A", "beta": "B", "gamma": "C"}


def H(*p: float) -> float:
    return -sum(x * math.log(x) for x in p if x > 0)


# --------------------------------------------------------------------------- the statistics

def test_global_entropy_is_the_entropy_of_the_predicted_labels():
    # predictions: positive, positive, negative, negative -> (1/2, 1/2)
    rows = [[0.9, 0.1], [0.6, 0.4], [0.3, 0.7], [0.45, 0.55]]
    assert global_entropy(rows) == pytest.approx(math.log(2))
    # three labels, predicted 2, 1, 0 times: (2/3, 1/3, 0)
    assert global_entropy([[0.5, 0.3, 0.2], [0.7, 0.2, 0.1], [0.1, 0.8, 0.1]]) == pytest.approx(H(2 / 3, 1 / 3))
    assert global_entropy([[0.51, 0.49], [0.99, 0.01]]) == 0.0  # one label for everything
    assert global_entropy([[0.5, 0.5], [0.5, 0.5]]) == 0.0  # ties go to the first label
    with pytest.raises(ValueError):
        global_entropy([])


def test_local_entropy_is_the_mean_entropy_of_each_input():
    assert local_entropy([[0.5, 0.5], [0.9, 0.1]]) == pytest.approx((math.log(2) + H(0.9, 0.1)) / 2)
    assert local_entropy([[1.0, 0.0, 0.0]]) == 0.0
    assert local_entropy([[0.2, 0.3, 0.5]]) == pytest.approx(1.029653, abs=1e-6)


def test_candidates_are_every_order_up_to_24_then_24_seeded_ones():
    assert candidate_permutations(1) == [(0,)]
    assert len(candidate_permutations(4)) == 24 and candidate_permutations(4)[0] == (0, 1, 2, 3)
    five = candidate_permutations(5, seed=3)
    assert len(set(five)) == MAX_PERMUTATIONS == 24 and five == candidate_permutations(5, seed=3)
    assert five != candidate_permutations(5, seed=4)


# --------------------------------------------------------------------------- the probing set's parser

FMT = ProbeFormat(start="Review:", end="Sentiment:", separator="\n\n")


@pytest.mark.parametrize("text, expected", [
    # whole examples, then one cut by the token budget (dropped)
    (" a good film\nSentiment: positive\n\nReview: a bad one\nSentiment: negative\n\nReview: half",
     [Probe("a good film", "positive"), Probe("a bad one", "negative")]),
    # the first input unfinished at the budget: kept (the paper's probe is the text up to the label marker)
    (" it just goes on and on", [Probe("it just goes on and on", None)]),
    # the first input ended by a separator before any label: kept, then the next example
    (" short one\n\nReview: next\nSentiment: positive", [Probe("short one", None), Probe("next", "positive")]),
    # a label that runs to the end of the text
    (" fine\nSentiment: positive", [Probe("fine", "positive")]),
    # out of format after the first example: parsing stops
    (" fine\nSentiment: positive\n\nThe end of the list.\nSentiment: x", [Probe("fine", "positive")]),
    # an empty input is not a probe; an empty label is None
    ("\nSentiment: positive\n\nReview: ok\nSentiment:\n\n", [Probe("ok", None)]),
    ("   ", []),
    ("", []),
])
def test_parse_probes(text, expected):
    assert parse_probes(text, FMT) == expected


def test_probe_format_and_prompt_come_from_the_spec():
    assert probe_format(SPEC) == FMT
    qa = PromptSpec(instruction="Classify.", labels=("yes", "no"), answer_format="label")
    assert probe_format(qa) == ProbeFormat("Q:", "A:", "\n\n")
    fake = FakeBackend()
    assert probing_prompt(SPEC, [A, B], fake) == ("Review: alpha film\nSentiment: positive\n\n"
                                                  "Review: beta film\nSentiment: negative\n\nReview: ")
    assert parse_probes(" x\nA: yes\n\nQ: y\nA: no", probe_format(qa)) == [Probe("x", "yes"), Probe("y", "no")]


# --------------------------------------------------------------------------- the choice, on scripted scores

def _order_in(text: str) -> str:
    """The demonstrations' order in a prompt, as letters ("CBA")."""
    found = sorted((text.find(word), letter) for word, letter in NAMES.items() if word in text)
    return "".join(letter for _, letter in found)


#: Candidate order -> probe number -> P(positive). ABC: all positive (0.9); CBA: half and half (0.8 / 0.2);
#: BAC: probes 0 and 3 negative, the others positive (0.6 / 0.4); the rest: all negative (0.3).
def _p_positive(order_: str, probe_no: int) -> float:
    if order_ == "ABC":
        return 0.9
    if order_ == "CBA":
        return 0.8 if probe_no % 2 == 0 else 0.2
    if order_ == "BAC":
        return 0.4 if probe_no % 3 == 0 else 0.6
    return 0.3


CANDIDATES = ["ABC", "ACB", "BAC", "BCA", "CAB", "CBA"]


class ScriptedBackend(FakeBackend):
    """Probing samples name the order they were sampled from; label scores follow :func:`_p_positive`."""

    def __init__(self):
        super().__init__(reply=lambda prompt, seed: f" review seen {_order_in(prompt)}\nSentiment: positive\n\n"
                                                    "Review: cut by the budget")

    def _continuation_logprobs(self, prompt_ids, continuations):
        text = self._text(prompt_ids)
        self.scored.append(text)
        seen = re.findall(r"review seen (\w+)", text)
        probe_no = CANDIDATES.index(seen[-1]) if seen else 0  # an evaluated item: as probe 0
        p = _p_positive(_order_in(text.split("review seen")[0]), probe_no)
        return [math.log(p if self._text(ids).strip() == "positive" else 1 - p) for ids in continuations]


def test_probe_samples_once_per_candidate_and_scores_every_candidate_on_every_input():
    fake = ScriptedBackend()
    result = probe(SPEC, [A, B, C], fake)
    assert fake.calls == [6]  # one batched call: one sequence per candidate
    assert result.probes == tuple(f"review seen {o}" for o in CANDIDATES)  # the cut-off second inputs dropped
    assert len(fake.scored) == 36  # 6 candidates x 6 probing inputs
    assert [round(v, 6) for v in result.scores(global_entropy)] == [0.0, 0.0, round(H(2 / 3, 1 / 3), 6), 0.0, 0.0,
                                                                     round(math.log(2), 6)]
    assert result.scores(local_entropy) == pytest.approx([H(0.9, 0.1), H(0.3, 0.7), H(0.6, 0.4), H(0.3, 0.7),
                                                          H(0.3, 0.7), H(0.8, 0.2)])
    assert result.permutations[result.best(global_entropy)] == (2, 1, 0)  # CBA
    assert result.permutations[result.best(local_entropy)] == (1, 0, 2)  # BAC


def test_model_orders_probe_each_set_once_whatever_its_order():
    fake = ScriptedBackend()
    orders = ModelOrders(SPEC, fake)
    perm, note = orders(ORDER_KINDS["global-entropy"], [A, B, C])
    assert perm == [2, 1, 0]
    assert note == ("order global-entropy: the best of 6 candidate orders (0.693 nats; lowest 0.000) over a probing "
                    "set of 6 model-written inputs")
    assert orders(ORDER_KINDS["local-entropy"], [A, B, C])[0] == [1, 0, 2]
    assert orders(ORDER_KINDS["global-entropy"], [C, A, B])[0] == [0, 2, 1]  # C, B, A in the new positions
    assert fake.calls == [6] and len(fake.scored) == 36  # one probe for the set


def test_order_needs_a_chooser_for_a_model_chosen_order():
    sel = Selection((5, 6), (0.1, 0.2), "knn")
    with pytest.raises(ConfigError, match="chosen by the model over a probing set"):
        order(sel, "global-entropy")
    chosen = order(sel, "local-entropy", choose=lambda kind, s: ([1, 0], f"{kind.name}: 2 candidates"))
    assert chosen.indices == (6, 5) and chosen.reason == "knn; local-entropy: 2 candidates"
    assert order(sel, "similar_first").reason == "knn"  # pure orders keep the reason


def test_a_model_that_writes_nothing_is_one_line():
    fake = FakeBackend(reply=lambda prompt, seed: "   ")
    with pytest.raises(DataError, match="wrote no input in the prompt's format in 6 probing samples"):
        probe(SPEC, [A, B, C], fake)
    with pytest.raises(ConfigError, match="no label set"):
        probe(PromptSpec(), [A, B], fake)


# --------------------------------------------------------------------------- strategies and the evaluation

def test_an_order_modifier_in_a_strategy_name():
    assert parse_strategy_name("random4+global-entropy").order == "global-entropy"
    assert parse_strategy_name("knn2+score+local-entropy").order == "local-entropy"
    assert parse_strategy_name("knn4+similar_first").order == "similar_first"
    assert parse_strategy_name("knn4").order is None
    with pytest.raises(ConfigError, match="Unknown modifier 'global-entropy'"):
        parse_strategy_name("zero+global-entropy")
    s = make_strategy("random3+global-entropy", SPEC, answer="score")
    assert s.order == "global-entropy" and s.k == 3
    assert make_strategy("knn3", SPEC, order="local-entropy").order == "local-entropy"  # the run's --order
    assert make_strategy("knn3+random", SPEC, order="local-entropy").order == "random"  # the name wins
    assert make_strategy("zero", SPEC, order="local-entropy").order == "similar_last"  # no demonstrations
    with pytest.raises(ConfigError, match="no label set"):
        make_strategy("knn2+global-entropy", PromptSpec())
    with pytest.raises(ConfigError, match="unknown order 'sideways'"):
        Strategy("x", SPEC, selector="knn", k=2, order="sideways")


def test_evaluation_orders_fixed_demonstrations_by_entropy_once_for_every_item(tmp_path):
    fake = ScriptedBackend()
    items = Pool("items", (Example(id="1", input="one more", answer="positive"),
                           Example(id="2", input="another", answer="negative")))
    strategies = [Strategy(f"fixed3+score+{how}", SPEC, selector="fixed", k=3, order=how, answer="score",
                           demos=(A, B, C)) for how in ("global-entropy", "local-entropy")]
    with open_store(tmp_path / "wb.db") as store:
        run = evaluate(items, None, strategies, fake, store)
    assert run.status == "finished"
    by = {(r["strategy"], r["id"]): r for r in run.records}
    for item in ("1", "2"):
        assert by[("fixed3+score+global-entropy", item)]["demos"] == ["c", "b", "a"]
        assert by[("fixed3+score+local-entropy", item)]["demos"] == ["b", "a", "c"]
    assert "order global-entropy: the best of 6 candidate orders (0.693 nats" in \
        by[("fixed3+score+global-entropy", "1")]["selection"]
    # one probe per strategy (the second strategy's probe: the same prompts, from the response cache)
    assert fake.calls == [6]
    # CBA predicts positive for an item (P = 0.8), BAC too (0.4 -> negative: the item counts as probe 0)
    assert by[("fixed3+score+global-entropy", "1")]["extracted"] == "positive"
    assert by[("fixed3+score+local-entropy", "1")]["extracted"] == "negative"


# --------------------------------------------------------------------------- the real model

def test_gemma_chooses_among_six_orders_of_three_demonstrations(gemma):
    assert (PROBE_DECODING.temperature, PROBE_DECODING.no_repeat_ngram_size, PROBE_DECODING.max_new_tokens) == \
        (2.0, 3, 128)  # the paper's sampling
    demos = [Example(id="p1", input="A moving, beautifully acted film.", answer="positive"),
             Example(id="n1", input="Dull, slow and far too long.", answer="negative"),
             Example(id="p2", input="Funny from start to finish.", answer="positive")]
    # a tiny probing set: 6 samples of at most 32 tokens (the paper's 128 in use), 6 x 3 scoring calls
    orders = ModelOrders(SPEC, gemma, max_probes=3, decoding=PROBE_DECODING.replace(max_new_tokens=32))
    perm, note = orders(ORDER_KINDS["local-entropy"], demos)
    _, result = orders.result_for(demos)
    assert len(result.permutations) == 6 and 1 <= len(result.probes) <= 3
    assert all(x.strip() and "\nSentiment:" not in x for x in result.probes)
    for rows in result.probs:
        assert len(rows) == len(result.probes)
        assert all(len(r) == 2 and sum(r) == pytest.approx(1.0) for r in rows)
    g, loc = result.scores(global_entropy), result.scores(local_entropy)
    assert all(0.0 <= v <= math.log(2) + 1e-9 for v in g + loc)
    assert perm == list(result.permutations[result.best(local_entropy)])
    assert note.startswith("order local-entropy: the best of 6 candidate orders")
    assert note.endswith(f"over a probing set of {len(result.probes)} model-written inputs")
