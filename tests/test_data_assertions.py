"""Rows that judge themselves (workbench.data.rowchecks): promptfoo's ``__expected`` CSV columns, ``__threshold``,
``__human``; a JSON test case's ``assert`` list (with ``threshold``, ``human`` and ``vars``); every bad cell one
line; the checks built by workbench.judging before any model call and run on the fake backend."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from workbench.data import ColumnMapping, Example, load_pool
from workbench.data.rowchecks import read_row_checks
from workbench.errors import ConfigError, DataError
from workbench.evaluate.formats import default_spec, gold_warning
from workbench.evaluate.runner import evaluate
from workbench.evaluate.strategies import make_strategy
from workbench.judging.verdicts import Judging
from workbench.store import open_store

PROMPTFOO_CSV = (
    "topic,__expected1,__expected2,__threshold,__human,__description\n"
    "France,icontains: paris,,,pass,capital\n"
    '"Italy","contains-any: Rome, Milan",not-contains: Paris,0.5,0,\n'
    "Spain,Madrid,,,,\n"
)


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def error_of(*args, **kwargs) -> str:
    with pytest.raises(DataError) as info:
        load_pool(*args, **kwargs)
    assert "\n" not in str(info.value)
    return str(info.value)


def test_expected_columns_threshold_and_human_fill_each_row(tmp_path):
    pool = load_pool(write(tmp_path, "tests.csv", PROMPTFOO_CSV))
    assert [(ex.input, ex.answer, ex.checks, ex.threshold, ex.human) for ex in pool] == [
        ("France", "", ("icontains: paris",), None, True),
        ("Italy", "", ("contains-any: Rome, Milan", "not-contains: Paris"), 0.5, False),
        ("Spain", "", ("Madrid",), None, None)]
    assert pool[0].label is None  # no gold answers: not a classification pool
    judging = Judging((), pool.examples)  # built and validated before any model call
    assert [[c.to_dict() for c in judging.for_item(ex)] for ex in pool] == [
        [{"type": "icontains", "value": "paris"}],
        [{"type": "contains-any", "value": "Rome, Milan"}, {"type": "not-contains", "value": "Paris"}],
        [{"type": "equals", "value": "Madrid"}]]  # a plain value is promptfoo's equals
    assert gold_warning(pool) is None


def test_the_input_is_question_then_input_then_the_first_plain_column(tmp_path):
    both = "id,question,input,__expected\n1,Q?,I?,contains: x\n"
    assert load_pool(write(tmp_path, "a.csv", both))[0].input == "Q?"
    named = "id,context,input,__expected\n1,C,I?,contains: x\n"
    assert load_pool(write(tmp_path, "b.csv", named))[0].input == "I?"
    assert load_pool(write(tmp_path, "c.csv", "__expected,id,text\ncontains: x,7,T\n"))[0].input == "T"
    assert load_pool(write(tmp_path, "d.csv", "body,__expected\nB,x\n"), ColumnMapping(input="body"))[0].input == "B"


def test_a_gold_answer_column_is_kept_beside_the_assertions(tmp_path):
    text = "question,answer,__expected\nCapital of France?,Paris,icontains: paris\nCapital of Italy?,Rome,\n"
    pool = load_pool(write(tmp_path, "g.csv", text))
    assert [(ex.answer, ex.checks) for ex in pool] == [("Paris", ("icontains: paris",)), ("Rome", None)]


def test_code_in_an_expected_cell_is_refused_in_one_line_naming_the_row(tmp_path):
    for cell, kind in (("javascript: output.length < 10", "javascript"), ("python: file://x.py", "python"),
                       ("fn: output == 1", "javascript")):
        pool = load_pool(write(tmp_path, "t.csv", f"question,__expected\nfine,contains: a\nbad,{cell}\n"))
        assert pool[1].checks == (cell,)  # kept as written; workbench.judging refuses it before any model call
        with pytest.raises(ConfigError) as info:
            Judging((), pool.examples)
        assert str(info.value) == (
            f"item row-2 assertion 1: Assertion type '{kind}' runs code from the file; the workbench never runs "
            "code from prompt or test files (they are shared and untrusted). Use a built-in type such as regex, "
            "is-json or llm-rubric.")


def test_json_test_cases_with_assert_threshold_human_and_vars(tmp_path):
    rows = [{"vars": {"question": "Capital of France?"}, "assert": [{"type": "icontains", "value": "paris"},
                                                                    {"type": "contains", "value": "P", "weight": 2}],
             "threshold": 0.6, "human": True},
            {"question": "Capital of Italy?", "answer": "Rome", "assert": ["contains: Rome"], "human": "fail"},
            {"question": "Capital of Spain?", "answer": "Madrid", "__human": "yes"}]
    path = write(tmp_path, "cases.jsonl", "".join(json.dumps(r) + "\n" for r in rows))
    pool = load_pool(path)
    assert [(ex.input, ex.answer, ex.checks, ex.threshold, ex.human) for ex in pool] == [
        ("Capital of France?", "", ({"type": "icontains", "value": "paris"},
                                    {"type": "contains", "value": "P", "weight": 2}), 0.6, True),
        ("Capital of Italy?", "Rome", ("contains: Rome",), None, False),
        ("Capital of Spain?", "Madrid", None, None, True)]
    assert Example.from_dict(pool[1].to_dict()) == pool[1]  # cell text survives the shared schema
    assert Example.from_dict(pool[1].to_dict()).checks == ("contains: Rome",)
    assert len(Judging((), pool.examples).for_item(pool[0])) == 2


def test_bad_rows_are_one_line_naming_file_row_and_column(tmp_path):
    def csv(body: str, header: str = "question,__expected,__threshold,__human") -> Path:
        return write(tmp_path, "bad.csv", f"{header}\n{body}\n")

    assert error_of(csv("q,contains: a,high,")) == (
        "bad.csv line 2: column '__threshold': the pass threshold must be a number from 0 to 1, not 'high'.")
    assert error_of(csv("q,contains: a,1.5,")) == (
        "bad.csv line 2: column '__threshold': the pass threshold must be a number from 0 to 1, not '1.5'.")
    assert error_of(csv("q,contains: a,,maybe")) == (
        "bad.csv line 2: column '__human' holds 'maybe'; grade the row pass or fail (also true/false, yes/no, 1/0)")
    assert error_of(csv("q,,,")) == (
        "bad.csv line 2: no gold answer (the file has no 'answer' column) and no assertion in __expected or assert; "
        "add one, or an answer column")
    assert error_of(csv("q,x,P", "question,__expected,__prefix")) == (
        "bad.csv: column '__prefix' is a promptfoo option the workbench does not read; remove it (read: __expected, "
        "__expected1.., __threshold, __human; skipped: __description, __metadata)")
    listed = write(tmp_path, "bad.jsonl", json.dumps({"question": "q", "assert": {"type": "contains"}}) + "\n")
    assert error_of(listed) == ('bad.jsonl line 1: field \'assert\' must be a list of assertions, e.g. '
                                '[{"type": "contains", "value": "Paris"}], not dict')


def test_a_file_of_test_cases_runs_judged_by_its_own_assertions(tmp_path, fake_backend):
    pool = load_pool(write(tmp_path, "tests.csv", PROMPTFOO_CSV))
    replies = {"France": " The capital is Paris.", "Italy": " Rome.", "Spain": " Barcelona"}
    fake_backend.reply = lambda prompt, seed: replies[prompt.split("Q: ")[-1].split("\n")[0]]
    store = open_store(tmp_path / "wb.db")
    try:
        run = evaluate(pool, None, [make_strategy("zero", default_spec(pool), pool)], fake_backend, store,
                       cache=False)
        records = store.results(run.run_id)
    finally:
        store.close()
    assert [(r["correct"], [(c["type"], c["passed"]) for c in r["checks"]]) for r in records] == [
        (True, [("icontains", True)]),
        (True, [("contains-any", True), ("not-contains", True)]),
        (False, [("equals", False)])]


# ---- promptfoo's {{var}} placeholders in a row's own assertions (issue 26) -----------------------------------

def test_placeholders_in_a_jsonl_rows_assertions_are_filled_from_its_vars(tmp_path):
    rows = [{"vars": {"question": "Where is the Louvre?", "city": "Paris", "place": {"country": "France"}},
             "assert": [{"type": "icontains", "value": "{{city}}", "rubricPrompt": "{{city}} {{output}}"},
                        {"type": "contains-any", "value": ["{{ city }}", "{{place.country}}", 3]},
                        "icontains: {{city}}", {"type": "similar", "value": "{{expected}}"}]},
            {"vars": {"question": "Capital of Italy?", "city": "Rome", "expected": "Rome, Italy"},
             "assert": [{"type": "equals", "value": "{{expected}}"}]}]
    path = write(tmp_path, "cases.jsonl", "".join(json.dumps(r) + "\n" for r in rows))
    pool = load_pool(path)
    assert [ex.checks for ex in pool] == [
        ({"type": "icontains", "value": "Paris", "rubricPrompt": "{{city}} {{output}}"},
         {"type": "contains-any", "value": ["Paris", "France", 3]},
         "icontains: Paris",
         {"type": "similar", "value": "{{expected}}"}),  # no 'expected' column: the gold answer, when judged
        ({"type": "equals", "value": "Rome, Italy"},)]


def test_placeholders_in_csv_expected_cells_are_filled_from_the_rows_columns(tmp_path):
    text = "question,city,n,__expected1,__expected2\nWhere is the Louvre?,Paris,2,icontains: {{ city }},{{n}}\n"
    assert load_pool(write(tmp_path, "cases.csv", text))[0].checks == ("icontains: Paris", "2")


def test_an_unknown_placeholder_is_one_line_naming_file_row_placeholder_and_columns(tmp_path):
    text = "question,city,__expected\nWhere is the Louvre?,Paris,icontains: {{town}}\n"
    assert error_of(write(tmp_path, "cases.csv", text)) == (
        "cases.csv line 2: an assertion names {{town}}, which is not a column of this row (columns: question, "
        "city)")
    row = {"vars": {"question": "Where?", "city": "Paris"}, "assert": [{"type": "contains", "value": "{{cty}}"}]}
    assert error_of(write(tmp_path, "cases.jsonl", json.dumps(row) + "\n")) == (
        "cases.jsonl line 1: an assertion names {{cty}}, which is not a column of this row (columns: question, "
        "city)")


def test_a_boolean_threshold_in_a_test_case_is_one_line(tmp_path):
    row = {"question": "Where?", "assert": [{"type": "contains", "value": "Paris"}], "threshold": True}
    assert error_of(write(tmp_path, "cases.jsonl", json.dumps(row) + "\n")) == (
        "cases.jsonl line 1: column 'threshold': the pass threshold must be a number from 0 to 1, not True.")


def test_an_assertion_value_is_rendered_as_a_template_as_promptfoo_does():
    """promptfoo renders the whole value with Nunjucks and the vars: filters and blocks too, not only {{ name }}."""
    row = {"vars": {"city": "Paris", "n": None},
           "assert": [{"type": "equals", "value": "{{ city | upper }}"},
                      {"type": "contains", "value": "{% if city %}in {{ city }}{% endif %}"},
                      {"type": "contains-any", "value": ["Paris", "{{ city|lower }}", "[{{ n }}]"]},
                      "icontains: {{ city | replace('P', 'p') }}"]}
    assert read_row_checks(row, "f").checks == (
        {"type": "equals", "value": "PARIS"}, {"type": "contains", "value": "in Paris"},
        {"type": "contains-any", "value": ["Paris", "paris", "[]"]}, "icontains: paris")
    with pytest.raises(DataError, match=r"^f: The assertion tried an unsafe operation: access to attribute '__class__'"):
        read_row_checks({"vars": {"city": "x"}, "assert": ["contains: {{ city.__class__ }}"]}, "f")
