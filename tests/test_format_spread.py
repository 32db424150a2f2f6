"""Format sensitivity (workbench.evaluate.format_spread, ``workbench formats``): the formats drawn from one spec
(golden strings, each a valid spec that renders, seeded), the run on the fake backend whose label scores depend on
the format (exact spread, best and worst), one real gemma-3-270m run, and every refusal one line."""

from __future__ import annotations

import json

import pytest

from tests.fakes import FakeBackend
from workbench.cli import main
from workbench.data import Example, Pool
from workbench.errors import ConfigError, DataError
from workbench.evaluate.format_spread import (
    Format,
    fields_of,
    format_specs,
    format_spread,
    format_table,
    rewrite,
    spread_from_records,
)
from workbench.prompts.rendering import render
from workbench.prompts.spec import PromptSpec
from workbench.store import open_store

SPEC = PromptSpec(instruction="Classify.", demo_template="Review: {input}\nSentiment: {answer}",
                  query_template="Review: {input}\nSentiment:", answer_format="label", labels=("positive", "negative"))
#: Four positive and two negative reviews; the word at the end says which.
GOLD = ("positive", "negative", "positive", "positive", "negative", "positive")


def toy() -> Pool:
    return Pool("toy", tuple(Example(f"r{i}", f"review {i} {'good' if g == 'positive' else 'bad'}", g)
                             for i, g in enumerate(GOLD)))


def test_formats_are_golden_strings_the_spec_as_written_first():
    got = [(f.describe(), s.demo_template, s.query_template, s.separator)
           for f, s in format_specs(SPEC, 4, seed=0)]
    assert got == [
        ("as written", "Review: {input}\nSentiment: {answer}", "Review: {input}\nSentiment:", "\n\n"),
        ("sep ' = '; input 'Q'; fields ' '; examples '\\n\\n\\n'", "Q = {input} Sentiment = {answer}",
         "Q = {input} Sentiment =", "\n\n\n"),
        ("sep ' - '; lower; input 'Q'; answer 'Output'", "q - {input}\noutput - {answer}", "q - {input}\noutput -",
         "\n\n"),
        ("sep ':\\n'; UPPER; answer 'Label'; fields ' '", "REVIEW:\n{input} LABEL:\n{answer}",
         "REVIEW:\n{input} LABEL:\n", "\n\n"),
    ]


def test_every_format_is_a_valid_spec_that_renders_and_the_draw_is_seeded():
    formats = format_specs(SPEC, 12, seed=5)
    assert len({(s.demo_template, s.query_template, s.separator) for _, s in formats}) == 12
    demo, query = Example("d", "fine film", "positive"), Example("q", "dull film", "negative")
    texts = {render(s, [demo], query).text for _, s in formats}
    assert len(texts) == 12 and all("fine film" in t and "dull film" in t and "positive" in t for t in texts)
    assert [f for f, _ in format_specs(SPEC, 12, seed=5)] == [f for f, _ in formats]
    assert [f for f, _ in format_specs(SPEC, 12, seed=6)] != [f for f, _ in formats]


def test_choice_numbering_keeps_the_letters():
    spec = PromptSpec(demo_template="Q: {input} Answer Choices: {choices}\nA: {answer}",
                      query_template="Q: {input} Answer Choices: {choices}\nA:", answer_format="choice",
                      labels=("A", "B"))
    made = rewrite(spec, Format(choices="A."))
    query = Example("q", "2+2?", "B", choices={"A": "3", "B": "4"})
    assert render(made, [], query).text == "Q: 2+2? Answer Choices: A. 3 B. 4\nA:"
    assert render(rewrite(spec, Format(choices="[A]", casing="lower")), [], query).text == \
        "q: 2+2? Answer Choices: [A] 3 [B] 4\na:"


def test_fields_of_a_template():
    fields, joins = fields_of("Question:\n{input}\n\nAnswer: {answer}")
    assert [(f.name, f.sep, f.body) for f in fields] == [("Question", ":\n", "{input}"), ("Answer", ": ", "{answer}")]
    assert joins == ("\n\n",)


class FormatScorer(FakeBackend):
    """Label scores that depend on the format: as written it reads the review's last word (always right); with
    ' = ' it says positive, with ' - ' negative, in capitals the opposite of the word (always wrong)."""

    def _continuation_logprobs(self, prompt_ids, continuations):
        prompt = self._text(prompt_ids)
        self.scored.append(prompt)
        last = prompt.split("\n\n")[-1]
        good = "good" in last
        if "Review: " in last:
            word = "positive" if good else "negative"
        elif " = " in last:
            word = "positive"
        elif " - " in last:
            word = "negative"
        else:  # "REVIEW:"
            word = "negative" if good else "positive"
        return [-1.0 if self._text(ids).strip() == word else -5.0 for ids in continuations]


@pytest.fixture
def store(tmp_path):
    s = open_store(tmp_path / "wb.db")
    yield s
    s.close()


def test_the_run_gives_the_exact_spread_best_and_worst(store):
    spread, run = format_spread(toy(), None, FormatScorer(), store, spec=SPEC, n=4, seed=0)
    assert [(s.name, s.n, s.correct) for s in spread.scores] == [
        ("F0 as written", 6, 6), ("F1 sep ' = '; input 'Q'; fields ' '; examples '\\n\\n\\n'", 6, 4),
        ("F2 sep ' - '; lower; input 'Q'; answer 'Output'", 6, 2),
        ("F3 sep ':\\n'; UPPER; answer 'Label'; fields ' '", 6, 0)]
    assert (spread.best, spread.worst, spread.spread) == ("F0 as written", spread.scores[3].name, 1.0)
    assert spread.best_prompt == "Classify.\n\nReview: review 0 good\nSentiment:"
    assert spread.worst_prompt == "Classify.\n\nREVIEW:\nreview 0 good LABEL:\n"
    c = spread.comparison
    assert (c.n, c.only_a, c.only_b, c.p_value) == (6, 6, 0, 0.03125)
    assert spread.run_id == run.run_id and spread.status == "finished"
    assert {r["strategy"] for r in store.results(run.run_id)} == {s.name for s in spread.scores}
    table = format_table(spread)
    assert "  | REVIEW:\n  | review 0 good LABEL:\n" in table
    assert table.endswith("spread 100.0 points over 4 formats (0.0% to 100.0%); best − worst McNemar p = 0.0312 on "
                          "6 items -- best and worst are picked after seeing the results, which inflates their "
                          "difference and makes the p optimistic (Sclar et al. report the spread as a range, not a "
                          "test of two formats chosen in advance)")


def test_fixed_demos_are_the_same_at_every_format(store):
    fake = FormatScorer()
    _, run = format_spread(toy(), None, fake, store, spec=SPEC, n=3, seed=1, k=2, limit=3)
    demos: dict[int, set] = {}
    for r in store.results(run.run_id):
        demos.setdefault(r["item_index"], set()).add(tuple(d if isinstance(d, str) else d.get("id") for d in r["demos"]))
    assert sorted(demos) == [0, 1, 2]
    assert all(len(v) == 1 and len(next(iter(v))) == 2 for v in demos.values())


def test_a_tie_still_names_two_formats():
    rows = [{"strategy": s, "item_index": 0, "correct": True, "prompt": s} for s in ("F0", "F1")]
    s = spread_from_records(rows, ["F0", "F1"])
    assert (s.best, s.worst, s.spread) == ("F0", "F1", 0.0)


def test_refusals_are_one_line(store):
    with pytest.raises(ConfigError) as err:
        format_specs(SPEC, 1)
    assert str(err.value) == "A format spread needs at least 2 formats, not 1; give --n 2 or more (default 10)."
    bare = PromptSpec(demo_template="{input}\n{answer}", query_template="{input}\n")
    with pytest.raises(ConfigError) as err:
        format_specs(bare, 3)
    assert str(err.value) == ("The prompt's templates have no field names to vary ('{input}\\n' does not start like "
                              "'Input: {input}'); only the spacing between examples could still vary -- write the "
                              "templates with field names, e.g. 'Input: {input}\\nLabel: {answer}'.")
    with pytest.raises(ConfigError, match=r"^Formats rewrite \{input\}-style templates with field names; this prompt "
                                          r"is written in Jinja"):
        format_specs(SPEC.replace(syntax="jinja", demo_template="Review: {{ input }}",
                                  query_template="Review: {{ input }}"), 3)
    with pytest.raises(DataError) as err:
        format_spread(toy(), None, FakeBackend(), store, spec=SPEC, k=7)
    assert str(err.value) == "--k 7 needs 7 demonstrations and the pool 'toy' has 6; give a smaller --k or a larger --pool."
    with pytest.raises(ConfigError, match=r"^Label scoring needs a prompt with labels"):
        format_spread(toy(), None, FakeBackend(), store, spec=PromptSpec(), answer="score")


# --------------------------------------------------------------------------- the command


def cli(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(["formats", *argv])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize(("argv", "line"), [
    (("--n", "1"), "error: A format spread needs at least 2 formats, not 1; give --n 2 or more (default 10).\n"),
    (("--n", "500"), "error: --n 500 is more than 100 formats; give fewer.\n"),
    (("--k", "-1"), "error: --k must be 0 or more, not -1.\n"),
    (("--limit", "0"), "error: --limit must be at least 1, got 0.\n"),
])
def test_cli_refusals_are_one_line_before_the_model(capsys, monkeypatch, argv, line):
    monkeypatch.setattr("workbench.backends.load_backend", None)  # never reached
    assert cli(capsys, "--dataset", "sentiment", *argv) == (2, "", line)


def test_cli_a_prompt_without_field_names_is_one_line(capsys, monkeypatch, tmp_path):
    monkeypatch.setattr("workbench.backends.load_backend", None)
    spec = tmp_path / "bare.yaml"
    spec.write_text("name: bare\nspec:\n  demo_template: \"{input} => {answer}\"\n  query_template: \"{input} =>\"\n")
    code, out, err = cli(capsys, "--dataset", "sentiment", "--prompt", str(spec))
    assert (code, out) == (2, "") and err.count("\n") == 1
    assert err.startswith("error: The prompt's templates have no field names to vary ('{input} =>' does not start")


# --------------------------------------------------------------------------- the real model


def test_gemma_spread_from_the_command_line_with_its_report(capsys, tmp_path):
    report = tmp_path / "formats.html"
    code, out, err = cli(capsys, "--dataset", "sentiment", "--n", "3", "--limit", "4", "--json", "--no-progress",
                         "--output", str(report))
    assert code == 0, err
    got = json.loads(out)
    assert got["model"] == "gemma-3-270m" and got["status"] == "finished"
    assert [s["name"] for s in got["scores"]] == [
        "F0 as written", "F1 sep ' = '; input 'Q'; fields ' '; examples '\\n\\n\\n'",
        "F2 sep ' - '; lower; input 'Q'; answer 'Output'"]
    assert [s["n"] for s in got["scores"]] == [4, 4, 4]
    accs = [s["accuracy"] for s in got["scores"]]
    assert got["spread"] == pytest.approx(max(accs) - min(accs))
    by_name = {s["name"]: s for s in got["scores"]}
    assert by_name[got["best"]]["accuracy"] == max(accs) and by_name[got["worst"]]["accuracy"] == min(accs)
    assert got["best"] != got["worst"] and got["comparison"]["n"] == 4
    assert got["best_prompt"].startswith("Classify each input as one of: positive, negative.")
    page = report.read_text()
    assert '<h2 id="formats">' in page and "picked after seeing the results" in page
