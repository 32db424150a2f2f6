"""Evaluate: strategy names, calibration, metrics, order sensitivity, and real runs (resume, determinism)."""

from __future__ import annotations

import dataclasses
import math
from fractions import Fraction
from itertools import permutations

import pytest

from workbench.answers import AnswerFormat
from workbench.data import Example, Pool, load_sample
from workbench.errors import ConfigError, DataError
from workbench.evaluate.calibration import argmax, calibrate, content_free_prior, label_probs
from workbench.evaluate.formats import default_spec, infer_format, parse_label_words
from workbench.evaluate.metrics import chart_rows, disagreements, item_table, spread, summarize
from workbench.evaluate.order_sensitivity import draw_demos, order_sensitivity, seeded_permutations
from workbench.evaluate.runner import Progress, evaluate
from workbench.evaluate.strategies import (
    DEFAULT_COT_K,
    Strategy,
    StrategyName,
    make_strategy,
    parse_strategies,
    parse_strategy_name,
)
from workbench.prompts import render
from workbench.store import open_store

# --------------------------------------------------------------------------- strategy names (pure)


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("zero", StrategyName("zero", 0, 1, None, None)),
        ("knn4", StrategyName("knn", 4, 1, None, None)),
        ("knn", StrategyName("knn", 4, 1, None, None)),
        ("Random2", StrategyName("random", 2, 1, None, None)),
        ("bm25_4", StrategyName("bm25", 4, 1, None, None)),
        ("bm25", StrategyName("bm25", 4, 1, None, None)),
        ("diverse3", StrategyName("diverse", 3, 1, None, None)),
        ("mmr6", StrategyName("mmr", 6, 1, None, None)),
        ("balanced2", StrategyName("balanced", 2, 1, None, None)),
        ("zscot", StrategyName("zscot", 0, 1, None, None)),
        ("manualcot", StrategyName("manualcot", DEFAULT_COT_K, 1, None, None)),
        ("autocot4", StrategyName("autocot", 4, 1, None, None)),
        ("sc", StrategyName("sc", 0, 5, None, None)),
        ("sc10", StrategyName("sc", 0, 10, None, None)),
        ("manualcot2+sc3", StrategyName("manualcot", 2, 3, None, None)),
        ("knn4+score+cal", StrategyName("knn", 4, 1, "score", True)),
        (" zero + gen ", StrategyName("zero", 0, 1, "generate", None)),
    ],
)
def test_parse_strategy_name(name, expected):
    assert parse_strategy_name(name) == expected


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("", "Empty strategy name"),
        ("fewshot4", "Unknown strategy 'fewshot4'"),
        ("zero3", "zero takes no number"),
        ("zscot2", "zscot takes no number"),
        ("knn0", "K must be at least 1"),
        ("sc1", "at least 2 samples"),
        ("knn4+fast", "Unknown modifier 'fast'"),
        ("knn4+sc1", "Unknown modifier 'sc1'"),
        ("knn4x", "Unknown strategy"),
    ],
)
def test_bad_strategy_names(name, message):
    with pytest.raises(ConfigError, match=message):
        parse_strategy_name(name)


def sentiment() -> Pool:
    return load_sample("sentiment")


def test_make_strategy_from_names():
    ds = sentiment()
    spec = default_spec(ds)
    knn = make_strategy("knn2", spec, ds, answer="score", label_words={"positive": " great"})
    assert (knn.selector, knn.k, knn.order, knn.answer, knn.calibrate) == ("knn", 2, "similar_last", "score", False)
    assert knn.words == {"positive": " great", "negative": " negative"}
    rnd = make_strategy("random3+cal", spec, ds, answer="score", seed=7)
    assert (rnd.selector, rnd.k, rnd.order, rnd.calibrate, rnd.seed) == ("random", 3, "as_selected", True, 7)
    assert make_strategy("diverse4", spec, ds).selector == "cluster"
    assert make_strategy("knn4", spec, ds, k=2).k == 2  # the K override wins over the name
    assert make_strategy("zero", spec, ds, k=2).k == 0  # ... but never adds demonstrations to zero-shot
    zs = make_strategy("zscot", spec, ds, answer="score", calibrate=True)  # CoT always generates
    assert (zs.answer, zs.calibrate, zs.spec.reasoning, zs.decoding.max_new_tokens) == (
        "generate", False, "zero_shot_cot", 128)
    gen = make_strategy("knn4", spec, ds, calibrate=True)  # calibration only applies to label scoring
    assert (gen.answer, gen.calibrate) == ("generate", False)


def test_make_strategy_cot_and_self_consistency():
    ds = load_sample("arithmetic")
    spec = default_spec(ds)
    assert spec.answer_format == "number"
    manual = make_strategy("manualcot2", spec, ds)
    assert manual.spec.reasoning == "manual_cot" and manual.selector == "fixed" and manual.k == 2
    assert [d.id for d in manual.demos] == ["arithmetic-1", "arithmetic-2", "arithmetic-3"]  # one spare
    sc = make_strategy("sc3", spec, ds, seed=4)  # the pool has rationales: self-consistency over Manual-CoT
    assert (sc.samples, sc.spec.reasoning, sc.k) == (3, "manual_cot", DEFAULT_COT_K)
    assert (sc.decoding.do_sample, sc.decoding.n, sc.decoding.seed, sc.decoding.temperature) == (True, 3, 4, 0.7)
    sc_zero = make_strategy("sc3", spec, sentiment())  # no rationales: over Zero-shot-CoT
    assert (sc_zero.spec.reasoning, sc_zero.k) == ("zero_shot_cot", 0)
    with pytest.raises(ConfigError, match="needs demonstrations with a rationale"):
        make_strategy("manualcot", default_spec(sentiment()), sentiment())


def test_zero_shot_is_kojimas_direct_baseline_and_cot_stops_at_the_next_question():
    ds = load_sample("arithmetic")
    spec = default_spec(ds)
    zero = make_strategy("zero", spec, ds)
    assert zero.spec.answer_prefix == " The answer (arabic numerals) is"
    assert render(zero.spec, (), ds[0]).text.endswith("\nA: The answer (arabic numerals) is")
    assert make_strategy("knn4", spec, ds).spec.answer_prefix == ""  # demonstrations show the answer format
    label_zero = make_strategy("zero", default_spec(sentiment()), sentiment())
    assert label_zero.spec.answer_prefix == ""  # "Label:" already ends where the answer starts
    for name in ("zscot", "manualcot2", "sc3"):
        cot = make_strategy(name, spec, ds)
        assert cot.spec.stop == ("\nQ:",), name  # a blank line inside the reasoning does not end it
    assert make_strategy("zscot", default_spec(sentiment()), sentiment()).spec.stop == ("\nInput:",)


def test_length_normalised_label_scoring_is_named():
    spec = default_spec(sentiment())
    assert parse_strategy_name("knn4+norm").score_norm == "byte"
    assert make_strategy("knn4+norm_token", spec, sentiment()).score_norm == "token"
    assert make_strategy("knn4", spec, sentiment(), answer="score", score_norm="byte").score_norm == "byte"
    assert make_strategy("knn4", spec, sentiment(), score_norm="byte").score_norm == "sum"  # generate: no scores
    with pytest.raises(ConfigError, match="length normalisation applies to label scores"):
        dataclasses.replace(make_strategy("zero", spec, sentiment()), score_norm="byte")
    strategy = make_strategy("knn4+norm", spec, sentiment())
    assert Strategy.from_dict(strategy.to_dict()) == strategy


def test_strategy_validation():
    ds = load_sample("arithmetic")
    with pytest.raises(ConfigError, match="label scoring needs a fixed label set"):
        make_strategy("zero", default_spec(ds), ds, answer="score")
    spec = default_spec(sentiment())
    with pytest.raises(ConfigError, match="not labels"):
        make_strategy("zero", spec, sentiment(), answer="score", label_words={"neutral": " meh"})
    with pytest.raises(ConfigError, match="calibration corrects label scores"):
        Strategy("x", spec, calibrate=True)
    with pytest.raises(ConfigError, match="Unknown answer mode"):
        Strategy("x", spec, answer="vote")
    with pytest.raises(ConfigError, match="listed twice"):
        parse_strategies("zero,knn2,ZERO", spec, sentiment())
    with pytest.raises(ConfigError, match="No strategies"):
        parse_strategies(" , ", spec, sentiment())


def test_strategy_round_trips_through_its_dict():
    ds = load_sample("arithmetic")
    s = make_strategy("manualcot2+sc3", default_spec(ds), ds, seed=2)
    assert Strategy.from_dict(s.to_dict()) == s
    t = make_strategy("knn2+score+cal", default_spec(sentiment()), sentiment(), label_words={"positive": " good"})
    assert Strategy.from_dict(t.to_dict()) == t


def test_parse_label_words_keeps_the_leading_space():
    assert parse_label_words("positive= great, negative= terrible") == {"positive": " great", "negative": " terrible"}
    assert parse_label_words("yes=\\nYes") == {"yes": "\nYes"}
    assert parse_label_words("") == {}
    with pytest.raises(ConfigError, match="label=word"):
        parse_label_words("positive great")
    with pytest.raises(ConfigError, match="needs a label and a word"):
        parse_label_words("positive=  ")


def test_infer_format_and_default_spec():
    assert infer_format(sentiment()) == (AnswerFormat.LABEL, ("positive", "negative"))
    assert infer_format(load_sample("arithmetic")) == (AnswerFormat.NUMBER, ())
    fmt, labels = infer_format(load_sample("trec_questions"))
    assert fmt is AnswerFormat.LABEL and "abbreviation" in labels and "number" in labels
    yes_no = Pool("yn", tuple(Example(str(i), f"q{i}", a, label=a) for i, a in enumerate(["Yes", "no", "yes"])))
    assert infer_format(yes_no) == (AnswerFormat.YES_NO, ())
    choice = Pool("mc", (Example("1", "q", "B", choices={"A": "x", "B": "y"}),))
    assert infer_format(choice) == (AnswerFormat.CHOICE, ("A", "B"))
    assert infer_format(load_sample("translation_en_fr"))[0] is AnswerFormat.FREE
    spec = default_spec(sentiment())
    assert spec.query_template == "Input: {input}\nLabel:" and spec.labels == ("positive", "negative")
    assert spec.instruction == "Classify each input as one of: positive, negative."
    # The arithmetic rationales already end with "The answer is X.": the CoT template does not repeat it.
    assert default_spec(load_sample("arithmetic")).cot_demo_template == "Q: {input}\nA: {rationale}"


# --------------------------------------------------------------------------- calibration (pure)


def test_label_probs_normalise_over_the_label_set():
    assert label_probs([math.log(0.2), math.log(0.6)]) == pytest.approx([0.25, 0.75])
    assert label_probs([-1000.0, -1000.0]) == pytest.approx([0.5, 0.5])  # no underflow


def test_content_free_prior_averages_probabilities_then_normalises():
    rows = [[math.log(0.5), math.log(0.25)], [math.log(0.1), math.log(0.3)]]
    # mean of the raw probabilities: [0.3, 0.275] -> normalised
    assert content_free_prior(rows) == pytest.approx([0.3 / 0.575, 0.275 / 0.575])
    with pytest.raises(ConfigError, match="at least one content-free input"):
        content_free_prior([])


def test_calibrate_exact_on_hand_made_probabilities():
    # The prompt favours label 0 (p_cf = 0.8 / 0.2): an input at 0.6 / 0.4 is really label 1.
    p = [Fraction(6, 10), Fraction(4, 10)]
    p_cf = [Fraction(8, 10), Fraction(2, 10)]
    assert calibrate(p, p_cf) == [Fraction(3, 11), Fraction(8, 11)]
    assert argmax(p) == 0 and argmax(calibrate(p, p_cf)) == 1
    # A uniform prior changes nothing; three labels work the same way.
    assert calibrate(p, [Fraction(1, 2)] * 2) == p
    assert calibrate([Fraction(1, 2), Fraction(1, 4), Fraction(1, 4)],
                     [Fraction(1, 2), Fraction(1, 4), Fraction(1, 4)]) == [Fraction(1, 3)] * 3
    with pytest.raises(ConfigError, match="divide by zero"):
        calibrate([0.5, 0.5], [1.0, 0.0])
    with pytest.raises(ConfigError, match="2 label probabilities but 3"):
        calibrate([0.5, 0.5], [0.2, 0.3, 0.5])


def test_argmax_ties_go_to_the_first_label():
    assert argmax([0.5, 0.5]) == 0
    assert argmax([0.1, 0.7, 0.7]) == 1


# --------------------------------------------------------------------------- metrics (pure)


def rec(strategy: str, i: int, extracted, gold: str, correct: bool, **extra) -> dict:
    return {"strategy": strategy, "item_index": i, "id": f"s-{i}", "input": f"text {i}", "extracted": extracted,
            "gold": gold, "correct": correct, "format": "label", "seconds": 0.25, **extra}


GOLD = ["positive", "negative", "negative", "negative", "positive"]
ZERO = [rec("zero", i, a, GOLD[i], c) for i, (a, c) in enumerate(
    [("positive", True), ("positive", False), ("negative", True), ("negative", True), ("negative", False)])]
KNN = [rec("knn2", i, a, GOLD[i], c) for i, (a, c) in enumerate(
    [("positive", True), ("negative", True), ("negative", True), ("Negative", True), (None, False)])]


def test_summarize_accuracy_and_wilson_interval():
    s = summarize(ZERO[:4] + KNN[:4])
    assert [x.strategy for x in s] == ["zero", "knn2"]
    zero, knn = s
    assert (zero.n, zero.correct, zero.accuracy, zero.seconds) == (4, 3, 0.75, 1.0)
    assert (zero.ci_low, zero.ci_high) == pytest.approx((0.3006, 0.9544), abs=1e-4)  # Wilson 3/4
    assert (knn.correct, knn.accuracy) == (4, 1.0)
    assert (knn.ci_low, knn.ci_high) == pytest.approx((0.5101, 1.0), abs=1e-4)  # Wilson 4/4
    assert zero.items_per_second == 4.0
    assert zero.raw_accuracy is None
    assert zero.to_dict()["items_per_second"] == 4.0


def test_summarize_counts_items_that_dropped_demonstrations():
    rows = [dict(r, dropped=d) for r, d in zip(KNN[:4], (0, 2, 1, 0), strict=True)]
    (knn,) = summarize(rows)
    assert knn.fewer_demos == 2 and knn.to_dict()["fewer_demos"] == 2
    assert summarize(ZERO[:4])[0].fewer_demos == 0


def test_summarize_keeps_raw_accuracy_of_calibrated_strategies():
    cal = [rec("knn2+cal", i, "negative", g, g == "negative", raw_extracted="positive",
               raw_correct=g == "positive") for i, g in enumerate(GOLD)]
    (s,) = summarize(cal)
    assert (s.correct, s.accuracy, s.raw_correct, s.raw_accuracy) == (3, 0.6, 2, 0.4)
    assert (s.raw_ci_low, s.raw_ci_high) == pytest.approx((0.1176, 0.7693), abs=1e-4)  # Wilson 2/5
    rows = chart_rows([s])
    assert [(r["strategy"], r["accuracy"]) for r in rows] == [("knn2+cal (raw)", 0.4), ("knn2+cal", 0.6)]
    assert rows[1]["ci_low"] == s.ci_low and rows[1]["n"] == 5


def test_disagreements_by_answer_and_by_correctness():
    records = ZERO + KNN + [rec("zero", 5, "positive", "positive", True)]  # item 5: one strategy only
    # item 1: positive vs negative; item 3: "negative" vs "Negative" is the same label; item 4: negative vs None.
    assert disagreements(records) == [1, 4]
    assert disagreements(records, by="correct") == [1]  # item 4: both wrong
    assert disagreements(ZERO) == []
    with pytest.raises(ConfigError, match="by 'answer' or 'correct'"):
        disagreements(records, by="gold")


def test_item_table_one_row_per_item():
    rows = item_table(ZERO[:2] + KNN[:2])
    assert rows == [
        {"item": 0, "id": "s-0", "input": "text 0", "gold": "positive", "zero": "positive", "zero ✓": True,
         "knn2": "positive", "knn2 ✓": True},
        {"item": 1, "id": "s-1", "input": "text 1", "gold": "negative", "zero": "positive", "zero ✓": False,
         "knn2": "negative", "knn2 ✓": True},
    ]


def test_spread():
    assert spread([0.5, 0.7, 0.9]) == pytest.approx({"mean": 0.7, "std": 0.2, "min": 0.5, "max": 0.9, "n": 3})
    assert spread([0.6]) == {"mean": 0.6, "std": 0.0, "min": 0.6, "max": 0.6, "n": 1}
    with pytest.raises(ConfigError):
        spread([])


def test_seeded_permutations():
    six = seeded_permutations(3, 8, seed=0)  # more asked than 3! = 6: every order once
    assert sorted(six) == sorted(permutations(range(3)))
    some = seeded_permutations(4, 5, seed=1)
    assert len(some) == 5 and len(set(some)) == 5
    assert all(sorted(p) == [0, 1, 2, 3] for p in some)
    assert seeded_permutations(4, 5, seed=1) == some  # seeded
    assert seeded_permutations(4, 5, seed=2) != some
    assert seeded_permutations(1, 8) == [(0,)]


def test_draw_demos_round_robin_over_labels():
    demos = draw_demos(sentiment(), 4, seed=3)
    assert [d.label for d in demos] == ["positive", "negative", "positive", "negative"]
    assert len({d.id for d in demos}) == 4
    assert draw_demos(sentiment(), 4, seed=3) == demos
    numbers = draw_demos(load_sample("arithmetic"), 3, seed=0)  # no labels: a plain seeded draw
    assert len({d.id for d in numbers}) == 3


def test_progress_fraction():
    assert Progress(3, 12, "zero", 1.0, 3.0).fraction == 0.25
    assert Progress(0, 0, "zero", 0.0, None).fraction == 1.0


def test_evaluate_refuses_bad_runs(tmp_path):
    ds = sentiment()
    spec = default_spec(ds)
    with open_store(tmp_path / "wb.db") as store:
        with pytest.raises(ConfigError, match="at least one strategy"):
            evaluate(ds, None, [], None, store)
        with pytest.raises(ConfigError, match="limit must be at least 1"):
            evaluate(ds, None, [Strategy("zero", spec)], None, store, limit=0)
        with pytest.raises(ConfigError, match="unique"):
            evaluate(ds, None, [Strategy("a", spec), Strategy("a", spec)], None, store)


# --------------------------------------------------------------------------- real model (gemma-3-270m, llama.cpp)


@pytest.fixture(scope="module")
def embedder():
    from workbench.retrieval.embedder import load_embedder

    return load_embedder()


@pytest.fixture
def store(tmp_path):
    s = open_store(tmp_path / "wb.db")
    yield s
    s.close()


def by_key(records) -> dict:
    return {(r["strategy"], r["item_index"]): r for r in records}


def without_timing(record: dict) -> dict:
    return {k: v for k, v in record.items() if k != "seconds"}


def test_generation_and_label_scoring_on_the_real_model(gemma, embedder, store, tmp_path):
    ds = sentiment()
    spec = default_spec(ds)
    words = {"positive": " great", "negative": " terrible"}
    strategies = parse_strategies("zero,knn2,knn2+score", spec, ds, label_words=words)
    seen: list[Progress] = []
    run = evaluate(ds, None, strategies, gemma, store, limit=5, progress=seen.append, embedder=embedder,
                   index_cache_dir=str(tmp_path / "index"))
    assert run.status == "finished"
    assert [(s.strategy, s.n) for s in run.summaries] == [("zero", 5), ("knn2", 5), ("knn2+score", 5)]
    assert [p.done for p in seen] == list(range(1, 16)) and seen[-1].total == 15
    assert seen[-1].eta_s == 0 and seen[0].run_id == run.run_id
    records = by_key(store.results(run.run_id))
    assert len(records) == 15
    for i in range(5):
        query = ds[i]
        gen, scored = records["knn2", i], records["knn2+score", i]
        assert gen["input"] == query.input and gen["gold"] == query.answer
        assert gen["prompt"].endswith(f"Input: {query.input}\nLabel:")
        assert gen["prompt"].count("Input: ") == 3  # two demonstrations, then the query
        assert query.id not in gen["demos"] and len(gen["demos"]) == 2
        assert gen["rule"] != "label_score" and isinstance(gen["output"], str)
        assert gen["correct"] == (gen["extracted"] == query.answer)
        # Label scoring: never off-label, even though the demonstrations show the words "great"/"terrible".
        assert scored["extracted"] in spec.labels and scored["rule"] == "label_score"
        assert "Label: great" in scored["prompt"] or "Label: terrible" in scored["prompt"]
        assert sum(scored["probs"].values()) == pytest.approx(1.0)
        assert scored["extracted"] == max(scored["logliks"], key=scored["logliks"].get)
        assert scored["demos"] == gen["demos"]  # same selector, same demonstrations
    info = store.get_run(run.run_id)
    assert info.status == "finished" and info.n_results == 15
    assert info.meta["model"] == "gemma-3-270m" and info.meta["dataset"]["hash"] == ds.content_hash
    assert [s["strategy"] for s in info.summary["strategies"]] == ["zero", "knn2", "knn2+score"]


def test_calibrated_label_scoring_keeps_raw_and_calibrated(gemma, store):
    ds = sentiment()
    (s,) = parse_strategies("zero+score+cal", default_spec(ds), ds)
    run = evaluate(ds, None, [s], gemma, store, limit=4)
    (summary,) = run.summaries
    assert summary.raw_accuracy is not None
    for r in run.records:
        labels = list(r["probs"])
        p_cf = [r["p_cf"][lab] for lab in labels]
        assert sum(p_cf) == pytest.approx(1.0)
        assert r["raw_extracted"] == labels[argmax([r["probs"][lab] for lab in labels])]
        cal = calibrate([r["probs"][lab] for lab in labels], p_cf)
        assert [r["calibrated_probs"][lab] for lab in labels] == pytest.approx(cal)
        assert r["extracted"] == labels[argmax(cal)] and r["rule"] == "calibrated_label_score"
    # Zero-shot: every item has the same (empty) demonstrations, so one content-free prior for all.
    assert len({tuple(r["p_cf"].values()) for r in run.records}) == 1


def test_resume_after_cancel_runs_every_item_once_with_the_same_results(gemma, embedder, tmp_path):
    ds = sentiment()
    strategies = parse_strategies("zero+score,random2", default_spec(ds), ds, seed=3)
    # one item at a time, so a stop can fall between two items (batched, it falls between two batches)
    options = {"limit": 5, "embedder": embedder, "index_cache_dir": str(tmp_path / "index"), "reproducible": True}
    with open_store(tmp_path / "full.db") as store:
        full = evaluate(ds, None, strategies, gemma, store, **options)
        expected = {k: without_timing(v) for k, v in by_key(store.results(full.run_id)).items()}
    assert len(expected) == 10

    with open_store(tmp_path / "resume.db") as store:
        done: list[int] = []
        first = evaluate(ds, None, strategies, gemma, store, should_stop=lambda: len(done) >= 7,
                         progress=lambda p: done.append(p.done), **options)
        assert first.status == "cancelled"
        assert store.get_run(first.run_id).status == "cancelled"
        assert store.get_run(first.run_id).n_results == 7  # zero+score 0-4, random2 0-1
        assert store.completed(first.run_id, "random2") == {0, 1}
        resumed: list[Progress] = []
        second = evaluate(ds, None, strategies, gemma, store, run_id=first.run_id, progress=resumed.append,
                          **options)
        assert second.status == "finished" and second.run_id == first.run_id
        assert [p.done for p in resumed] == [8, 9, 10]  # only the three missing items ran
        records = store.results(first.run_id)
        assert sorted((r["strategy"], r["item_index"]) for r in records) == sorted(expected)  # each exactly once
        assert {k: without_timing(v) for k, v in by_key(records).items()} == expected
        assert [s.n for s in second.summaries] == [5, 5]
        with pytest.raises(DataError, match="another dataset"):
            evaluate(load_sample("trec_questions"), None, strategies, gemma, store, run_id=first.run_id)


def test_self_consistency_is_deterministic_given_the_seed(gemma, tmp_path):
    ds = load_sample("arithmetic")
    s = make_strategy("manualcot1+sc3", default_spec(ds), ds, seed=11)
    s = dataclasses.replace(s, decoding=s.decoding.replace(max_new_tokens=12))  # keep the test fast
    runs = []
    for name in ("a", "b"):
        with open_store(tmp_path / f"{name}.db") as store:
            runs.append([without_timing(r) for r in evaluate(ds, None, [s], gemma, store, limit=3).records])
    assert runs[0] == runs[1]
    assert all(len(r["samples"]) == 3 and r["rule"] == "majority_vote" for r in runs[0])
    assert any(len(set(r["outputs"])) > 1 for r in runs[0])  # the paths were really sampled


def test_random_selection_is_seeded(gemma, embedder, store, tmp_path):
    ds = sentiment()
    options = {"limit": 4, "embedder": embedder, "index_cache_dir": str(tmp_path / "index")}

    def demos(seed: int) -> list:
        strategies = parse_strategies("random2+score", default_spec(ds), ds, seed=seed)
        return [r["demos"] for r in evaluate(ds, None, strategies, gemma, store, **options).records]

    assert demos(5) == demos(5)
    assert demos(5) != demos(6)


def test_order_sensitivity_same_demos_in_every_order(gemma, store):
    ds = sentiment()
    (s,) = parse_strategies("random2+score+cal", default_spec(ds), ds)
    run, stats = order_sensitivity(ds, None, s, gemma, store, permutations=2, seed=1, limit=4)
    assert [x.strategy for x in run.summaries] == ["random2+score+cal order 1", "random2+score+cal order 2"]
    assert stats["n"] == 2 and stats["min"] <= stats["mean"] <= stats["max"]
    assert stats["mean"] == pytest.approx(sum(x.accuracy for x in run.summaries) / 2)
    orders = {r["strategy"]: tuple(r["demos"]) for r in run.records if r["item_index"] == 0}
    first, second = orders.values()
    assert sorted(first) == sorted(second) and first != second and len(first) == 2
    for r in run.records:
        assert r["extracted"] in ("positive", "negative") and "raw_extracted" in r


def test_resume_refuses_another_prompt_or_decoding(gemma, tmp_path):
    ds = load_sample("arithmetic")
    (zero,) = parse_strategies("zero", default_spec(ds), ds)
    with open_store(tmp_path / "r.db") as store:
        first = evaluate(ds, None, [zero], gemma, store, limit=1)
        for changed, what in ((dataclasses.replace(zero, decoding=zero.decoding.replace(max_new_tokens=5)),
                               "decoding settings"),
                              (dataclasses.replace(zero, spec=zero.spec.replace(instruction="Add.")), "prompt")):
            with pytest.raises(ConfigError, match=f"strategy 'zero' was run with other {what}"):
                evaluate(ds, None, [changed], gemma, store, run_id=first.run_id, limit=1)
        with pytest.raises(ConfigError, match="has no strategy 'knn2'"):
            evaluate(ds, None, parse_strategies("knn2", default_spec(ds), ds), gemma, store, run_id=first.run_id)


def test_resume_refuses_another_context_window_where_the_run_recorded_one(tmp_path):
    """The page's Resume and the CLI's both go through check_resumable: a run made with a 512-token window does
    not continue under 1,024 (other prompts would fit, other demonstrations be dropped)."""
    from tests.fakes import FakeBackend
    from workbench.evaluate.manifest import check_resumable

    ds = load_sample("sentiment")
    (zero,) = parse_strategies("zero", default_spec(ds), ds)
    with open_store(tmp_path / "w.db") as store:
        first = evaluate(ds, None, [zero], FakeBackend(context_window=512), store, limit=1)
        meta = store.get_run(first.run_id).meta
    assert meta["context_window"] == 512
    check_resumable(first.run_id, meta, [zero], FakeBackend(context_window=512))
    with pytest.raises(ConfigError, match=r"context window of 512 tokens, not 1,024"):
        check_resumable(first.run_id, meta, [zero], FakeBackend(context_window=1024))
    check_resumable(first.run_id, {k: v for k, v in meta.items() if k != "context_window"}, [zero],
                    FakeBackend(context_window=1024))  # a run from before windows were recorded


def test_cross_variants_names_and_label_words():
    from workbench.evaluate.variants import INFERRED, PromptVariant, cross_variants

    ds = sentiment()
    spec = default_spec(ds)
    alone = cross_variants([PromptVariant(INFERRED, spec)], "zero,knn2", ds)
    assert [s.name for s in alone] == ["zero", "knn2"]
    mine = spec.replace(instruction="Is the review positive or negative?")
    demos = tuple(ds)[:2]
    both = cross_variants([PromptVariant(INFERRED, spec), PromptVariant("builder", mine, demos)], ["zero"], ds,
                          as_built=True, answer="score", label_words={"positive": " good"})
    assert [s.name for s in both] == ["inferred/zero", "builder/zero", "builder/built2"]
    assert both[1].spec.instruction == mine.instruction and both[2].demos == demos
    assert both[2].selector == "fixed" and dict(both[0].label_words) == {"positive": " good"}
    with pytest.raises(ConfigError, match="both named 'x'"):
        cross_variants([PromptVariant("x", spec), PromptVariant("x", mine)], "zero", ds)


def test_a_prompt_without_labels_generates_while_the_others_score():
    """The Evaluate page's answer modes per variant: a handed-over prompt without a label set generates."""
    from workbench.evaluate.variants import INFERRED, PromptVariant, can_score, cross_variants

    ds = sentiment()
    spec = default_spec(ds)
    free = spec.replace(answer_format="free", labels=())
    assert can_score(spec) and not can_score(free)
    with pytest.raises(ConfigError, match="label scoring needs a fixed label set") as err:
        cross_variants([PromptVariant(INFERRED, spec), PromptVariant("builder", free)], ["zero"], ds, answer="score")
    assert "--" not in str(err.value), "a message the pages show names a CLI flag"
    both = cross_variants([PromptVariant(INFERRED, spec), PromptVariant("builder", free)], ["zero"], ds,
                          answer="score", answers={"builder": "generate"})
    assert [(s.name, s.answer) for s in both] == [("inferred/zero", "score"), ("builder/zero", "generate")]


def test_strategy_errors_name_no_cli_flag():
    """Strategy errors reach the Evaluate page too: their words fit a browser and a terminal alike."""
    spec = default_spec(sentiment())
    cases = [lambda: Strategy("zero", spec.replace(answer_format="free", labels=()), answer="score"),
             lambda: Strategy("zscot", spec.replace(reasoning="zero_shot_cot"), answer="score"),
             lambda: Strategy("zero", spec, calibrate=True),
             lambda: Strategy("zero", spec, score_norm="byte"),
             lambda: parse_strategies("", spec)]
    for make in cases:
        with pytest.raises(ConfigError) as err:
            make()
        assert "--" not in str(err.value), str(err.value)


def test_cached_items_are_marked_and_items_per_second_counts_only_the_model(tmp_path):
    """A rerun answered from the response cache says so per item; throughput is the model's calls only."""
    from tests.fakes import FakeBackend
    from workbench.backends.registry import ModelSpec

    ds = sentiment()
    spec = default_spec(ds)
    fake = FakeBackend(reply=lambda prompt, seed: " positive")
    fake.spec = ModelSpec("fake", "/nonexistent/fake.gguf", False)  # a stable identity for the response cache
    fake.batch_size = 8  # one batched call: cached and new items in the same chunk
    strategies = [make_strategy("zero", spec), dataclasses.replace(make_strategy("zero", spec, answer="score"),
                                                                   name="scored")]
    with open_store(tmp_path / "wb.db") as store:
        first = evaluate(ds, None, strategies, fake, store, limit=4)
        assert not any(r.get("cached") for r in first.records)
        assert all(s.cached == 0 and s.items_per_second > 0 for s in first.summaries)
        sent = len(fake.prompts) + len(fake.scored)
        again = evaluate(ds, None, strategies, fake, store, limit=6)  # items 0-3 cached, 4-5 new
        assert len(fake.prompts) + len(fake.scored) - sent == 2 * 2  # only the new items reached the model
        for s in again.summaries:
            assert (s.cached, s.n, s.cached_text()) == (4, 6, "4/6")
            mine = [r for r in again.records if r["strategy"] == s.strategy]
            assert [bool(r.get("cached")) for r in sorted(mine, key=lambda r: r["item_index"])] == [True] * 4 + [False] * 2
            model_s = sum(r["seconds"] for r in mine if not r.get("cached"))
            assert s.items_per_second == pytest.approx(2 / model_s)
            assert s.to_dict()["cached"] == 4
        third = evaluate(ds, None, strategies, fake, store, limit=6)  # every item from the cache
        for s in third.summaries:
            assert s.cached_text() == "6/6" and s.items_per_second == 0.0 and s.speed() == "—"
        off = evaluate(ds, None, strategies, fake, store, limit=2, cache=False)
        assert all(s.cached == 0 for s in off.summaries) and not any("cached" in r for r in off.records)


def test_two_runs_compare_as_the_cli_does_and_list_the_items_that_changed():
    """The page's comparison of two stored runs is the CLI's `runs compare` (one function), plus changed items."""
    from workbench.evaluate.pairs import BROKEN, FIXED, OTHER_ANSWER, changed_items, compare_runs
    from workbench.report import RunReport

    def run(outcomes) -> RunReport:
        records = [rec("zero", i, answer, GOLD[i], ok, id=f"r{i}") for i, (answer, ok) in enumerate(outcomes)]
        return RunReport(None, "finished", {}, {}, tuple(records))

    a = run([("positive", True), ("positive", False), ("negative", True), ("negative", True), ("negative", False)])
    b = run([("positive", True), ("negative", True), ("negative", True), ("positive", False), ("Negative", False)])
    comparisons, shared = compare_runs(a, b, "1", "2")
    assert shared == 5 and [(c.a, c.b, c.n, c.only_a, c.only_b) for c in comparisons] == [("1:zero", "2:zero", 5, 1, 1)]
    changed = changed_items(a, b)
    assert [(c.id, c.answer_a, c.answer_b, c.change) for c in changed] == [
        ("r1", "positive", "negative", FIXED), ("r3", "negative", "positive", BROKEN)]  # r4: same answer, any case
    other = run([("positive", True), ("positive", False), ("negative", True), ("negative", True), (None, False)])
    assert [(c.id, c.change) for c in changed_items(a, other)] == [("r4", OTHER_ANSWER)]
