"""Published benchmark files read as they come (workbench.data.shapes): GSM8K, AQuA, CommonsenseQA, BIG-bench,
a choices list with an index, booleans; detected, shown, overridable; bad gold lines; the worked-solution warning."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from workbench.answers import AnswerFormat
from workbench.data import ColumnMapping, Example, Pool, load_pool, read_rows
from workbench.data.shapes import SHAPES, describe
from workbench.errors import ConfigError, DataError
from workbench.evaluate.formats import default_spec, gold_warning, infer_format
from workbench.evaluate.runner import evaluate
from workbench.evaluate.strategies import make_strategy
from workbench.prompts.rendering import render
from workbench.store import open_store

GSM8K = [
    {"question": "Natalia sold clips to 48 of her friends in April, and then she sold half as many clips in May. "
                 "How many clips did Natalia sell altogether in April and May?",
     "answer": "Natalia sold 48/2 = <<48/2=24>>24 clips in May.\nNatalia sold 48+24 = <<48+24=72>>72 clips "
               "altogether in April and May.\n#### 72"},
    {"question": "A shop sold 1,000 pens a day for 2 days. How many pens did it sell?",
     "answer": "It sold 1,000 * 2 = <<1000*2=2000>>2,000 pens.\n#### 2,000"},
    {"question": "Weng earns $12 an hour. She worked 50 minutes. How much did she earn?",
     "answer": "Weng earns 12/60 = $<<12/60=0.2>>0.2 per minute.\nWorking 50 minutes, she earned 0.2 x 50 = "
               "$<<0.2*50=10>>10.\n#### 10"},
]

AQUA = [
    {"question": "Two friends plan to walk along a 43-km trail, starting at opposite ends of the trail at the "
                 "same time. If Friend P's rate is 15% faster than Friend Q's, how many kilometers will Friend P "
                 "have walked when they pass each other?",
     "options": ["A)21", "B)21.5", "C)22", "D)22.5", "E)23"],
     "rationale": "If Q complete x kilometers, then P completes 1.15x kilometers.\nx + 1.15x = 43\n2.15x=43\n"
                  "x = 43/2.15 = 20\nThen P will have have walked 1.15*20=23 km.\nThe answer is E.",
     "correct": "E"},
    {"question": "In the coordinate plane, points (x, 1) and (5, y) are on line k. If line k passes through the "
                 "origin and has slope 1/5, then what are the values of x and y respectively?",
     "options": ["A)4 and 1", "B)1 and 5", "C)5 and 1", "D)3 and 5", "E)5 and 3"],
     "rationale": "Line k passes through the origin and has slope 1/5 means that its equation is y=1/5*x.\n"
                  "Thus: (x, 1)=(5, 1) and (5, y) = (5,1) -->x=5 and y=1\nAnswer: C",
     "correct": "C"},
]

CSQA = [
    {"answerKey": "A", "id": "075e483d21c29a511267ef62bedc0461",
     "question": {"question_concept": "punishing",
                  "choices": [{"label": "A", "text": "ignore"}, {"label": "B", "text": "enforce"},
                              {"label": "C", "text": "authoritarian"}, {"label": "D", "text": "yell at"},
                              {"label": "E", "text": "avoid"}],
                  "stem": "The sanctions against the school were a punishing blow, and they seemed to what the "
                          "efforts the school had made to change?"}},
    {"answerKey": "B", "id": "61fe6e879ff18686d7552425a36344c8",
     "question": {"question_concept": "people",
                  "choices": [{"label": "A", "text": "race track"}, {"label": "B", "text": "populated areas"},
                              {"label": "C", "text": "the desert"}, {"label": "D", "text": "apartment"},
                              {"label": "E", "text": "roadblock"}],
                  "stem": "Sammy wanted to go to where the people were.  Where might he go?"}},
]


def jsonl(tmp_path: Path, name: str, rows: list[dict]) -> Path:
    path = tmp_path / name
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def error_of(*args, **kwargs) -> str:
    with pytest.raises(DataError) as info:
        load_pool(*args, **kwargs)
    assert "\n" not in str(info.value)
    return str(info.value)


# ---- GSM8K -----------------------------------------------------------------------------------------------

def test_gsm8k_gold_is_the_number_after_the_hashes_and_the_solution_is_the_rationale(tmp_path):
    pool = load_pool(jsonl(tmp_path, "test.jsonl", GSM8K))
    assert pool.shape == "gsm8k"
    assert [ex.answer for ex in pool] == ["72", "2000", "10"]  # commas dropped, as openai's extract_answer
    assert pool[0].rationale == ("Natalia sold 48/2 = 24 clips in May.\n"
                                 "Natalia sold 48+24 = 72 clips altogether in April and May.")
    assert pool[1].rationale == "It sold 1,000 * 2 = 2,000 pens."
    assert pool[0].input == GSM8K[0]["question"]
    assert infer_format(pool) == (AnswerFormat.NUMBER, ())
    assert describe(pool) == ("gsm8k: gold = the number after ####; the solution before it is the rationale; "
                              "3 rationales found")
    assert gold_warning(pool) is None


def test_gsm8k_rationales_serve_manual_cot(tmp_path, fake_backend):
    pool = load_pool(jsonl(tmp_path, "train.jsonl", GSM8K))
    dataset = Pool("q", (Example("q1", "Tom has 3 apples and buys 4. How many now?", "7"),))
    fake_backend.reply = lambda prompt, seed: " 3 + 4 = 7. The answer is 7."
    strategy = make_strategy("manualcot1", default_spec(dataset, pool), pool)
    store = open_store(tmp_path / "wb.db")
    try:
        run = evaluate(dataset, pool, [strategy], fake_backend, store, cache=False)
    finally:
        store.close()
    assert fake_backend.prompts[0] == (
        "Q: " + GSM8K[0]["question"] + "\nA: Natalia sold 48/2 = 24 clips in May.\nNatalia sold 48+24 = 72 clips "
        "altogether in April and May. The answer is 72.\n\nQ: Tom has 3 apples and buys 4. How many now?\nA:")
    assert [(s.n, s.correct) for s in run.summaries] == [(1, 1)]


def test_a_gsm8k_row_without_a_final_number_stops_the_load_naming_column_and_value(tmp_path):
    rows = [*GSM8K, {"question": "How many?", "answer": "She has 5 left.\n#### five"}]
    assert error_of(jsonl(tmp_path, "g.jsonl", rows)) == (
        "g.jsonl line 4: column 'answer' has no number after '####' (GSM8K's final answer): "
        "'She has 5 left.\\n#### five' (read as gsm8k; set the shape to none to read the columns as written)")
    rows = [*GSM8K, {"question": "How many?", "answer": "She has 5 left."}]
    assert error_of(jsonl(tmp_path, "h.jsonl", rows)).startswith(
        "h.jsonl line 4: column 'answer' has no number after '####' (GSM8K's final answer): 'She has 5 left.'")


def test_gsm8k_read_as_written_gets_the_worked_solution_warning_with_the_fix(tmp_path):
    pool = load_pool(jsonl(tmp_path, "test.jsonl", GSM8K), ColumnMapping(shape=None))
    assert pool.shape is None and pool[0].answer.endswith("#### 72") and pool[0].rationale is None
    assert infer_format(pool)[0] is AnswerFormat.FREE
    assert gold_warning(pool) == (
        "The gold answers look like worked solutions (3 of 3 span several lines or over 25 words, e.g. 'Natalia "
        "sold 48/2 = <<48/2=24>>24 clips in May. Na'); the output's first line will hardly ever equal one: "
        "read the file with the gsm8k shape (the number after ####; the solution before it is the rationale).")
    long = Pool("l", tuple(Example(str(i), "Summarise.", " ".join(["word"] * 30) + str(i)) for i in range(2)))
    assert gold_warning(long).endswith("put the final answer alone in the answer column and the working in a "
                                       "'rationale' column, or judge with assertions (--assert, __expected).")
    assert gold_warning(Pool("s", (Example("1", "Capital?", "Paris"), Example("2", "Capital?", "Rome")))) is None


# ---- AQuA ------------------------------------------------------------------------------------------------

def test_aqua_options_are_the_choices_lettered_in_order_and_reach_the_prompt(tmp_path):
    pool = load_pool(jsonl(tmp_path, "test.json", AQUA))  # AQuA's test.json holds one object per line
    assert pool.shape == "aqua"
    assert pool[0].choices == {"A": "21", "B": "21.5", "C": "22", "D": "22.5", "E": "23"}
    assert [ex.answer for ex in pool] == ["E", "C"]
    assert pool[1].rationale == AQUA[1]["rationale"]
    assert infer_format(pool) == (AnswerFormat.CHOICE, ("A", "B", "C", "D", "E"))
    spec = default_spec(pool)
    assert render(spec, [], pool[1]).text == (  # Kojima et al.'s "Answer Choices: (A) ..." layout
        "Q: " + AQUA[1]["question"] + " Answer Choices: (A) 4 and 1 (B) 1 and 5 (C) 5 and 1 (D) 3 and 5 "
        "(E) 5 and 3\nA:")
    assert describe(pool) == ("aqua: gold = the correct letter; choices from options; 2 rationales found; "
                              "choices shown for 2 items")


def test_aqua_rationales_serve_manual_cot(tmp_path, fake_backend):
    pool = load_pool(jsonl(tmp_path, "train.jsonl", AQUA))
    dataset = Pool("q", (Example("q1", "What is 2 + 3?", "B", choices={"A": "4", "B": "5"}),))
    fake_backend.reply = lambda prompt, seed: " 2 + 3 = 5. The answer is B."
    strategy = make_strategy("manualcot1", default_spec(dataset, pool), pool)
    store = open_store(tmp_path / "wb.db")
    try:
        run = evaluate(dataset, pool, [strategy], fake_backend, store, cache=False)
    finally:
        store.close()
    assert fake_backend.prompts[0].startswith(
        "Q: " + AQUA[0]["question"] + " Answer Choices: (A) 21 (B) 21.5 (C) 22 (D) 22.5 (E) 23\nA: If Q complete "
        "x kilometers, then P completes 1.15x kilometers.")
    assert fake_backend.prompts[0].endswith(
        "The answer is E. The answer is E.\n\nQ: What is 2 + 3? Answer Choices: (A) 4 (B) 5\nA:")
    assert [(s.n, s.correct) for s in run.summaries] == [(1, 1)]


def test_aqua_bad_correct_letter_and_bad_option(tmp_path):
    assert error_of(jsonl(tmp_path, "a.jsonl", [AQUA[0], {**AQUA[1], "correct": "F"}])) == (
        "a.jsonl line 2: column 'correct' holds 'F', not one of the options' letters A, B, C, D, E (read as aqua; "
        "set the shape to none to read the columns as written)")
    bad = {**AQUA[1], "options": ["A)4", "A)5"]}
    assert error_of(jsonl(tmp_path, "b.jsonl", [AQUA[0], bad, AQUA[1]])).startswith(
        "b.jsonl line 2: column 'options' entry 'A)5' is not a new letter and text such as 'A)21'")


# ---- CommonsenseQA ----------------------------------------------------------------------------------------

def test_commonsenseqa_stem_choices_and_answer_key(tmp_path):
    pool = load_pool(jsonl(tmp_path, "dev_rand_split.jsonl", CSQA))
    assert pool.shape == "commonsenseqa"
    assert pool[1] == Example("61fe6e879ff18686d7552425a36344c8",
                              "Sammy wanted to go to where the people were.  Where might he go?", "B",
                              choices={"A": "race track", "B": "populated areas", "C": "the desert",
                                       "D": "apartment", "E": "roadblock"})
    assert render(default_spec(pool), [], pool[1]).text == (
        "Q: Sammy wanted to go to where the people were.  Where might he go? Answer Choices: (A) race track "
        "(B) populated areas (C) the desert (D) apartment (E) roadblock\nA:")


def test_commonsenseqa_choices_out_of_order_are_lettered_in_order_and_numbers_become_letters(tmp_path):
    arc = {"id": "Mercury_1", "answerKey": "2",
           "question": {"stem": "Which is a metal?", "choices": [{"label": "2", "text": "iron"},
                                                                  {"label": "1", "text": "wood"}]}}
    shuffled = {**CSQA[0], "question": {**CSQA[0]["question"],
                                        "choices": list(reversed(CSQA[0]["question"]["choices"]))}}
    pool = load_pool(jsonl(tmp_path, "arc.jsonl", [arc, shuffled]))
    assert pool[0].choices == {"A": "wood", "B": "iron"} and pool[0].answer == "B"
    assert list(pool[1].choices) == ["A", "B", "C", "D", "E"]


def test_commonsenseqa_test_split_without_answers_is_refused(tmp_path):
    rows = [{k: v for k, v in r.items() if k != "answerKey"} for r in CSQA]
    assert error_of(jsonl(tmp_path, "test_rand_split_no_answers.jsonl", rows)) == (
        "test_rand_split_no_answers.jsonl line 1: column 'answerKey' is missing, so the item has no gold answer "
        "(CommonsenseQA's test split has none; use the train or dev file) (read as commonsenseqa; set the shape "
        "to none to read the columns as written)")


def test_hugging_face_commonsenseqa_and_arc_label_and_text_lists(tmp_path):
    rows = [{"id": "1", "question": "Where might he go?", "question_concept": "people",
             "choices": {"label": ["A", "B", "C"], "text": ["race track", "populated areas", "the desert"]},
             "answerKey": "B"},
            {"id": "Mercury_2", "question": "Which is a metal?",
             "choices": {"label": ["1", "2"], "text": ["wood", "iron"]}, "answerKey": "2"}]
    pool = load_pool(jsonl(tmp_path, "validation.jsonl", rows))
    assert pool.shape == "hf-mcq"
    assert [(ex.input, ex.answer, ex.choices) for ex in pool] == [
        ("Where might he go?", "B", {"A": "race track", "B": "populated areas", "C": "the desert"}),
        ("Which is a metal?", "B", {"A": "wood", "B": "iron"})]
    bad = {**rows[0], "answerKey": "D"}
    assert error_of(jsonl(tmp_path, "v.jsonl", [rows[0], bad])) == (
        "v.jsonl line 2: column 'answerKey' holds 'D', not one of the choices' labels A, B, C (read as hf-mcq; set "
        "the shape to none to read the columns as written)")


# ---- BIG-bench task.json -----------------------------------------------------------------------------------

def task(tmp_path: Path, examples: list[dict], name: str = "task.json") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps({"name": "date_understanding", "description": "d", "keywords": ["x"],
                                "metrics": ["multiple_choice_grade"], "examples": examples}), encoding="utf-8")
    return path


def test_bigbench_target_scores_become_lettered_choices(tmp_path):
    examples = [{"input": "Alice has a ball, Bob has a hat. They swap. Alice has the",
                 "target_scores": {"ball.": 0, "hat.": 1}},
                {"input": "Alice has a ball, Bob has a hat. Nothing happens. Alice has the",
                 "target_scores": {"ball.": 1, "hat.": 0}}]
    pool = load_pool(task(tmp_path, examples))
    assert pool.shape == "bigbench"
    assert [(ex.input, ex.answer, ex.choices) for ex in pool] == [
        (examples[0]["input"], "B", {"A": "ball.", "B": "hat."}),
        (examples[1]["input"], "A", {"A": "ball.", "B": "hat."})]
    assert render(default_spec(pool), [], pool[0]).text == (
        "Q: Alice has a ball, Bob has a hat. They swap. Alice has the Answer Choices: (A) ball. (B) hat.\nA:")


def test_bigbench_choices_listed_right_first_in_every_row_are_shuffled_with_a_fixed_seed(tmp_path):
    examples = [{"input": "Today is 9/7/2019. What is the date tomorrow in MM/DD/YYYY?",
                 "target_scores": {"09/08/2019": 1, "09/06/2019": 0, "10/08/2019": 0, "08/08/2019": 0}},
                {"input": "Yesterday was 12/31/1929. What is the date today in MM/DD/YYYY?",
                 "target_scores": {"01/01/1930": 1, "12/30/1929": 0, "01/02/1930": 0}}]
    pool = load_pool(task(tmp_path, examples))
    assert [(ex.answer, ex.choices) for ex in pool] == [
        ("C", {"A": "09/06/2019", "B": "10/08/2019", "C": "09/08/2019", "D": "08/08/2019"}),
        ("C", {"A": "12/30/1929", "B": "01/02/1930", "C": "01/01/1930"})]
    assert load_pool(task(tmp_path, examples, "again.json")).examples == pool.examples  # the same every time


def test_bigbench_yes_no_scores_and_target_text(tmp_path):
    strategyqa = [{"input": "Are more people today related to Genghis Khan than Julius Caesar?",
                   "target": "Yes. Julius Caesar had three children...", "target_scores": {"Yes": 1, "No": 0}},
                  {"input": "Could a llama birth twice during War in Vietnam (1945-46)?",
                   "target": "No. The War in Vietnam lasted 6 months...", "target_scores": {"Yes": 0, "No": 1}}]
    pool = load_pool(task(tmp_path, strategyqa))
    assert [ex.answer for ex in pool] == ["yes", "no"] and pool[0].choices is None
    assert infer_format(pool) == (AnswerFormat.YES_NO, ())
    words = load_pool(task(tmp_path, [{"input": "Reverse 'ab'", "target": ["ba", "b a"]},
                                      {"input": "Reverse 'cd'", "target": "dc"}], "w.json"))
    assert [ex.answer for ex in words] == ["ba", "dc"]


def test_bigbench_bad_scores_and_a_plain_object_file(tmp_path):
    tie = [{"input": "q1", "target_scores": {"a": 1, "b": 0}}, {"input": "q2", "target_scores": {"a": 1, "b": 1}}]
    assert error_of(task(tmp_path, tie)) == (
        "task.json item 2: column 'target_scores' must give one choice the highest score, not \"{'a': 1.0, "
        "'b': 1.0}\" (read as bigbench; set the shape to none to read the columns as written)")
    path = tmp_path / "o.json"
    path.write_text('{"question": "q", "answer": "a"}', encoding="utf-8")
    assert error_of(path) == ('o.json: expected a JSON array of objects (or a BIG-bench task with an "examples" '
                              "list), found one object; wrap the rows in [ ]")


# ---- a choices list with an index; booleans -----------------------------------------------------------------

def test_mmlu_choices_list_with_an_integer_answer(tmp_path):
    rows = [{"question": "What is 2 + 2?", "subject": "math", "choices": ["3", "4", "5", "6"], "answer": 1},
            {"question": "Largest planet?", "subject": "astro", "choices": ["Mars", "Jupiter", "Venus"], "answer": 1},
            {"question": "First letter?", "choices": ["b", "a"], "label": 1},
            {"question": "Colour of the sky?", "choices": ["green", "blue"], "answer": "blue"}]
    pool = load_pool(jsonl(tmp_path, "mmlu.jsonl", rows))
    assert pool.shape == "choice-list"
    assert [(ex.answer, ex.choices) for ex in pool] == [
        ("B", {"A": "3", "B": "4", "C": "5", "D": "6"}), ("B", {"A": "Mars", "B": "Jupiter", "C": "Venus"}),
        ("B", {"A": "b", "B": "a"}), ("B", {"A": "green", "B": "blue"})]
    assert infer_format(pool) == (AnswerFormat.CHOICE, ("A", "B", "C", "D"))


def test_mmlu_index_out_of_range(tmp_path):
    rows = [{"question": "q1", "choices": ["x", "y"], "answer": 0}, {"question": "q2", "choices": ["x", "y"],
                                                                     "answer": 0},
            {"question": "q3", "choices": ["x", "y"], "answer": 2}]
    assert error_of(jsonl(tmp_path, "m.jsonl", rows)) == (
        "m.jsonl line 3: column 'answer' holds '2', which is not an index 0-1, a letter A-B or one of the choices "
        "(read as choice-list; set the shape to none to read the columns as written)")


def test_boolean_answers_are_yes_no(tmp_path):
    rows = [{"qid": "1", "question": "Is the sky blue?", "answer": True, "facts": ["It is."]},
            {"qid": "2", "question": "Do fish walk?", "answer": False, "facts": ["They swim."]}]
    pool = load_pool(jsonl(tmp_path, "strategyqa_train.json", rows), fmt="jsonl")
    assert pool.shape == "boolean" and [ex.answer for ex in pool] == ["yes", "no"]
    assert infer_format(pool) == (AnswerFormat.YES_NO, ())
    assert [ex.answer for ex in load_pool(jsonl(tmp_path, "s.jsonl", rows), ColumnMapping(shape=None))] == [
        "true", "false"]


# ---- override, detection shown, letters ------------------------------------------------------------------------

def test_a_forced_shape_reads_every_row_or_names_the_one_it_cannot(tmp_path):
    rows = [{"question": "q1", "answer": "#### 3"}, {"question": "q2", "answer": "4"},
            {"question": "q3", "answer": "5"}]
    path = jsonl(tmp_path, "few.jsonl", rows)
    assert load_pool(path).shape is None  # one row in three fits: not detected
    assert error_of(path, ColumnMapping(shape="gsm8k")).startswith(
        "few.jsonl line 2: column 'answer' has no number after '####' (GSM8K's final answer): '4'")
    assert error_of(jsonl(tmp_path, "t.jsonl", [{"question": "q", "answer": "a"}]), ColumnMapping(shape="aqua")) == (
        "t.jsonl has no column 'options' for the aqua shape; available columns: question, answer")
    assert ColumnMapping(shape="none").shape is None and ColumnMapping(shape="GSM8K").shape == "gsm8k"
    with pytest.raises(ConfigError, match=r"^Unknown dataset shape 'gsm9k'; use auto, none or one of gsm8k|"):
        ColumnMapping(shape="gsm9k")


def test_a_label_map_turns_detection_off(tmp_path):
    rows = [{"question": "Is it?", "answer": True}, {"question": "Is it not?", "answer": False}]
    pool = load_pool(jsonl(tmp_path, "b.jsonl", rows), ColumnMapping(label_map=(("true", "yes"), ("false", "no"))))
    assert pool.shape is None and [ex.answer for ex in pool] == ["yes", "no"]


def test_describe_a_raw_table_before_mapping(tmp_path):
    assert describe(read_rows(jsonl(tmp_path, "test.jsonl", GSM8K))) == (
        "looks like gsm8k (GSM8K: question, answer = a worked solution ending '#### 18'): gold = the number after "
        "####; the solution before it is the rationale")
    assert describe(read_rows(jsonl(tmp_path, "p.jsonl", [{"question": "q", "answer": "a"}]))) == (
        "no dataset shape detected: the columns are read as mapped")
    assert list(SHAPES) == ["commonsenseqa", "hf-mcq", "aqua", "gsm8k", "bigbench", "choice-list", "boolean"]


def test_letters_are_ordered_a_b_c_whatever_order_they_come_in():
    items = (Example("1", "q", "C", choices={"C": "z", "A": "x"}), Example("2", "q", "B", choices={"B": "y"}))
    assert infer_format(Pool("mc", items)) == (AnswerFormat.CHOICE, ("A", "B", "C"))
    letters = Pool("l", tuple(Example(str(i), f"q{i}", a, label=a) for i, a in enumerate("AEBDCAEBDC")))
    spec = default_spec(letters)
    assert spec.instruction == "Classify each input as one of: A, B, C, D, E."
    words = Pool("w", tuple(Example(str(i), f"q{i}", a, label=a) for i, a in enumerate(["pos", "neg", "pos"])))
    assert infer_format(words) == (AnswerFormat.LABEL, ("pos", "neg"))  # words keep their first-seen order


# ---- edge cases (issue 26): duplicate choice labels, AQuA options without their letter -----------------------

def test_duplicate_choice_labels_are_refused_naming_row_column_and_label(tmp_path):
    csqa = {**CSQA[0], "question": {"stem": "Which?", "choices": [{"label": "A", "text": "x"},
                                                                   {"label": "A", "text": "y"}]}}
    assert error_of(jsonl(tmp_path, "c.jsonl", [CSQA[1], csqa])) == (
        "c.jsonl line 2: column 'question' has two choices labelled 'A' ('x' and 'y'); give each choice its own "
        "label (read as commonsenseqa; set the shape to none to read the columns as written)")
    arc = {"id": "1", "question": "Which?", "choices": {"label": ["1", "A"], "text": ["x", "y"]}, "answerKey": "A"}
    assert error_of(jsonl(tmp_path, "h.jsonl", [arc])) == (
        "h.jsonl line 1: column 'choices' has two choices labelled 'A' ('x' and 'y'); give each choice its own "
        "label (read as hf-mcq; set the shape to none to read the columns as written)")


def test_aqua_option_without_its_letter_names_the_options_column_and_shows_the_value(tmp_path):
    bad = {**AQUA[1], "options": ["A)4 and 1", "5 and 3"]}
    assert error_of(jsonl(tmp_path, "a.jsonl", [bad, AQUA[0]])) == (
        "a.jsonl line 1: column 'options' entry '5 and 3' has no letter such as 'A)21' before its text: "
        "\"['A)4 and 1', '5 and 3']\" (read as aqua; set the shape to none to read the columns as written)")
    unlettered = [{"question": "q", "options": ["21", "22"], "correct": "B"}]
    assert error_of(jsonl(tmp_path, "u.jsonl", unlettered)).startswith(
        "u.jsonl line 1: column 'options' entry '21' has no letter such as 'A)21' before its text")
    # without AQuA's 'correct' column, options lacking their letters are not AQuA: read as written
    assert error_of(jsonl(tmp_path, "o.jsonl", [{"question": "q", "options": ["21", "22"]}])) == (
        "o.jsonl has no column 'answer' for the answer; available columns: question, options")
