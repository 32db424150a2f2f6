"""Auto-CoT against amazon-science/auto-cot ``run_demo.py``: each filter, the cluster walk, presets, k-means++,
the demo file (untrusted input), and the real model dropping or flagging a cluster with no passing member."""

from __future__ import annotations

import json

import numpy as np
import pytest

from workbench.autocot.clustering import cluster_order, kmeans
from workbench.autocot.config import MAX_TRIES_PER_CLUSTER, AutoCoTConfig, task_for
from workbench.autocot.demo import Demo
from workbench.autocot.files import MAX_DEMOS_IN_FILE, demos_from_json, demos_to_json, load_demos, save_demos
from workbench.autocot.filters import (
    answer_at_end,
    collapse_whitespace,
    full_rationale,
    heuristic_failures,
    question_words,
    rationale_steps,
)
from workbench.autocot.reasoner import COT_TRIGGER, Reasoning, zero_shot_cot_reasoner
from workbench.autocot.selection import build_demos, pick_demos, with_fallbacks
from workbench.cli import main as cli
from workbench.data import Example, load_sample
from workbench.decoding import DecodingConfig
from workbench.errors import ConfigError, DataError
from workbench.prompts import PromptSpec, render
from workbench.reasoning import AUTO_COT

CFG = AutoCoTConfig(k=2)
GOOD = Reasoning(" 2 + 2 = 4. The answer is 4.", "4")  # passes every filter


# ---- presets ------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("task", "k", "steps", "at_end"),
    [("aqua", 4, 5, False), ("last_letters", 4, 7, False), ("commonsensqa", 7, 5, False),
     ("strategyqa", 6, 5, False), ("coin_flip", 8, 5, False), ("multiarith", 8, 5, True), ("gsm8k", 8, 5, True),
     ("addsub", 8, 5, True), ("singleeq", 8, 5, True), ("svamp", 8, 5, True)],
)
def test_task_presets_are_the_references(task, k, steps, at_end):
    cfg = AutoCoTConfig.for_task(task)
    assert (cfg.k, cfg.max_rationale_steps, cfg.answer_at_end, cfg.max_question_words) == (k, steps, at_end, 60)
    assert AutoCoTConfig.for_task(task, k=3).k == 3


def test_unknown_task_and_bad_limits_are_config_errors():
    with pytest.raises(ConfigError, match="Unknown Auto-CoT task 'sst2'"):
        AutoCoTConfig.for_task("sst2")
    with pytest.raises(ConfigError, match="k must be at least 1"):
        AutoCoTConfig(k=0)
    with pytest.raises(ConfigError, match="max_tries_per_cluster"):
        AutoCoTConfig(max_tries_per_cluster=0)


@pytest.mark.parametrize(
    ("name", "task"),
    [("multiarith.jsonl", "multiarith"), ("commonsenseqa_dev.jsonl", "commonsensqa"), ("CoinFlip", "coin_flip"),
     ("last_letters.jsonl", "last_letters"), ("strategyqa", "strategyqa"), ("sst2_dev.jsonl", None),
     ("arithmetic", None)],
)
def test_task_for_dataset_names(name, task):
    assert task_for(name) == task


# ---- the filters, one by one ----------------------------------------------------------
def test_question_words_count_the_references_q_and_a_markers():
    assert question_words("How many?") == 4  # "Q: How many?\nA:" -> Q:, How, many?, A:
    assert heuristic_failures("w " * 58, GOOD, AutoCoTConfig()) == ()
    assert heuristic_failures("w " * 59, GOOD, AutoCoTConfig()) == ("question has 61 words > 60",)


def test_rationale_is_the_trigger_then_the_output():
    assert full_rationale(" 2 + 2 = 4.") == "Let's think step by step. 2 + 2 = 4."
    assert full_rationale("\nStep 1: 4.\n") == "Let's think step by step.\nStep 1: 4."
    assert full_rationale("") == COT_TRIGGER


def test_rationale_steps_count_lines_after_one_double_newline_pass():
    assert rationale_steps("Let's think step by step.\nA.\nB.") == 3  # the trigger's line counts
    assert rationale_steps("Let's think step by step. A. B.") == 1
    assert rationale_steps("a.\n\nb.") == 2
    assert rationale_steps("a.\n\n\nb.") == 3  # "\n\n\n" -> "\n\n": an empty line counts, as in the reference


def test_steps_limit_includes_the_trigger_line():
    five = Reasoning("\n1.\n2.\n3.\nSo 4.", "4")  # trigger line + 4 lines = 5 steps
    six = Reasoning("\n1.\n2.\n3.\n4.\nSo 4.", "4")
    assert heuristic_failures("q", five, AutoCoTConfig()) == ()
    assert heuristic_failures("q", six, AutoCoTConfig()) == ("rationale has 6 steps > 5",)
    assert heuristic_failures("q", six, AutoCoTConfig.for_task("last_letters")) == ()


def test_rationale_must_end_with_a_period():
    assert heuristic_failures("q", Reasoning(" It is yes", "yes"), AutoCoTConfig(), "yes_no") == (
        'rationale does not end with "."',)
    assert heuristic_failures("q", Reasoning(" It is yes.  \n", "yes"), AutoCoTConfig(), "yes_no") == ()


def test_an_answer_must_have_been_extracted():
    assert heuristic_failures("q", Reasoning(" I do not know.", None), AutoCoTConfig()) == (
        "no answer could be extracted",)
    assert heuristic_failures("q", Reasoning(" I do not know.", "  "), AutoCoTConfig(), "free") == (
        "no answer could be extracted",)


@pytest.mark.parametrize(
    ("rationale", "answer", "expected"),
    [
        ("Let's think step by step. 5 + 3 = 8. So she has 8 apples.", "8", True),  # in the last sentence
        ("She has 8 apples. Then she eats some of them with her best friend Sam.", "8", False),
        ("So it is 8 . Then she went home .", "8", True),  # not in the last sentence, but a last-10 word
        ("The total is 18.", "8", True),  # the reference's test is a substring test
        ("It is 8. Then she went home and had a very long and nice rest.", "8", False),  # "8." is not "8"
        ("So the answer is Yes.", "yes", True),  # case-insensitive
        ("He pays $1,250 in total.", "1250", False),  # as the reference: commas are not removed
    ],
)
def test_answer_at_end_is_the_references_check(rationale, answer, expected):
    assert answer_at_end(rationale, answer) is expected


def test_answer_at_end_applies_to_arithmetic_sets_only():
    late = Reasoning(" It rains. So we stay at home.", "yes")
    message = "answer yes is not in the last sentence or the last 10 words"
    assert heuristic_failures("q", late, AutoCoTConfig(), "number") == (message,)
    assert heuristic_failures("q", late, AutoCoTConfig(), "yes_no") == ()
    assert heuristic_failures("q", late, AutoCoTConfig.for_task("strategyqa"), "number") == ()
    assert heuristic_failures("q", late, AutoCoTConfig.for_task("multiarith"), "yes_no") == (message,)


def test_demo_rationale_whitespace_is_collapsed():
    assert collapse_whitespace("Let's think step by step.\nStep 1:  2 + 2 = 4.\n\n Step 2: 4.") == (
        "Let's think step by step. Step 1: 2 + 2 = 4. Step 2: 4.")
    pool = [Example("0", "q0", "4")]
    demos, _ = pick_demos(pool, [[(0, 0.0)]], lambda q: Reasoning("\nStep 1:  2 + 2 = 4.\n\n So 4.", "4"),
                          AutoCoTConfig(k=1))
    assert demos[0].rationale == "Let's think step by step. Step 1: 2 + 2 = 4. So 4."


# ---- the cluster walk -----------------------------------------------------------------
def scripted(answers: dict[str, Reasoning]):
    calls = []

    def reason(q: str) -> Reasoning:
        calls.append(q)
        return answers[q]

    return reason, calls


def pool_of(n: int) -> list[Example]:
    return [Example(str(i), f"q{i}", str(i)) for i in range(n)]


def test_every_member_is_tried_in_distance_order_up_to_the_named_limit():
    n = MAX_TRIES_PER_CLUSTER
    answers = {f"q{i}": Reasoning(" no idea", None) for i in range(n + 2)}
    answers[f"q{n - 1}"] = GOOD  # the last one the limit allows
    ordered = [[(i, i / 10) for i in range(n + 2)]]  # nearest first
    reason, calls = scripted(answers)
    demos, tried = pick_demos(pool_of(n + 2), ordered, reason, AutoCoTConfig(k=1))
    assert calls == [f"q{i}" for i in range(n)]
    assert [d.question for d in demos] == [f"q{n - 1}"] and not demos[0].fallback
    reason, calls = scripted(answers)
    demos, tried = pick_demos(pool_of(n + 2), ordered, reason, AutoCoTConfig(k=1, max_tries_per_cluster=n - 1))
    assert demos == () and len(calls) == n - 1 and all(c.failures for c in tried[0])


def test_long_questions_are_skipped_without_generating():
    pool = [Example("0", "w " * 59, "1"), Example("1", "short", "4")]
    reason, calls = scripted({"short": GOOD})
    demos, tried = pick_demos(pool, [[(0, 0.1), (1, 0.2)]], reason, AutoCoTConfig(k=1, max_tries_per_cluster=1))
    assert calls == ["short"] and demos[0].question == "short"
    assert tried[0][0].reasoning is None and tried[0][0].failures == ("question has 61 words > 60",)


def test_a_cluster_with_no_passing_member_is_dropped():
    pool = pool_of(4)
    ordered = [[(0, 0.1), (1, 0.2)], [(2, 0.1), (3, 0.3)]]
    reason, calls = scripted({"q0": Reasoning(" 1\n2\n3\n4\n5\n6.", "4"), "q1": GOOD,
                              "q2": Reasoning(" I have no idea.", None), "q3": Reasoning(" 2 + 2 = 4", "4")})
    demos, tried = pick_demos(pool, ordered, reason, CFG)
    assert calls == ["q0", "q2", "q1", "q3"]  # in rounds: each open cluster's next candidate, cluster order
    assert demos == (Demo("q1", "Let's think step by step. 2 + 2 = 4. The answer is 4.", "4", "1", 0, 0.2),)
    assert tried[0][0].failures == ("rationale has 6 steps > 5",) and tried[0][1].failures == ()
    assert [c.failures for c in tried[1]] == [("no answer could be extracted",), ('rationale does not end with "."',)]


def test_candidates_are_written_in_rounds_one_batch_per_round_and_only_those_the_loop_would_write():
    pool = pool_of(6)
    ordered = [[(0, 0.1), (1, 0.2)], [(2, 0.1), (3, 0.2)], [(4, 0.1), (5, 0.2)]]
    answers = {"q0": GOOD, "q1": GOOD, "q2": Reasoning(" I have no idea.", None), "q3": GOOD,
               "q4": Reasoning(" 1\n2\n3\n4\n5\n6.", "4"), "q5": Reasoning(" no idea", None)}
    batches: list[list[str]] = []

    class Batching:
        def __call__(self, question):
            raise AssertionError("a batching reasoner is asked for many at once")

        def many(self, questions):
            batches.append(list(questions))
            return [answers[q] for q in questions]

    demos, tried = pick_demos(pool, ordered, Batching(), CFG)
    # round 1: every cluster's nearest; round 2: the two clusters still open; cluster 0 never writes q1
    assert batches == [["q0", "q2", "q4"], ["q3", "q5"]]
    assert [d.question for d in demos] == ["q0", "q3"]  # cluster 2 has no passing member: dropped
    one_by_one, calls = scripted(answers)
    assert pick_demos(pool, ordered, one_by_one, CFG) == (demos, tried)
    assert sorted(calls) == sorted(q for b in batches for q in b)


def test_a_fallback_only_when_asked_and_flagged():
    pool = pool_of(2)
    reason, _ = scripted({"q0": Reasoning(" no idea", None), "q1": Reasoning(" none", None)})
    demos, _ = pick_demos(pool, [[(0, 0.1), (1, 0.2)]], reason, AutoCoTConfig(k=1, fallback=True))
    assert demos == (Demo("q0", "Let's think step by step. no idea", "", "0", 0, 0.1, fallback=True),)
    assert '"fallback": true' in demos_to_json(demos)


def test_fallback_generates_for_the_nearest_when_every_question_is_too_long():
    reason, calls = scripted({"w " * 59: GOOD})
    demos, tried = pick_demos([Example("0", "w " * 59, "4")], [[(0, 0.0)]], reason,
                              AutoCoTConfig(k=1, fallback=True))
    assert calls == ["w " * 59] and demos[0].fallback and tried[0][0].reasoning == GOOD


def test_result_reports_dropped_and_fallback_clusters():
    pool = [Example(str(i), f"q{i}", "4") for i in range(4)]
    v = np.array([[1, 0], [0.99, 0.01], [0, 1], [0.01, 0.99]], dtype=np.float32)
    answers = {"q0": GOOD, "q1": GOOD, "q2": Reasoning(" none", None), "q3": Reasoning(" none", None)}
    result = build_demos(pool, v, scripted(answers)[0], AutoCoTConfig(k=2))
    bad = int(result.assignments[2])
    assert result.dropped == (bad,) and result.fallbacks == ()
    assert result.note() == f"1 demonstration from 2 clusters; dropped (no candidate passed): cluster {bad}"
    assert [e.id for e in result.examples()] == ["autocot-0"]
    flagged = build_demos(pool, v, scripted(answers)[0], AutoCoTConfig(k=2, fallback=True))
    assert flagged.dropped == () and flagged.fallbacks == (bad,)
    assert "fallback (nearest candidate, failed the filters): cluster" in flagged.note()
    assert sum(e.id.endswith("-fallback") for e in flagged.examples()) == 1


def test_with_fallbacks_after_the_build_equals_asking_for_them_before_without_writing_again():
    """The page's one-click way on when clusters were dropped: the same demonstrations as fallback=True, from the
    rationales already written (issue 33 item 6)."""
    pool = [Example(str(i), f"q{i}", "4") for i in range(6)]
    v = np.array([[1, 0], [0.99, 0.01], [0.98, 0.02], [0, 1], [0.01, 0.99], [0.02, 0.98]], dtype=np.float32)
    answers = {f"q{i}": Reasoning(" 1\n2\n3\n4\n5\n6.", "4") for i in range(6)}
    answers["q4"] = GOOD
    reason, calls = scripted(answers)
    built = build_demos(pool, v, reason, AutoCoTConfig(k=2, max_tries_per_cluster=2))
    assert len(built.dropped) == 1
    written = len(calls)
    after = with_fallbacks(built, pool)
    assert len(calls) == written, "no rationale may be written again"
    asked = build_demos(pool, v, scripted(answers)[0], AutoCoTConfig(k=2, max_tries_per_cluster=2, fallback=True))
    assert after.demos == asked.demos and after.dropped == () and after.fallbacks == built.dropped
    assert [d.cluster for d in after.demos] == [0, 1]
    too_long = build_demos([Example("0", "w " * 59, "4")], np.eye(1, dtype=np.float32), reason, AutoCoTConfig(k=1))
    assert with_fallbacks(too_long, [Example("0", "w " * 59, "4")]).dropped == (0,), "nothing written: stays dropped"


def test_no_demonstration_at_all_is_one_clear_error():
    result = build_demos(pool_of(2), np.eye(2, dtype=np.float32), lambda q: Reasoning(" none", None),
                         AutoCoTConfig(k=2))
    assert result.demos == () and result.dropped == (0, 1)
    with pytest.raises(DataError, match="no candidate of any of the 2 clusters passed"):
        result.examples()


def test_answer_choices_are_part_of_the_question():
    choices = {"A": "bank", "B": "library"}
    pool = [Example("0", "Where is money kept?", "A", choices=choices)]
    reason, calls = scripted({"Where is money kept? Answer Choices: (A) bank (B) library":
                              Reasoning(" Money is kept in a bank.", "A")})
    demos, _ = pick_demos(pool, [[(0, 0.0)]], reason, AutoCoTConfig(k=1), "choice")
    assert calls == ["Where is money kept? Answer Choices: (A) bank (B) library"]
    assert demos[0].question == "Where is money kept?" and demos[0].choices == choices
    assert demos[0].to_example("d").choices == choices
    row = json.loads(demos_to_json(demos))["demo"][0]
    assert row["question"] == "Q: Where is money kept? Answer Choices: (A) bank (B) library\nA:"
    assert demos_from_json(demos_to_json(demos)) == demos
    long = [Example("0", "w " * 52, "A", choices=choices)]  # 52 + 6 choice words + Q: A: = 60; one more fails
    assert pick_demos(long, [[(0, 0.0)]], lambda q: GOOD, AutoCoTConfig(k=1), "choice")[0] != ()
    longer = [Example("0", "w " * 53, "A", choices=choices)]
    assert pick_demos(longer, [[(0, 0.0)]], lambda q: GOOD, AutoCoTConfig(k=1), "choice")[0] == ()


def test_the_test_query_ends_with_the_trigger():
    demo = Demo("What is 2 + 2?", "Let's think step by step. 2 + 2 = 4.", "4")
    text = render(PromptSpec(reasoning=AUTO_COT.name), [demo.to_example("d")], "What is 2 + 3?").text
    assert text == ("Q: What is 2 + 2?\nA: Let's think step by step. 2 + 2 = 4. The answer is 4.\n\n"
                    "Q: What is 2 + 3?\nA: Let's think step by step.")


def test_cancel_stops():
    reason, _ = scripted({"q0": GOOD})
    with pytest.raises(InterruptedError):
        pick_demos(pool_of(1), [[(0, 0.0)]], reason, AutoCoTConfig(k=1), should_stop=lambda: True)


# ---- clustering -----------------------------------------------------------------------
def test_cluster_order_nearest_to_centroid_first():
    v = np.array([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0], [0.5, 0.5], [0.1, 0.9], [0.3, 0.7]], dtype=np.float32)
    order = cluster_order(v, np.array([0, 0, 1, 0, 1, 1]))
    assert [row for row, _ in order[0]] == [1, 0, 3]  # centroid (0.8, 0.2)
    assert [row for row, _ in order[1]] == [4, 2, 5]  # centroid (0.133, 0.867)
    assert order[0][0][1] == pytest.approx(np.linalg.norm([0.1, -0.1]), abs=1e-6)


def test_kmeans_pp_finds_unequal_blobs_for_every_seed_and_is_deterministic():
    rng = np.random.default_rng(1)
    centres = np.array([[0, 0], [10, 0], [0, 10]], dtype=np.float64)
    v = np.concatenate([centres[0] + rng.normal(0, 0.5, (40, 2)), centres[1] + rng.normal(0, 0.5, (3, 2)),
                        centres[2] + rng.normal(0, 0.5, (3, 2))])
    truth = [0] * 40 + [1] * 3 + [2] * 3
    for seed in range(10):
        labels = kmeans(v, 3, seed=seed)
        assert len({(t, int(c)) for t, c in zip(truth, labels, strict=True)}) == 3, seed  # blobs = clusters
        assert np.array_equal(labels, kmeans(v, 3, seed=seed))
    assert kmeans(v, 1).tolist() == [0] * 46 and len(set(kmeans(v[:2], 5).tolist())) == 2


def test_build_demos_takes_the_middle_of_each_group():
    v = np.array([[1, 0], [0.95, 0.05], [0.9, 0.1], [0, 1], [0.05, 0.95], [0.1, 0.9]], dtype=np.float32)
    v /= np.linalg.norm(v, axis=1, keepdims=True)
    reason, _ = scripted({f"q{i}": Reasoning(f" It is {i}. The answer is {i}.", str(i)) for i in range(6)})
    result = build_demos(pool_of(6), v, reason, AutoCoTConfig(k=2))
    assert sorted(d.question for d in result.demos) == ["q1", "q4"]
    assert all(ex.rationale.startswith("Let's think step by step. It is") for ex in result.examples())


# ---- the reasoner ---------------------------------------------------------------------
def test_label_reasoner_needs_and_takes_the_label_set():
    with pytest.raises(ConfigError, match="needs its label set"):
        zero_shot_cot_reasoner(None, "label")
    reasoner = zero_shot_cot_reasoner(None, "label", labels=["positive", "negative"])
    assert reasoner.spec.labels == ("positive", "negative") and reasoner.answer_format == "label"
    assert render(reasoner.spec, [], "fine film").text == "Q: fine film\nA: Let's think step by step."
    assert reasoner.spec.final_answer_trigger == "Therefore, the answer (positive or negative) is"


# ---- demo files (untrusted) -----------------------------------------------------------
def test_json_round_trip_and_the_references_shape(tmp_path):
    demos = (Demo("q", "Let's think step by step. r.", "3", "3", 0, 0.5),
             Demo("p", "Let's think step by step. s.", "1", None, 1, 0.1, True))
    assert json.loads(demos_to_json(demos))["demo"][0]["question"] == "Q: q\nA:"
    assert demos_from_json(demos_to_json(demos)) == demos
    save_demos(demos, tmp_path / "d.json")
    assert load_demos(tmp_path / "d.json") == demos
    paper = ('{"demo": [{"question": "Q: x?\\nA:", "rationale": "Let\'s think step by step. 2.", "pred_ans": "2", '
             '"gold_ans": "2"}]}')
    assert demos_from_json(paper) == (Demo("x?", "Let's think step by step. 2.", "2", "2"),)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (b"not json", "is not valid JSON"),
        (b"[]", 'must be a JSON object with a "demo" list'),
        (b'{"demo": [{"question": "q"}]}', r"demo\.0\.rationale: Field required"),
        (b'{"demo": [3]}', r"demo\.0: Input should be a valid dictionary"),
        (b'{"demo": [], "extra": 1}', "unknown key 'extra'"),
        (b'{"demo": [{"question": "q", "rationale": "r", "pred_ans": "1", "cluster": "3"}]}', r"demo\.0\.cluster"),
        (b'{"demo": [{"question": "q", "rationale": "r", "pred_ans": "1", "distance": NaN}]}', r"demo\[0\]\.distance: nan is not a finite number"),
        (b'{"demo": [{"question": ["q"], "rationale": "r", "pred_ans": "1"}]}', r"demo\.0\.question"),
        (b'{"demo": [{"question": [[[["q"]]]], "rationale": "r", "pred_ans": "1"}]}', "nested deeper than 4"),
        (b'{"demo": ' + b"[" * 100_000 + b"]" * 100_000 + b"}", "nested deeper than 4"),
        (b'{"demo": [], "n": ' + b"1" * 5000 + b"}", "a number has thousands of digits"),
        (b'{"demo": ["\xff\xfe"]}', "is not UTF-8 text"),
        (json.dumps({"demo": [{"question": "q", "rationale": "r", "pred_ans": "1"}] * (MAX_DEMOS_IN_FILE + 1)}
                    ).encode(), r"demo: 257 items; a demo file may hold at most 256"),
        (json.dumps({"demo": [{"question": "q" * 20_001, "rationale": "r", "pred_ans": "1"}]}).encode(),
         r"demo\[0\]\.question: text of 20,001 characters; the limit is 20,000"),
    ],
)
def test_bad_demo_files_are_one_line_data_errors(tmp_path, text, message):
    with pytest.raises(DataError, match=message) as err:
        demos_from_json(text)
    assert "\n" not in str(err.value)
    (tmp_path / "bad.json").write_bytes(text)
    with pytest.raises(DataError, match=message):
        load_demos(tmp_path / "bad.json")


@pytest.mark.parametrize("content", [b'{"demo": ["\xff"]}', b'{"demo": ' + b"[" * 50_000 + b"}"])
def test_autocot_show_on_a_hostile_file_is_one_line(tmp_path, capsys, content):
    (tmp_path / "d.json").write_bytes(content)
    assert cli(["autocot", "show", str(tmp_path / "d.json")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1


def test_autocot_show_prints_flags(tmp_path, capsys):
    save_demos([Demo("q", "Let's think step by step. r.", "3", "3", 2, 0.5, True)], tmp_path / "d.json")
    assert cli(["autocot", "show", str(tmp_path / "d.json")]) == 0
    assert "--- demo 0 · cluster 2 [fallback: no candidate passed the filters]" in capsys.readouterr().out


# ---- the real model -----------------------------------------------------------------
def cached(reason):
    """The same rationale for a question on every call (two builds, one generation each)."""
    seen: dict[str, Reasoning] = {}

    def once(q: str) -> Reasoning:
        if q not in seen:
            seen[q] = reason(q)
        return seen[q]

    return once


def test_real_model_drops_a_failing_cluster_and_flags_it_only_when_asked(gemma):
    """gemma-3-270m, greedy, 24 reasoning tokens: some cluster has no member whose rationale passes."""
    from workbench.retrieval.embedder import load_embedder

    pool = list(load_sample("arithmetic"))[:6]
    vectors = load_embedder().encode([e.input for e in pool])
    reason = cached(zero_shot_cot_reasoner(gemma, "number", DecodingConfig(max_new_tokens=24)))
    cfg = AutoCoTConfig(k=2, max_tries_per_cluster=2)
    strict = build_demos(pool, vectors, reason, cfg, answer_format="number")
    assert strict.dropped, "every cluster passed: the test needs a cluster with no passing member"
    for c, tried in enumerate(strict.candidates):
        kept = [d for d in strict.demos if d.cluster == c]
        assert bool(kept) == any(not t.failures for t in tried)
        assert not any(d.fallback for d in kept)
    flagged = build_demos(pool, vectors, reason, AutoCoTConfig(k=2, max_tries_per_cluster=2, fallback=True))
    assert len(flagged.demos) == 2 and flagged.fallbacks == strict.dropped
    nearest = {c: next(t for t in strict.candidates[c] if t.reasoning) for c in strict.dropped}
    for d in flagged.demos:
        if d.fallback:
            assert d.question == pool[nearest[d.cluster].index].input
            assert d.rationale == collapse_whitespace(full_rationale(nearest[d.cluster].reasoning.rationale))


def test_real_model_label_dataset_works(gemma):
    """A sentiment pool: the rationales end in one of its labels (or nothing), never an error."""
    pool = load_sample("sentiment")
    examples = list(pool)[24:40]  # measured: 3 of these 16 rationales end in a label (gemma-3-270m, greedy)
    reason = zero_shot_cot_reasoner(gemma, "label", DecodingConfig(max_new_tokens=32), labels=pool.labels())
    result = build_demos(examples, np.eye(16, dtype=np.float32), reason,
                         AutoCoTConfig(k=1, fallback=True, max_tries_per_cluster=16))
    answers = [t.reasoning.answer for t in result.candidates[0]]
    assert len(result.demos) == 1 and set(answers) <= {*pool.labels(), None}
    assert set(answers) & set(pool.labels()), answers


@pytest.mark.parametrize("bad", ["\x1b[31m", "\x00", "\u2028", "\x9b"])
def test_control_characters_in_a_demo_file_are_refused(bad):
    row = {"question": "q", "rationale": "r", "pred_ans": "1", "choices": {"A": "x"}}
    for field in ("question", "rationale", "pred_ans", "gold_ans"):
        with pytest.raises(DataError, match=rf"demo\.0\.{field}: control character U\+"):
            demos_from_json(json.dumps({"demo": [{**row, field: f"a{bad}b"}]}))
    with pytest.raises(DataError, match=r"demo\.0\.choices: control character"):
        demos_from_json(json.dumps({"demo": [{**row, "choices": {f"A{bad}": "x"}}]}))
    assert demos_from_json(json.dumps({"demo": [{**row, "question": "a\tb\nc"}]}))[0].question == "a\tb\nc"
