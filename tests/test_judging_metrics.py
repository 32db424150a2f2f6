"""The text metrics and latency (workbench.judging.metrics) with promptfoo's meaning and default thresholds:
levenshtein, rouge-n, bleu, similar (on the real shipped MiniLM) and latency, passing and failing, negated,
weighted, with the gold answer as the default reference; their numbers are the reference libraries' own."""

from __future__ import annotations

import pytest

from workbench.data import Example
from workbench.errors import ConfigError
from workbench.evaluate.records import CheckVerdict
from workbench.judging.base import Case
from workbench.judging.registry import build_check, build_checks
from workbench.judging.tools import JudgeTools
from workbench.judging.verdicts import combine

ITEM = Example("1", "What is the capital of France?", "Paris is the capital of France.")


@pytest.fixture(scope="module")
def tools():
    """The real shipped MiniLM, loaded once for this module."""
    from workbench.retrieval.embedder import load_embedder

    return JudgeTools(embedder=load_embedder())


def verdict(spec, output: str, item: Example = ITEM, tools: JudgeTools | None = None, **case) -> CheckVerdict:
    return build_check(spec).run(Case(output=output, item=item, **case), tools)


def outcome(spec, output: str, **case) -> tuple[bool, float, str]:
    v = verdict(spec, output, **case)
    assert v.error is None, v.error
    return v.passed, v.score, v.reason


# ---- levenshtein -------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("spec", "output", "expected"), [
    ("levenshtein: Paris", "Paris", (True, 1.0, "edit distance 0 ≤ 5")),
    ("levenshtein: Paris", "Parrris!", (True, 1.0, "edit distance 3 ≤ 5")),
    ("levenshtein: Paris", "London, England", (False, 0.0, "edit distance 15 > 5")),  # promptfoo's default: 5
    ({"type": "levenshtein", "value": "Paris", "threshold": 0}, "Pariss", (False, 0.0, "edit distance 1 > 0")),
    ({"type": "levenshtein", "value": "Paris", "threshold": 1}, "pariss", (False, 0.0, "edit distance 2 > 1")),
    ({"type": "levenshtein"}, "Paris is the capital of France", (True, 1.0, "edit distance 1 ≤ 5")),  # the gold
    ("not-levenshtein: Paris", "London, England", (True, 1.0, "not: edit distance 15 > 5")),
    ("not-levenshtein: Paris", "Paris", (False, 0.0, "not: edit distance 0 ≤ 5")),
])
def test_levenshtein(spec, output, expected):
    assert outcome(spec, output) == expected


# ---- rouge-n and bleu --------------------------------------------------------------------------------------

@pytest.mark.parametrize(("spec", "output", "expected"), [
    ("rouge-n: the cat sat on the mat", "The cat sat on the mat.", (True, 1.0, "ROUGE-1 recall 1.00 ≥ 0.75")),
    ("rouge-n: the cat sat on the mat", "the cat sat", (False, 0.5, "ROUGE-1 recall 0.50 < 0.75")),
    ({"type": "rouge-n", "value": "the cat sat on the mat", "threshold": 0.5}, "the cat sat",
     (True, 0.5, "ROUGE-1 recall 0.50 ≥ 0.5")),
    ({"type": "rouge-n"}, "The capital of France is Paris.", (True, 1.0, "ROUGE-1 recall 1.00 ≥ 0.75")),  # the gold
    ({"type": "rouge-n"}, "France.", (False, 0.166667, "ROUGE-1 recall 0.17 < 0.75")),
    ("not-rouge-n: the cat sat on the mat", "the cat sat", (True, 0.5, "not: ROUGE-1 recall 0.50 < 0.75")),
    ("not-rouge-n: the cat sat on the mat", "the cat sat on the mat", (False, 0.0, "not: ROUGE-1 recall 1.00 ≥ "
                                                                                   "0.75")),
])
def test_rouge_n(spec, output, expected):
    assert outcome(spec, output) == expected


@pytest.mark.parametrize(("spec", "output", "expected"), [
    # promptfoo's bleu.ts gives (8/9 * 7/8 * 6/7 * 5/6) ** (1/4) = (5/9) ** 0.25 here too
    ("bleu: The quick brown fox jumps over the lazy dog", "A quick brown fox jumps over the lazy dog",
     (True, round((5 / 9) ** 0.25, 6), "BLEU 0.86 ≥ 0.5")),
    ("bleu: The quick brown fox jumps over the lazy dog", "the QUICK brown fox jumps over the lazy dog",
     (True, 1.0, "BLEU 1.00 ≥ 0.5")),  # lower-cased, as promptfoo
    ("bleu: the cat sat on the mat", "the cat is on the mat", (False, 0.008034, "BLEU 0.01 < 0.5")),
    ({"type": "bleu", "value": ["the cat sat on the mat", "there is a cat on the mat"]},
     "there is a cat on the mat today", (True, 0.840896, "BLEU 0.84 ≥ 0.5")),
    ({"type": "bleu", "value": "the cat sat on the mat", "threshold": 0.005}, "the cat is on the mat",
     (True, 0.008034, "BLEU 0.01 ≥ 0.005")),
    ({"type": "bleu"}, "Paris is the capital of France.", (True, 1.0, "BLEU 1.00 ≥ 0.5")),  # the gold
    ("not-bleu: the cat sat on the mat", "the cat is on the mat", (True, 0.991966, "not: BLEU 0.01 < 0.5")),
])
def test_bleu(spec, output, expected):
    assert outcome(spec, output) == expected


PAIRS = [("The cat sat on the mat.", "The cat sat on the mat."),
         ("the cat is on the mat", "the cat sat on the mat"),
         ("Paris is the capital of France", "The capital of France is Paris"),
         ("A quick brown fox jumps over the lazy dog", "The quick brown fox jumps over the lazy dog"),
         ("It rained heavily in Paris on Monday, 3 May.", "Heavy rain fell on Paris on Monday 3 May"),
         ("completely different words", "nothing in common here at all")]


@pytest.mark.parametrize(("output", "reference"), PAIRS)
def test_rouge_n_and_bleu_are_the_reference_libraries_numbers(output, reference):
    from rouge_score.rouge_scorer import RougeScorer
    from sacrebleu.metrics import BLEU

    rouge1 = RougeScorer(["rouge1"]).score(reference, output)["rouge1"].recall
    bleu = BLEU(lowercase=True, tokenize="none", smooth_method="floor", smooth_value=1e-7,
                effective_order=False).corpus_score([output], [[reference]]).score / 100
    assert verdict({"type": "rouge-n", "value": reference}, output).score == round(rouge1, 6)
    assert verdict({"type": "bleu", "value": reference}, output).score == round(bleu, 6)


# ---- similar (the real MiniLM) --------------------------------------------------------------------------------

@pytest.mark.parametrize(("spec", "output", "passed", "score"), [
    ({"type": "similar"}, "The capital of France is Paris.", True, 0.9894),  # the gold answer, default 0.75
    ("similar: The capital of France is Paris.", "I like turtles.", False, 0.0072),
    ({"type": "similar", "value": "a city", "threshold": 0.5}, "Paris", True, 0.5248),
    ({"type": "similar", "value": "a city", "threshold": 0.6}, "Paris", False, 0.5248),
    # a list passes on its most similar entry; not-similar passes only when every entry is below
    ({"type": "similar", "value": ["I like turtles.", "The capital of France is Paris."]},
     "Paris is the capital of France.", True, 0.9894),
    ({"type": "not-similar", "value": ["I like turtles.", "The capital of France is Paris."]},
     "Paris is the capital of France.", False, 1 - 0.9894),
    ("not-similar: The capital of France is Paris.", "I like turtles.", True, 1 - 0.0072),
])
def test_similar_on_the_shipped_minilm(tools, spec, output, passed, score):
    v = verdict(spec, output, tools=tools)
    assert v.error is None and v.passed is passed
    assert v.score == pytest.approx(score, abs=2e-3)


def test_similar_embeds_a_fixed_value_once_per_run(tools):
    calls = []

    class Counting:
        id = "counting"

        def encode(self, texts, *args, **kwargs):
            calls.append(list(texts))
            return tools.embedder().encode(texts)

    run_tools = JudgeTools(embedder=Counting())
    check = build_check("similar: a capital city")
    for output in ("Paris", "Rome"):
        check.run(Case(output=output, item=ITEM), run_tools)
    assert calls == [["Paris", "a capital city"], ["Rome"]]


def test_similar_from_a_csv_cell_carries_its_threshold(tools):
    check = build_check("similar(0.5): a city")
    assert (check.threshold, check.value) == (0.5, "a city")
    assert check.run(Case(output="Paris", item=ITEM), tools).passed


# ---- latency ------------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("spec", "seconds", "expected"), [
    ({"type": "latency", "threshold": 500}, 0.25, (True, 1.0, "250 ms ≤ 500 ms")),
    ({"type": "latency", "threshold": 500}, 0.75, (False, 0.0, "750 ms > 500 ms")),
    ({"type": "not-latency", "threshold": 500}, 0.75, (True, 1.0, "not: 750 ms > 500 ms")),
])
def test_latency(spec, seconds, expected):
    assert outcome(spec, "x", seconds=seconds) == expected


def test_an_unmeasured_latency_is_that_items_error():
    v = verdict({"type": "latency", "threshold": 500}, "x", seconds=None)
    assert (v.passed, v.error) == (False, "this item's time was not measured: the answer came from the response "
                                          "cache; rerun without the cache.")


# ---- the gold answer as reference, weights and thresholds, bad values ----------------------------------------

def test_an_item_without_a_gold_answer_is_that_items_error():
    v = verdict({"type": "rouge-n"}, "anything", item=Example("7", "q", " "))
    assert (v.passed, v.error) == (False, "item 7 has no gold answer to compare with; give the check a value.")


def test_metric_scores_weight_the_items_score():
    checks = build_checks([{"type": "rouge-n", "value": "the cat sat on the mat", "weight": 3},
                           {"type": "levenshtein", "value": "the cat sat"}, {"type": "latency", "threshold": 100}])
    verdicts = [c.run(Case(output="the cat sat", item=ITEM, seconds=0.5)) for c in checks]
    assert [(v.passed, v.score) for v in verdicts] == [(False, 0.5), (True, 1.0), (False, 0.0)]
    assert combine(verdicts, None) == (False, 0.5)  # (3 * 0.5 + 1 + 0) / 5
    assert combine(verdicts, 0.5) == (True, 0.5)
    assert combine(verdicts, 0.51) == (False, 0.5)


@pytest.mark.parametrize(("spec", "line"), [
    ({"type": "rouge-n", "value": "x", "threshold": 1.5}, "t.yaml: assertion 'rouge-n': threshold 1.5 is outside "
                                                          "0..1."),
    ({"type": "bleu", "value": "x", "threshold": -0.1}, "t.yaml: assertion 'bleu': threshold -0.1 is outside 0..1."),
    ({"type": "similar", "value": "x", "threshold": 2}, "t.yaml: assertion 'similar': threshold 2 is outside -1..1."),
    ({"type": "similar", "value": "x", "threshold": "high"},
     "t.yaml: assertion 'similar': threshold must be a number, not 'high'."),
    ({"type": "levenshtein", "value": "x", "threshold": -1},
     "t.yaml: assertion 'levenshtein': threshold -1 is outside 0..inf."),
    ({"type": "latency"}, "t.yaml: assertion 'latency': needs a threshold: the most milliseconds an item may take, "
                          "e.g. threshold: 5000."),
    ({"type": "not-latency", "value": "x", "threshold": 5}, "t.yaml: assertion 'not-latency' takes no value."),
    ({"type": "similar", "value": []}, "t.yaml: assertion 'similar': the list has no entries."),
    ({"type": "rouge-n", "value": ["a", "b"]}, "t.yaml: assertion 'rouge-n': the value must be text or a number, "
                                               "not list."),
    ({"type": "bleu", "value": [{"a": 1}]}, "t.yaml: assertion 'bleu': the value must be text or a number, not dict."),
    ({"type": "levenshtein", "value": "file://gold.txt"},
     "t.yaml: assertion 'levenshtein': 'file://gold.txt': values are not read from files (file://); write the value "
     "inline."),
])
def test_bad_metric_values_are_one_line(spec, line):
    with pytest.raises(ConfigError) as err:
        build_check(spec, "t.yaml")
    assert str(err.value) == line
