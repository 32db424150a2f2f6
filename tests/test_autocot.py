"""Auto-CoT: clustering order, heuristics, fallback and the demo-file round trip, on hand-made inputs."""

from __future__ import annotations

import numpy as np
import pytest

from workbench.autocot import (
    AutoCoTConfig,
    Demo,
    Reasoning,
    answer_at_end,
    build_demos,
    cluster_order,
    demos_from_json,
    demos_to_json,
    heuristic_failures,
    load_demos,
    pick_demos,
    rationale_steps,
    save_demos,
)
from workbench.data import Example
from workbench.errors import ConfigError, DataError

CFG = AutoCoTConfig(k=2)


def test_defaults_are_the_papers():
    cfg = AutoCoTConfig()
    assert (cfg.k, cfg.max_question_words, cfg.max_rationale_steps) == (8, 60, 5)
    with pytest.raises(ConfigError, match="k must be at least 1"):
        AutoCoTConfig(k=0)


def test_rationale_steps_counts_non_empty_lines():
    assert rationale_steps("a.\n\nb.\nc.") == 3
    assert rationale_steps("one line only.") == 1
    assert rationale_steps("  ") == 0


def test_answer_at_end():
    assert answer_at_end("There are 3 + 5 = 8 apples. So the answer is 8.", "8")
    assert not answer_at_end("She has 8 apples. Then she eats some.", "8")
    assert not answer_at_end("The total is 18.", "8")  # 8 inside 18 does not count
    assert answer_at_end("He pays $1,250 in total.", "1250")


@pytest.mark.parametrize(
    ("question", "reasoning", "expected"),
    [
        ("How many?", Reasoning("3 + 5 = 8. The answer is 8.", "8"), ()),
        ("word " * 61, Reasoning("So 8.", "8"), ("question has 61 words > 60",)),
        ("How many?", Reasoning("a\nb\nc\nd\ne\nf. So 8.", "8"), ("rationale has 6 steps > 5",)),
        ("How many?", Reasoning("I do not know.", None), ("no answer could be extracted",)),
        ("How many?", Reasoning("It is 8. Then more happens.", "8"), ("answer 8 is not at the end of the rationale",)),
        ("How many?", Reasoning("", "8"), ("empty rationale", "answer 8 is not at the end of the rationale")),
    ],
)
def test_each_heuristic(question, reasoning, expected):
    assert heuristic_failures(question, reasoning, AutoCoTConfig()) == expected


def test_cluster_order_nearest_to_centroid_first():
    v = np.array([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0], [0.5, 0.5], [0.1, 0.9], [0.3, 0.7]], dtype=np.float32)
    assign = np.array([0, 0, 1, 0, 1, 1])
    order = cluster_order(v, assign)
    # cluster 0 centroid = (0.8, 0.2): row 1 is nearest, then 0 (dist .283), then 3 (.424)
    assert [row for row, _ in order[0]] == [1, 0, 3]
    # cluster 1 centroid = (0.133, 0.867): row 4 (.047), then 2 (.189), then 5 (.236)
    assert [row for row, _ in order[1]] == [4, 2, 5]
    assert order[0][0][1] == pytest.approx(np.linalg.norm([0.1, -0.1]), abs=1e-6)


def scripted(answers: dict[str, Reasoning]):
    calls = []

    def reason(q: str) -> Reasoning:
        calls.append(q)
        return answers[q]

    return reason, calls


def test_pick_takes_first_passing_candidate_and_says_why_others_failed():
    questions = ["q0", "q1", "q2", "q3"]
    ordered = [[(0, 0.1), (1, 0.2)], [(2, 0.1), (3, 0.3)]]
    reason, calls = scripted({
        "q0": Reasoning("Long\nlong\nlong\nlong\nlong\nlong. So 4.", "4"),
        "q1": Reasoning("2 + 2 = 4. The answer is 4.", "4"),
        "q2": Reasoning("1 + 1 = 2. The answer is 2.", "2"),
        "q3": Reasoning("unused", "9"),
    })
    demos, tried = pick_demos(questions, ordered, reason, CFG, gold=["4", "4", "2", "9"])
    assert [d.question for d in demos] == ["q1", "q2"]
    assert [d.fallback for d in demos] == [False, False]
    assert calls == ["q0", "q1", "q2"]  # q3 never generated: its cluster was done
    assert tried[0][0].failures == ("rationale has 6 steps > 5",)
    assert tried[0][1].failures == ()
    assert demos[0] == Demo("q1", "2 + 2 = 4. The answer is 4.", "4", "4", 0, 0.2, False)


def test_fallback_to_nearest_when_nothing_passes():
    reason, _ = scripted({"q0": Reasoning("no idea", None), "q1": Reasoning("none", None)})
    demos, tried = pick_demos(["q0", "q1"], [[(0, 0.1), (1, 0.2)]], reason, AutoCoTConfig(k=1))
    assert len(demos) == 1 and demos[0].fallback and demos[0].question == "q0"
    assert all(c.failures for c in tried[0])


def test_tries_are_bounded():
    reason, calls = scripted({f"q{i}": Reasoning("x", None) for i in range(10)})
    ordered = [[(i, i / 10) for i in range(10)]]
    pick_demos([f"q{i}" for i in range(10)], ordered, reason, AutoCoTConfig(k=1, max_tries_per_cluster=3))
    assert calls == ["q0", "q1", "q2"]


def test_cancel_stops():
    reason, _ = scripted({"q0": Reasoning("x", None)})
    with pytest.raises(InterruptedError):
        pick_demos(["q0"], [[(0, 0.0)]], reason, AutoCoTConfig(k=1), should_stop=lambda: True)


def test_build_demos_on_hand_made_vectors_one_demo_per_cluster():
    pool = [Example(str(i), f"q{i}", str(i)) for i in range(6)]
    v = np.array([[1, 0], [0.95, 0.05], [0.9, 0.1], [0, 1], [0.05, 0.95], [0.1, 0.9]], dtype=np.float32)
    v /= np.linalg.norm(v, axis=1, keepdims=True)
    reason, _ = scripted({f"q{i}": Reasoning(f"It is {i}. The answer is {i}.", str(i)) for i in range(6)})
    result = build_demos(pool, v, reason, AutoCoTConfig(k=2))
    assert sorted(d.question for d in result.demos) == ["q1", "q4"]  # the middle of each group
    assert len(set(result.assignments[:3])) == 1 and len(set(result.assignments[3:])) == 1
    assert [ex.rationale for ex in result.examples()] == [f"Let's think step by step. {d.rationale}" for d in result.demos]


def test_json_round_trip_and_paper_format(tmp_path):
    demos = (Demo("q", "r. The answer is 3.", "3", "3", 0, 0.5, False), Demo("p", "s.", "1", None, 1, 0.1, True))
    assert demos_from_json(demos_to_json(demos)) == demos
    save_demos(demos, tmp_path / "d.json")
    assert load_demos(tmp_path / "d.json") == demos
    paper = '{"demo": [{"question": "Q: x?\\nA:", "rationale": "Let\'s think. 2.", "pred_ans": "2", "gold_ans": "2"}]}'
    assert demos_from_json(paper)[0].pred_ans == "2"


@pytest.mark.parametrize(
    ("text", "message"),
    [("not json", "not valid JSON"), ("[]", 'must be a JSON object with a "demo" list'),
     ('{"demo": [{"question": "q"}]}', "lacks text field"), ('{"demo": [3]}', "is not an object")],
)
def test_bad_demo_files(text, message):
    with pytest.raises(DataError, match=message):
        demos_from_json(text)
