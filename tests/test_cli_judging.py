"""``eval`` judging outputs from where users keep their assertions (issue 26): ``--assert`` flags, a prompt file's
``assert:`` list and ``threshold``, ``--repeat`` with pass@k / pass^k / flaky items, ``--judge``, the summary and
its JSON, the HTML report's per-assertion results; every bad input one line before any model call.

The commands run in this process on the fake backend (tests/fakes.py): the point is what the CLI does around
the model, so the outputs are scripted and every number below is worked out by hand.
"""

from __future__ import annotations

import json

import pytest

from tests.fakes import FakeBackend
from tests.test_cli_hardening import one_line_error, run
from workbench.store import open_store

#: Three questions about cities, as a JSONL file holds them (ids row-1..row-3).
CITIES = ('{"question": "Where is the Eiffel Tower?", "answer": "Paris"}\n'
          '{"question": "Where is the Colosseum?", "answer": "Rome"}\n'
          '{"question": "Where is Big Ben?", "answer": "London"}\n')


def city_reply(prompt: str, seed: int | None) -> str:
    """The Eiffel Tower is always in Paris; the Colosseum is in Paris only with seed 0 (a flaky item); Big Ben is
    in London."""
    query = prompt.rsplit("Where is", 1)[-1]
    if "Eiffel" in query:
        return " Paris, France"
    if "Colosseum" in query:
        return " Paris" if seed in (None, 0) else " Rome"
    return " It is London."


@pytest.fixture
def fake(monkeypatch):
    """The fake model as the default model (a stored run resumes on it)."""
    from workbench.backends import DEFAULT_MODEL, choose_backend, resolve_model
    from workbench.backends.registry import ModelSpec

    backend = FakeBackend(reply=city_reply)
    backend.spec = ModelSpec(DEFAULT_MODEL, "", False)
    backend.name = choose_backend(resolve_model(DEFAULT_MODEL))
    monkeypatch.setattr("workbench.backends.load_backend", lambda *a, **k: backend)
    return backend


@pytest.fixture
def cities(tmp_path):
    path = tmp_path / "cities.jsonl"
    path.write_text(CITIES, encoding="utf-8")
    return str(path)


def table(out: str) -> list[list[str]]:
    """The summary table's rows, split on runs of spaces (header and rows; the rule left out)."""
    lines = out.split("\n\n")[0].splitlines()
    return [line.split() for line in lines[:1] + lines[2:]]


def block(out: str, title: str) -> list[str]:
    """The lines of the block of ``out`` that starts with ``title``."""
    found = next(b for b in out.split("\n\n") if b.startswith(title))
    return found.splitlines()[1:]


def test_assert_flags_judge_every_item_and_the_summary_shows_scores_and_rates(capsys, fake, cities):
    code, out, err = run(capsys, "eval", "--dataset", cities, "--strategies", "zero", "--assert", "icontains:paris",
                         "--assert", "not-contains:Rome", "--no-progress")
    assert code == 0, err
    # Paris, France: 2 of 2 pass; Paris (seed 0): 2 of 2; It is London.: icontains fails, not-contains passes.
    assert table(out) == [["strategy", "n", "accuracy", "95%", "CI", "raw", "acc", "score", "cached", "items/s"],
                          ["zero", "3", "66.7%", "20.8%–93.9%", "0.833", "0/3", out.split("0/3")[1].split()[0]]]
    assert block(out, "assertions") == ["  zero  icontains:paris: 2/3 passed, mean score 0.667",
                                        "  zero  not-contains:Rome: 3/3 passed, mean score 1.000"]
    with open_store() as store:
        run_id = int(err.split("run ")[-1].split()[0])
        (stored,) = store.get_run(run_id).meta["strategies"]
        records = store.results(run_id)
    assert stored["checks"] == [{"type": "icontains", "value": "paris"}, {"type": "not-contains", "value": "Rome"}]
    assert [(r["correct"], r["score"], [c["passed"] for c in r["checks"]]) for r in records] == [
        (True, 1.0, [True, True]), (True, 1.0, [True, True]), (False, 0.5, [False, True])]


def test_a_prompt_file_assert_list_and_threshold_judge_its_strategies_after_the_flags(capsys, fake, cities, tmp_path):
    (tmp_path / "city.yaml").write_text(
        "name: city\nspec:\n  instruction: Name the city.\nassert:\n"
        "  - type: icontains\n    value: paris\n    metric: right_city\n"
        "  - type: not-icontains\n    value: rome\n    weight: 2\n"
        "threshold: 0.6\n", encoding="utf-8")
    code, out, err = run(capsys, "eval", "--dataset", cities, "--prompt", str(tmp_path / "city.yaml"), "--strategies",
                         "zero", "--assert", "not-contains:sorry", "--json", "--no-progress")
    assert code == 0, err
    doc = json.loads(out)
    # weights 1 (sorry), 1 (paris), 2 (rome): Paris, France 4/4 = 1; Paris 4/4 = 1; It is London. (1 + 0 + 2) / 4
    # = 0.75, which reaches the threshold 0.6 though a check failed (promptfoo's rule).
    (s,) = doc["strategies"]
    assert (s["strategy"], s["n"], s["correct"], s["mean_score"], s["named_scores"]) == \
        ("city/zero", 3, 3, round((1 + 1 + 0.75) / 3, 6), {"right_city": round(2 / 3, 6)})
    assert [(c["type"], c["value"], c["passed"], c["n"]) for c in doc["checks"]] == [
        ("not-contains", "sorry", 3, 3), ("icontains", "paris", 2, 3), ("not-icontains", "rome", 3, 3)]
    with open_store() as store:
        (stored,) = store.get_run(doc["run_id"]).meta["strategies"]
        records = store.results(doc["run_id"])
    assert [c["type"] for c in stored["checks"]] == ["not-contains", "icontains", "not-icontains"]
    assert stored["threshold"] == 0.6 and stored["spec"]["instruction"] == "Name the city."
    assert [r["score"] for r in records] == [1.0, 1.0, 0.75]
    # --threshold wins over the file's: at 0.8 the third item fails.
    code, out, err = run(capsys, "eval", "--dataset", cities, "--prompt", str(tmp_path / "city.yaml"), "--strategies",
                         "zero", "--threshold", "0.8", "--json", "--no-progress")
    assert code == 0 and json.loads(out)["strategies"][0]["correct"] == 2, err


def test_repeat_reports_pass_at_k_pass_all_k_and_the_flaky_items(capsys, fake, cities):
    code, out, err = run(capsys, "eval", "--dataset", cities, "--strategies", "zero", "--assert", "icontains:paris",
                         "--repeat", "3", "--temperature", "0.7", "--no-progress")
    assert code == 0, err
    # Seeds 0, 1, 2: Eiffel passes 3 of 3, the Colosseum 1 of 3 (seed 0), Big Ben 0 of 3.
    header, row = table(out)
    assert header[7:10] == ["score", "pass@3", "pass^3"]
    assert row[:4] + row[4:7] == ["zero", "9", "44.4%", "18.9%–73.3%", "0.444", "66.7%", "33.3%"]
    assert block(out, "flaky items") == ["  zero: row-2 1/3"]
    with open_store() as store:
        run_id = int(err.split("run ")[-1].split()[0])
        records = store.results(run_id)
        (stored,) = store.get_run(run_id).meta["strategies"]
    assert stored["repeat"] == 3 and stored["decoding"]["do_sample"] and stored["decoding"]["temperature"] == 0.7
    assert [(r["item_index"], r["repeat"], r["output"].strip()) for r in records if r["id"] == "row-2"] == [
        (3, 0, "Paris"), (4, 1, "Rome"), (5, 2, "Rome")]
    code, out, err = run(capsys, "eval", "--dataset", cities, "--strategies", "zero", "--assert", "icontains:paris",
                         "--repeat", "3", "--temperature", "0.7", "--json", "--no-progress")
    (s,) = json.loads(out)["strategies"]
    assert (s["repeat"], round(s["pass_at_k"], 4), round(s["pass_all_k"], 4), s["flaky"]) == \
        (3, 0.6667, 0.3333, [{"item": 1, "id": "row-2", "passed": 1, "runs": 3}])


def test_the_report_shows_each_items_verdicts_and_the_assertion_pass_rates(capsys, fake, cities, tmp_path):
    out_file = tmp_path / "report.html"
    code, _, err = run(capsys, "eval", "--dataset", cities, "--strategies", "zero", "--assert", "icontains:paris",
                       "--assert", "regex:^\\s*<b>", "--output", str(out_file), "--no-progress")
    assert code == 0, err
    page = out_file.read_text(encoding="utf-8")
    rates = page.split('<table class="checks">')[1].split("</table>")[0]
    rows = [r for r in rates.split("<tr>")[2:]]
    assert len(rows) == 2 and "<td>icontains</td><td>paris</td>" in rows[0] and "<td>regex</td>" in rows[1]
    assert '<td class="num">2</td><td class="num">3</td><td class="num">66.7%</td>' in rows[0]
    assert "^\\s*&lt;b&gt;" in rows[1] and "<b>" not in rates  # the value is escaped
    # Each item's verdicts open under its row: Paris, France and Paris pass icontains only; It is London. neither.
    assert page.count('<table class="verdicts">') == 3 and page.count("<summary>1/2 passed, score 0.50</summary>") == 2
    last = page.split("<summary>0/2 passed, score 0.00</summary>")[1].split("</table>")[0]
    assert '<td>icontains</td><td>paris</td><td class="bad">✗</td><td class="num">0.0</td>' in last
    assert "<td>does not contain &#x27;paris&#x27;</td>" in last


@pytest.mark.parametrize(("flags", "message"), [
    (["--assert", "regex:(("], "error: --assert 'regex:((': assertion 'regex': the regex '((' does not compile"),
    (["--assert", "contians:Paris"], "error: --assert 'contians:Paris': unknown assertion type 'contians'; use one "
                                     "of "),
    (["--assert", "python:check.py"], "error: --assert 'python:check.py': Assertion type 'python' runs code from "
                                      "the file; the workbench never runs code"),
    (["--assert", "javascript:output.length > 3"], "error: --assert 'javascript:output.length > 3': Assertion "
                                                  "type 'javascript' runs code from the file"),
    (["--assert", "contains"], "error: --assert 'contains': assertion 'contains' needs a value."),
    (["--assert", "contains:x", "--threshold", "1.5"],
     "error: --threshold: the pass threshold must be a number from 0 to 1, not 1.5."),
    (["--assert", "contains:x", "--threshold", "nan"], "error: --threshold: the pass threshold must be a number"),
    (["--assert", "contains:x", "--threshold", "half"], "error: argument --threshold: invalid float value: 'half'"),
    (["--threshold", "0.5"], "error: --threshold applies to assertions' weighted score, and no item here has an "
                             "assertion;"),
    (["--repeat", "3"], "error: --repeat 3: zero: repeating greedy decoding gives the same output every time; sample "
                        "(a temperature above 0) to repeat, or repeat once; --temperature T (e.g. 0.7) samples."),
    (["--repeat", "0"], "error: --repeat must be 1 or more, not 0."),
    (["--temperature", "0"], "error: --temperature must be a number above 0, not 0; leave it out for greedy"),
    (["--assert", "contains:x", "--judge", "smollm2-135m-instruct"],
     "error: --judge names the model that model-graded checks (llm-rubric, factuality, ...) ask, and no check here "
     "is model-graded;"),
    (["--judge", "no/such/judge.gguf", "--assert", "contains:x"], "error: Unknown model 'no/such/judge.gguf'"),
    (["--assert", "similar(1.5):a city"], "error: --assert 'similar(1.5):a city': assertion 'similar': threshold 1.5 "
                                          "is outside -1..1."),
])
def test_every_bad_judging_flag_is_one_line_before_any_model_loads(capsys, monkeypatch, cities, flags, message):
    monkeypatch.setattr("workbench.backends.load_backend", None)  # never reached
    monkeypatch.setattr("workbench.retrieval.embedder.load_embedder", None)
    line = one_line_error(run(capsys, "eval", "--dataset", cities, "--strategies", "zero", *flags, "--no-progress"))
    assert line.startswith(message), line


def test_label_scoring_refuses_a_temperature_and_a_repeat(capsys, monkeypatch):
    monkeypatch.setattr("workbench.backends.load_backend", None)
    one_line_error(run(capsys, "eval", "--dataset", "sentiment", "--strategies", "zero", "--answer", "score",
                       "--temperature", "0.7"), "--temperature samples generated answers, and every strategy here "
                                                "scores labels;")
    one_line_error(run(capsys, "eval", "--dataset", "sentiment", "--strategies", "zero", "--answer", "score",
                       "--repeat", "2"), "--repeat 2: zero: label scoring is deterministic; repeat a generating "
                                         "strategy instead.")


def test_a_bad_assertion_in_a_prompt_file_is_one_line_naming_the_file(capsys, monkeypatch, cities, tmp_path):
    monkeypatch.setattr("workbench.backends.load_backend", None)
    for name, body, message in (
            ("code.yaml", "assert:\n  - type: python\n    value: file://grade.py\n",
             "error: code.yaml assertion 1: Assertion type 'python' runs code from the file"),
            ("regex.yaml", "assert:\n  - contains: fine\n  - type: regex\n    value: '(('\n",
             "error: regex.yaml assertion 1: assertion has unknown key 'contains';"),
            ("second.yaml", "assert:\n  - type: contains\n    value: a\n  - type: regex\n    value: '(('\n",
             "error: second.yaml assertion 2: assertion 'regex': the regex '((' does not compile"),
            ("limit.yaml", "assert:\n  - type: contains\n    value: a\nthreshold: 2\n",
             "error: limit.yaml: the pass threshold must be a number from 0 to 1, not 2.0."),
            ("keys.yaml", "asserts:\n  - type: contains\n    value: a\n", "error: keys.yaml")):
        (tmp_path / name).write_text(f"name: {name}\nspec:\n  instruction: Go.\n{body}", encoding="utf-8")
        line = one_line_error(run(capsys, "eval", "--dataset", cities, "--prompt", str(tmp_path / name),
                                  "--strategies", "zero", "--no-progress"))
        assert line.startswith(message), line


def test_resume_refuses_other_judging_flags_and_takes_the_same(capsys, monkeypatch, fake, cities):
    code, out, err = run(capsys, "eval", "--dataset", cities, "--strategies", "zero", "--assert", "icontains:paris",
                         "--repeat", "2", "--temperature", "0.7", "--json", "--no-progress")
    assert code == 0, err
    run_id = json.loads(out)["run_id"]
    for flags, message in (
            (["--assert", "contains:Paris"], f"error: --assert conflicts with run {run_id}, whose strategy 'zero' ran "
                                             "with assertions icontains:paris; leave out --assert to resume it (the "
                                             "run's own settings apply), or start a new run."),
            (["--repeat", "3"], f"error: --repeat conflicts with run {run_id}, whose strategy 'zero' ran with "
                                "--repeat 2;"),
            (["--temperature", "0.9"], "ran with temperature 0.7;"),
            (["--assert", "icontains:paris", "--threshold", "0.5"], "ran with no pass threshold (every check must pass);")):
        monkeypatch.setattr("workbench.backends.load_backend", None)  # refused before the model loads
        line = one_line_error(run(capsys, "eval", "--dataset", cities, "--resume", str(run_id), *flags,
                                  "--no-progress"))
        assert line.startswith(message) or message in line, line
    monkeypatch.setattr("workbench.backends.load_backend", lambda *a, **k: fake)
    code, out, err = run(capsys, "eval", "--dataset", cities, "--resume", str(run_id), "--assert", "icontains:paris",
                         "--repeat", "2", "--temperature", "0.7", "--json", "--no-progress")
    assert code == 0, err
    assert json.loads(out)["strategies"][0]["n"] == 6


def test_the_shipped_sample_runs_with_its_starter_spec_and_each_rows_own_assertions(capsys, monkeypatch):
    """``--prompt city_dates_json`` (a starter, by name) on the sample ``city_dates``, whose rows carry is-json with
    a schema and contains-their-city: a JSON answer naming the city passes both, text fails is-json."""
    from workbench.backends import DEFAULT_MODEL, choose_backend, resolve_model
    from workbench.backends.registry import ModelSpec

    def reply(prompt: str, seed: int | None) -> str:
        query = prompt.rsplit("Sentence:", 1)[-1]
        return ' {"city": "Lisbon", "date": "12 May 2025"}' if "Lisbon" in query else " Tokyo, March 3"

    backend = FakeBackend(reply=reply)
    backend.spec = ModelSpec(DEFAULT_MODEL, "", False)
    backend.name = choose_backend(resolve_model(DEFAULT_MODEL))
    monkeypatch.setattr("workbench.backends.load_backend", lambda *a, **k: backend)
    code, out, err = run(capsys, "eval", "--dataset", "city_dates", "--prompt", "city_dates_json", "--strategies",
                         "zero", "--limit", "2", "--no-progress")
    assert code == 0, err
    assert table(out)[1][:3] + table(out)[1][4:5] == ["city_dates_json/zero", "2", "50.0%", "0.750"]
    (is_json, contains) = block(out, "assertions")
    assert is_json.startswith('  city_dates_json/zero  is-json:{"type": "object", "required": ["city",') and \
        is_json.endswith(": 1/2 passed, mean score 0.500")
    assert contains == "  city_dates_json/zero  contains (per item): 2/2 passed, mean score 1.000"
    one_line_error(run(capsys, "eval", "--dataset", "city_dates", "--prompt", "no_such_starter"),
                   "No spec file or starter named 'no_such_starter'; starters: ")


PROMPTFOO_CSV = ("question,__expected1,__expected2\n"
                 "Where is the Eiffel Tower?,icontains: paris,not-contains: Rome\n"
                 "Where is the Colosseum?,contains: Rome,starts-with: Rome\n"
                 "Where is Big Ben?,London,\n")


def test_a_promptfoo_csv_with_expected_columns_judges_each_row_by_its_own_assertions(capsys, fake, tmp_path):
    (tmp_path / "tests.csv").write_text(PROMPTFOO_CSV, encoding="utf-8")
    code, out, err = run(capsys, "eval", "--dataset", str(tmp_path / "tests.csv"), "--strategies", "zero",
                         "--no-progress")
    assert code == 0, err
    # Paris, France passes both of row 1's; Paris (seed 0) fails row 2's Rome checks; "London" alone is equals.
    assert table(out)[1][:5] == ["zero", "3", "33.3%", "6.1%–79.2%", "0.333"]
    assert block(out, "assertions") == [
        "  zero  icontains (per item): 1/1 passed, mean score 1.000",
        "  zero  not-contains (per item): 1/1 passed, mean score 1.000",
        "  zero  contains (per item): 0/1 passed, mean score 0.000",
        "  zero  starts-with (per item): 0/1 passed, mean score 0.000",
        "  zero  equals (per item): 0/1 passed, mean score 0.000"]
    with open_store() as store:
        records = store.results(int(err.split("run ")[-1].split()[0]))
    assert [[(c["type"], c["value"], c["passed"]) for c in r["checks"]] for r in records] == [
        [("icontains", "paris", True), ("not-contains", "Rome", True)],
        [("contains", "Rome", False), ("starts-with", "Rome", False)], [("equals", "London", False)]]
    # With --assert too, the run's assertion comes first and every row has it.
    code, out, err = run(capsys, "eval", "--dataset", str(tmp_path / "tests.csv"), "--strategies", "zero",
                         "--assert", "not-icontains:sorry", "--no-progress")
    assert code == 0 and block(out, "assertions")[0] == "  zero  not-icontains:sorry: 3/3 passed, mean score 1.000"


@pytest.mark.parametrize(("cell", "message"), [
    ("python: grade.py", "error: tests.csv item row-1 assertion 1: Assertion type 'python' runs code from the file;"),
    ("regex: ((", "error: tests.csv item row-1 assertion 1: assertion 'regex': the regex '((' does not compile"),
    ("similar(2): Paris", "error: tests.csv item row-1 assertion 1: assertion 'similar': threshold 2 is outside"),
])
def test_a_bad_assertion_in_a_csv_row_is_one_line_naming_the_file_and_row(capsys, monkeypatch, tmp_path, cell,
                                                                           message):
    monkeypatch.setattr("workbench.backends.load_backend", None)  # never reached
    (tmp_path / "tests.csv").write_text(f'question,__expected\nWhere is the Eiffel Tower?,"{cell}"\n',
                                        encoding="utf-8")
    line = one_line_error(run(capsys, "eval", "--dataset", str(tmp_path / "tests.csv"), "--strategies", "zero",
                              "--no-progress"))
    assert line.startswith(message), line


GSM8K = ('{"question": "Janet has 3 eggs and buys 2. How many?", "answer": "3+2 = <<3+2=5>>5\\n#### 5"}\n'
         '{"question": "Tom has 4 pens and loses 1. How many?", "answer": "4-1 = <<4-1=3>>3\\n#### 3"}\n')


def test_the_detected_shape_and_the_gold_warning_go_to_stderr(capsys, monkeypatch, tmp_path):
    from workbench.backends import DEFAULT_MODEL, choose_backend, resolve_model
    from workbench.backends.registry import ModelSpec

    backend = FakeBackend(reply=lambda prompt, seed: " The answer is 5.")
    backend.spec = ModelSpec(DEFAULT_MODEL, "", False)
    backend.name = choose_backend(resolve_model(DEFAULT_MODEL))
    monkeypatch.setattr("workbench.backends.load_backend", lambda *a, **k: backend)
    (tmp_path / "gsm.jsonl").write_text(GSM8K, encoding="utf-8")
    code, out, err = run(capsys, "eval", "--dataset", str(tmp_path / "gsm.jsonl"), "--strategies", "zero",
                         "--no-progress")
    assert code == 0, err
    assert err.splitlines()[0] == ("dataset: gsm8k: gold = the number after ####; the solution before it is the "
                                   "rationale; 2 rationales found")
    assert table(out)[1][2] == "50.0%"  # gold 5 and 3, read after ####
    code, out, err = run(capsys, "eval", "--dataset", str(tmp_path / "gsm.jsonl"), "--strategies", "zero",
                         "--shape", "none", "--no-progress")
    assert code == 0, err
    assert err.splitlines()[0].startswith("warning: The gold answers look like worked solutions (2 of 2 span several "
                                          "lines") and "read the file with the gsm8k shape" in err.splitlines()[0]
    assert table(out)[1][2] == "0.0%"
    monkeypatch.setattr("workbench.backends.load_backend", None)
    one_line_error(run(capsys, "eval", "--dataset", str(tmp_path / "gsm.jsonl"), "--shape", "gsm9k"),
                   "error: Unknown dataset shape 'gsm9k'; use auto, none or one of ")
    one_line_error(run(capsys, "eval", "--dataset", str(tmp_path / "gsm.jsonl"), "--shape", "aqua"),
                   "error: gsm.jsonl has no column 'options' for the aqua shape; available columns: question, answer")


def test_llm_rubric_asks_the_judge_model_loaded_on_first_use_and_keeps_its_reply(capsys, monkeypatch, cities,
                                                                                  tmp_path):
    from workbench.backends import DEFAULT_MODEL, choose_backend, resolve_model
    from workbench.backends.registry import ModelSpec

    model = FakeBackend(reply=city_reply)
    model.spec = ModelSpec(DEFAULT_MODEL, "", False)
    model.name = choose_backend(resolve_model(DEFAULT_MODEL))

    def verdict(prompt: str, seed: int | None) -> str:
        """The judge passes an output naming France, fails one naming Paris alone, and rambles otherwise."""
        if "France" in prompt:
            return ' {"reason": "names <b>Paris</b>", "pass": true, "score": 1.0}'
        return ' {"reason": "no France", "pass": false, "score": 0.0}' if "Paris" in prompt else " I cannot say."

    judge = FakeBackend(reply=verdict)
    loaded: list[str] = []

    def load(name, backend, window):
        loaded.append(name)
        return judge if name == "smollm2-135m-instruct" else model

    monkeypatch.setattr("workbench.backends.load_backend", load)
    out_file = tmp_path / "report.html"
    code, out, err = run(capsys, "eval", "--dataset", cities, "--strategies", "zero", "--assert",
                         "llm-rubric:names the country as well as the city", "--judge", "smollm2-135m-instruct",
                         "--output", str(out_file), "--no-progress")
    assert code == 0, err
    assert loaded == [DEFAULT_MODEL, "smollm2-135m-instruct"]  # the run's model, then the judge once, when asked
    assert len(judge.prompts) == 3 and all("names the country as well as the city" in p for p in judge.prompts)
    with open_store() as store:
        records = store.results(int(err.split("run ")[-1].split()[0]))
    verdicts = [r["checks"][0] for r in records]
    # Paris, France: pass; Paris: fail (no France); It is London.: the reply cannot be read, an error, not a pass.
    assert [(v["passed"], v.get("error") is not None) for v in verdicts] == [(True, False), (False, False),
                                                                             (False, True)]
    assert verdicts[0]["reply"].strip() == '{"reason": "names <b>Paris</b>", "pass": true, "score": 1.0}'
    assert block(out, "assertions") == ["  zero  llm-rubric:names the country as well as the city: 1/3 passed, "
                                        "mean score 0.333, 1 could not judge"]
    page = out_file.read_text(encoding="utf-8")
    assert "names &lt;b&gt;Paris&lt;/b&gt;" in page and "<b>Paris</b>" not in page  # the reply, escaped


def test_a_model_graded_checks_missing_judge_is_one_line_before_any_model(capsys, monkeypatch, tmp_path):
    monkeypatch.setattr("workbench.backends.load_backend", None)  # never reached
    rows = tmp_path / "graded.jsonl"
    rows.write_text('{"question": "Where is Big Ben?", "assert": [{"type": "llm-rubric", "value": "names the city", '
                    '"provider": "/nowhere/judge.gguf"}]}\n', encoding="utf-8")
    one_line_error(run(capsys, "eval", "--dataset", str(rows), "--strategies", "zero", "--no-progress"),
                   "error: judge model '/nowhere/judge.gguf': Unknown model '/nowhere/judge.gguf'")
