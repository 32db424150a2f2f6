"""promptfoo round trip: import (``load_plan``) -> export (``export_promptfoo``) -> import gives the same prompts,
vars and assertions; an exported prompt renders to exactly the text the workbench sends; tests a CSV row cannot
hold exactly go to the YAML; ``workbench export promptfoo`` writes the two files and refuses in one line."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
import yaml

from tests.conftest import ROOT
from tests.fakes import FakeBackend
from workbench.cli import main
from workbench.data import Example, Pool
from workbench.errors import DataError
from workbench.evaluate.runner import evaluate
from workbench.evaluate.strategies import Strategy
from workbench.interop.promptfoo import load_plan
from workbench.interop.promptfoo.export import (
    CONFIG_FILE,
    TESTS_FILE,
    export_promptfoo,
    prompt_text,
)
from workbench.interop.promptfoo.prompt_vars import prompt_vars
from workbench.interop.promptfoo.sources import from_run, from_set
from workbench.judging.registry import build_checks
from workbench.prompts import PromptSpec
from workbench.prompts.rendering import render
from workbench.report import report_from_store
from workbench.sandbox import render_text
from workbench.store import open_store

EXAMPLE = ROOT / "examples" / "promptfoo" / "promptfooconfig.yaml"


def _write(export, folder: Path) -> Path:
    (folder / CONFIG_FILE).write_text(export.config, encoding="utf-8")
    if export.tests_csv is not None:
        (folder / TESTS_FILE).write_text(export.tests_csv, encoding="utf-8", newline="")
    for name, text in export.files:
        (folder / name).write_text(text, encoding="utf-8")
    return folder / CONFIG_FILE


def write_config(folder: Path, text: str) -> Path:
    (folder / CONFIG_FILE).write_text(text, encoding="utf-8")
    (folder / "out").mkdir()
    return folder / CONFIG_FILE


def _shape(plan):
    """What must survive a round trip: prompts (label, template), each test's vars and assertions, decoding."""
    prompts = sorted({(s.name.rpartition(" @ ")[0], s.spec.query_template) for s in plan.strategies})
    tests = [(ex.vars, [c.to_dict() for c in build_checks(ex.checks or ())], ex.threshold) for ex in plan.dataset]
    decoding = sorted((s.name, s.decoding.max_new_tokens, s.decoding.stop, s.decoding.greedy)
                      for s in plan.strategies)
    strategy_checks = sorted((s.name, tuple(repr(c.to_dict()) for c in s.checks), s.threshold)
                             for s in plan.strategies)
    return prompts, tests, decoding, strategy_checks


def test_import_export_import_keeps_prompts_vars_and_assertions(tmp_path):
    first = load_plan(str(EXAMPLE))
    exported = export_promptfoo(first.strategies, list(first.dataset), "capitals")
    again = load_plan(str(_write(exported, tmp_path)))
    assert _shape(again) == _shape(first)
    assert [s.name for s in again.strategies] == [s.name for s in first.strategies]
    # the models now sit behind `workbench serve` (8080, 8081), the chat model behind the chat endpoint
    config = yaml.safe_load(exported.config)
    assert [(p["id"], p["config"]["apiBaseUrl"]) for p in config["providers"]] == [
        ("openai:completion:gemma-3-270m", "http://127.0.0.1:8080/v1"),
        ("openai:chat:smollm2-135m-instruct", "http://127.0.0.1:8081/v1")]
    assert [s.model for s in again.strategies][:2] == ["http://127.0.0.1:8080/v1#gemma-3-270m",
                                                       "http://127.0.0.1:8081/v1#smollm2-135m-instruct"]
    assert config["tests"] == ["file://tests.csv"]
    assert exported.tests_csv.splitlines()[:2] == [
        "country,city,__description,__expected1,__expected2,__expected3",
        "France,Paris,,icontains: Paris,not-icontains: I don't know,"]
    assert exported.tests_csv.splitlines()[5].startswith("Spain,Madrid,\"Spain, judged by a regex too\",")
    assert [ex.input for ex in again.dataset] == [ex.input for ex in first.dataset]


def test_tests_a_csv_row_cannot_hold_exactly_go_to_the_yaml(tmp_path):
    spec = PromptSpec(syntax="jinja", query_template="Echo {{ text }}", answer_format="free")
    tests = [Example("1", "plain", "", vars={"text": "plain, with a comma"}, checks=("contains: plain",)),
             Example("2", "formula", "", vars={"text": "=HYPERLINK(x)"}, checks=("contains: x",)),  # spreadsheet
             Example("3", "weighted", "", vars={"text": "w"}, checks=({"type": "contains", "value": "w",
                                                                       "weight": 2, "metric": "m"},)),
             Example("4", "spaced", "", vars={"text": "s"}, checks=({"type": "equals", "value": " s "},)),
             Example("5", "list", "", vars={"text": "l"}, checks=({"type": "icontains-any", "value": ["a,b", "c"]},),
                     threshold=0.5)]
    exported = export_promptfoo([Strategy("echo", spec, model="gemma-3-270m")], tests, "cells")
    config = yaml.safe_load(exported.config)
    assert config["tests"][0] == "file://tests.csv"
    assert [t["vars"]["text"] for t in config["tests"][1:]] == ["=HYPERLINK(x)", "w", "s", "l"]
    assert config["tests"][2]["assert"] == [{"type": "contains", "value": "w", "weight": 2, "metric": "m"}]
    assert config["tests"][4]["threshold"] == 0.5
    assert exported.tests_csv == 'text,__description,__expected1\n"plain, with a comma",plain,contains: plain\n'
    assert [t["description"] for t in config["tests"][1:]] == ["formula", "weighted", "spaced", "list"]
    again = load_plan(str(_write(exported, tmp_path)))
    assert sorted((ex.vars["text"], repr([c.to_dict() for c in build_checks(ex.checks)]), ex.threshold)
                  for ex in again.dataset) == sorted(
        (ex.vars["text"], repr([c.to_dict() for c in build_checks(ex.checks)]), ex.threshold) for ex in tests)


def test_a_braces_spec_with_demos_renders_to_the_text_the_workbench_sends():
    spec = PromptSpec(instruction="Answer {{briefly}} {% raw %}.", query_template="Q: {input}\nA:",
                      answer_format="number")
    demos = [Example("d1", "1+{{x}}?", "2"), Example("d2", "2+{% endraw %}?", "4")]
    template = prompt_text(spec, demos)
    query = Example("q", "3+3? {{ ''.__class__ }}", "6")
    sent = render(spec, demos, query, as_chat=False).text
    assert render_text(template, {"input": query.input}) == sent
    assert template.endswith("Q: {{ input }}\nA:")


def test_a_run_exports_its_strategies_and_items(tmp_path):
    fake = FakeBackend(reply=lambda prompt, seed: " Paris")
    fake.spec = dataclasses.replace(fake.spec, id="gemma-3-270m", path="/no/such/gemma")
    spec = PromptSpec(syntax="jinja", query_template="Capital of {{ country }}?", answer_format="free")
    items = Pool("c", (Example("fr", "France", "", vars={"country": "France"}, checks=("icontains: paris",)),
                       Example("de", "Germany", "", vars={"country": "Germany"}, checks=("icontains: berlin",))))
    with open_store(tmp_path / "wb.db") as store:
        run = evaluate(items, None, [Strategy("cap", spec, checks=build_checks(["not-contains: sorry"]))],
                       fake, store)
        report = report_from_store(store, run.run_id)
    strategies, tests = from_run(report.meta, report.records)
    assert [(s.name, s.model) for s in strategies] == [("cap", "gemma-3-270m")]
    assert [(t.id, t.vars, t.checks) for t in tests] == [
        ("fr", {"country": "France"}, ({"type": "icontains", "value": "paris"},)),
        ("de", {"country": "Germany"}, ({"type": "icontains", "value": "berlin"},))]
    config = yaml.safe_load(export_promptfoo(strategies, tests, "run").config)
    assert config["defaultTest"] == {"assert": [{"type": "not-contains", "value": "sorry"}]}
    assert config["prompts"] == [{"raw": "Capital of {{ country }}?", "label": "cap"}]


def test_what_promptfoo_cannot_run_is_one_line():
    from workbench.promptsets.files import classroom_sets

    with pytest.raises(DataError, match=r"^Step 'Four random demonstrations' chooses its demonstrations per query "
                                        r"\(random from trec_questions\); .*inline demonstrations to export it\.$"):
        from_set(classroom_sets()["nearest_vs_random"])
    spec = PromptSpec(query_template="Q: {input}\nA:", answer_format="label", labels=("a", "b"))
    with pytest.raises(DataError, match=r"^Strategy 'knn4' chooses its demonstrations per query \(knn\); "):
        export_promptfoo([Strategy("knn4", spec, selector="knn", k=4)], [Example("1", "x", "a")], "d")
    with pytest.raises(DataError, match=r"^Strategy 'sc' votes over several samples"):
        export_promptfoo([Strategy("sc", spec, samples=3)], [Example("1", "x", "a")], "d")
    with pytest.raises(DataError, match=r"^Strategy 'ls' answers by scoring \(score\), which promptfoo does not do; "):
        export_promptfoo([Strategy("ls", spec, answer="score")], [Example("1", "x", "a")], "d")


def test_cli_export_promptfoo_writes_the_files_and_refuses_in_one_line(tmp_path, capsys):
    out = tmp_path / "pf"
    assert main(["export", "promptfoo", "zero_vs_few_shot", "--out", str(out)]) == 0
    err = capsys.readouterr().err
    assert f"wrote {out / CONFIG_FILE} and {out / TESTS_FILE} (2 prompt x model pairs, 4 tests)" in err
    config = yaml.safe_load((out / CONFIG_FILE).read_text(encoding="utf-8"))
    assert [p["label"] for p in config["prompts"]] == ["Zero-shot", "Few-shot (6 demonstrations)"]
    assert (out / TESTS_FILE).read_text(encoding="utf-8").splitlines()[1].endswith(",icontains: positive")
    (tmp_path / "file").write_text("x")
    for args, message in (
            (["export", "promptfoo", "zero_vs_few_shot", "--out", str(out)],
             f"error: {out / CONFIG_FILE} already exists; pick another --out folder, or add --force to replace it."),
            (["export", "promptfoo", "99", "--out", str(tmp_path / "a")],
             "error: There is no run 99; pick one from the run history."),
            (["export", "promptfoo", "no_such_set", "--out", str(tmp_path / "a")],
             "error: No prompt set named 'no_such_set' in the library or the classroom sets, and no such file; "
             "see `python -m workbench sets list`."),
            (["export", "promptfoo", "zero_vs_few_shot", "--out", str(tmp_path / "file")],
             f"error: --out {tmp_path / 'file' / CONFIG_FILE}: {tmp_path / 'file'} is a file, not a folder.")):
        assert main(args) == 2
        assert capsys.readouterr().err.strip().splitlines() == [message]
    assert not (tmp_path / "a").exists()
    assert main(["export", "promptfoo", "zero_vs_few_shot", "--out", str(out), "--force"]) == 0


#: promptfoo's own config loader and prompt renderer (promptfoo 0.119, installed outside the repo by npm).
PEER_SCRIPT = """
const dist = process.argv[2] + '/node_modules/promptfoo/dist/src/';
const { resolveConfigs } = require(dist + 'util/config/load.js');
const { renderPrompt } = require(dist + 'evaluatorHelpers.js');
(async () => {
  const { testSuite } = await resolveConfigs({ config: [process.argv[3]] }, {});
  const rendered = [];  // one call each, on a copy of the vars (renderPrompt edits them in place)
  for (const t of testSuite.tests) {
    for (const p of testSuite.prompts) rendered.push(await renderPrompt(p, { ...t.vars }, undefined,
                                                                        testSuite.providers[0]));
  }
  console.log(JSON.stringify({
    prompts: testSuite.prompts.map(p => ({ raw: p.raw, label: p.label })),
    providers: testSuite.providers.map(p => [p.id(), p.label]),
    tests: testSuite.tests.map(t => ({ vars: t.vars, assert: t.assert || [], threshold: t.threshold ?? null,
                                       description: t.description ?? null })),
    rendered }));
})().catch(e => { console.error('ERR ' + e.message); process.exit(1); });
"""


def _promptfoo_dir() -> Path | None:
    import os
    import shutil

    folder = Path(os.environ.get("PROMPTFOO_DIR", "/work/promptfoo"))
    ok = shutil.which("node") and (folder / "node_modules" / "promptfoo" / "dist" / "src").is_dir()
    return folder if ok else None


@pytest.mark.skipif(_promptfoo_dir() is None, reason="node and promptfoo (npm i promptfoo@0.119.0) not installed")
def test_promptfoo_itself_reads_the_export_as_the_workbench_does(tmp_path):
    import json
    import subprocess

    spec = PromptSpec(instruction="Answer {{briefly}}.", query_template="Q: {input}\nA:", answer_format="free")
    demos = (Example("d1", "1+{% endraw %}?", "2"),)
    jinja = PromptSpec(syntax="jinja", query_template="Echo {{ text | upper }}", answer_format="free")
    tests = [Example("1", "plain", "", vars={"text": "plain, with a comma"}, checks=("contains: plain",)),
             Example("2", "formula", "", vars={"text": "=HYPERLINK(x)"}, checks=("contains: x", "llm-rubric:polite")),
             Example("3", "weighted", "", vars={"text": "{{ ''.__class__ }}"},
                     checks=({"type": "contains", "value": "w", "weight": 2, "metric": "m"},), threshold=0.5)]
    tests = [dataclasses.replace(t, vars={**t.vars, "input": t.vars["text"]}) for t in tests]
    strategies = [Strategy("few", spec, selector="fixed", k=1, demos=demos, model="gemma-3-270m"),
                  Strategy("echo", jinja, model="gemma-3-270m")]
    path = _write(export_promptfoo(strategies, tests, "peer"), tmp_path)
    (tmp_path / "peer.js").write_text(PEER_SCRIPT, encoding="utf-8")
    env = {"PATH": "/usr/bin:/bin", "PROMPTFOO_DISABLE_TELEMETRY": "1", "PROMPTFOO_DISABLE_UPDATE": "1",
           "PROMPTFOO_CONFIG_DIR": str(tmp_path / "pfhome"), "HOME": str(tmp_path)}
    res = subprocess.run(["node", str(tmp_path / "peer.js"), str(_promptfoo_dir()), str(path)], capture_output=True,
                         text=True, timeout=120, env=env, cwd=tmp_path)
    assert res.returncode == 0, res.stderr[-2000:]
    peer = json.loads(res.stdout.strip().splitlines()[-1])
    ours = load_plan(str(path))
    assert [p["label"] for p in peer["prompts"]] == ["few", "echo"]
    assert peer["providers"] == [["openai:completion:gemma-3-270m", "gemma-3-270m"]]
    # the workbench's items hold the vars as promptfoo fills a text prompt with them (its Nunjucks pass on each):
    # the exported vars' {% raw %} gives back each original value
    assert [prompt_vars(t["vars"], "t") for t in peer["tests"]] == [ex.vars for ex in ours.dataset] == [
        t.vars for t in tests]
    assert [[{k: v for k, v in a.items() if k != "metric" or v} for a in t["assert"]] for t in peer["tests"]] == [
        [c.to_dict() for c in build_checks(ex.checks)] for ex in ours.dataset]
    assert [t["threshold"] for t in peer["tests"]] == [ex.threshold for ex in ours.dataset]
    assert [t["description"] for t in peer["tests"]] == [ex.input for ex in ours.dataset] == [
        "plain", "formula", "weighted"]
    # promptfoo's Nunjucks renders each prompt to the text the workbench sends for that test
    sent = [render(s.spec, s.demos, ex, as_chat=False).text for ex in tests for s in strategies]
    assert peer["rendered"] == sent


def test_cli_export_promptfoo_of_a_stored_run(tmp_path, capsys):
    fake = FakeBackend(reply=lambda prompt, seed: " Paris")
    fake.spec = dataclasses.replace(fake.spec, id="gemma-3-270m", path="/no/such/gemma")
    spec = PromptSpec(syntax="jinja", query_template="Capital of {{ country }}?", answer_format="free")
    items = Pool("c", (Example("fr", "France", "", vars={"country": "France"}, checks=("icontains: paris",)),))
    with open_store() as store:  # the CLI's store (the test's own: tests/conftest.py)
        run = evaluate(items, None, [Strategy("cap", spec)], fake, store)
    assert main(["export", "promptfoo", str(run.run_id), "--out", str(tmp_path / "pf")]) == 0
    config = yaml.safe_load((tmp_path / "pf" / CONFIG_FILE).read_text(encoding="utf-8"))
    assert config["description"] == f"run {run.run_id} on c (exported by the workbench)"
    assert config["providers"][0]["id"] == "openai:completion:gemma-3-270m"
    assert (tmp_path / "pf" / TESTS_FILE).read_text(encoding="utf-8") == "country,__expected1\nFrance,icontains: paris\n"
    assert main(["export", "promptfoo", str(run.run_id), "--version", "2", "--out", str(tmp_path / "v")]) == 2
    assert capsys.readouterr().err.strip().splitlines()[-1] == \
        "error: --version picks a version of a saved prompt set; a run has none."


def test_a_set_that_is_not_every_prompt_on_every_model_round_trips(tmp_path):
    from workbench.promptsets.files import classroom_sets

    strategies, tests = from_set(classroom_sets()["base_vs_instruct"])
    exported = export_promptfoo(strategies, tests, "base vs instruct")
    config = yaml.safe_load(exported.config)
    assert [p["prompts"] for p in config["providers"]] == [["Base model, raw text"],
                                                           ["Instruct model, chat template"]]
    again = load_plan(str(_write(exported, tmp_path)))
    assert [(s.name, s.model) for s in again.strategies] == [
        ("Base model, raw text @ gemma-3-270m", "http://127.0.0.1:8080/v1#gemma-3-270m"),
        ("Instruct model, chat template @ smollm2-135m-instruct", "http://127.0.0.1:8081/v1#smollm2-135m-instruct")]
    assert [s.spec.query_template for s in again.strategies] == [prompt_text(s.spec) for s in strategies]
    twice = yaml.safe_load(export_promptfoo(again.strategies, list(again.dataset), "base vs instruct").config)
    assert twice["prompts"] == config["prompts"]
    assert [(p["label"], p["config"], p["prompts"]) for p in twice["providers"]] == [
        (p["label"], p["config"], p["prompts"]) for p in config["providers"]]


@pytest.mark.skipif(_promptfoo_dir() is None, reason="node and promptfoo (npm i promptfoo@0.119.0) not installed")
def test_promptfoo_renders_an_imported_config_with_tricky_vars_as_the_workbench_does(tmp_path):
    import json
    import subprocess

    from tests.test_promptfoo_config import TRICKY_VARS

    (tmp_path / "note.txt").write_text("\n  a note {{ name }}\n\n", encoding="utf-8")
    path = tmp_path / CONFIG_FILE
    path.write_text("prompts:\n  - '{{greeting}}|{{echo}}|{{brace}}|{{unset}}|{{name}}|{{note}}'\n"
                    "  - 'unclosed {{greeting}} {{'\nproviders: [{id: 'openai:completion:m', config: "
                    "{apiBaseUrl: 'http://127.0.0.1:9/v1'}}]\n"
                    f"tests:\n  - vars:{TRICKY_VARS}",
                    encoding="utf-8")
    (tmp_path / "peer.js").write_text(PEER_SCRIPT, encoding="utf-8")
    env = {"PATH": "/usr/bin:/bin", "PROMPTFOO_DISABLE_TELEMETRY": "1", "PROMPTFOO_DISABLE_UPDATE": "1",
           "PROMPTFOO_CONFIG_DIR": str(tmp_path / "pfhome"), "HOME": str(tmp_path)}
    res = subprocess.run(["node", str(tmp_path / "peer.js"), str(_promptfoo_dir()), str(path)], capture_output=True,
                         text=True, timeout=120, env=env, cwd=tmp_path)
    assert res.returncode == 0, res.stderr[-2000:]
    peer = json.loads(res.stdout.strip().splitlines()[-1])
    ours = load_plan(str(path))
    sent = [render(s.spec, [], ex, as_chat=False).text for ex in ours.dataset for s in ours.strategies]
    assert peer["rendered"] == sent
    assert sent[:2] == ['Hi ADA\n!|<555555$& and $$ and $ and $ and $ and $ and $>|JSON: {{ "a"|[]|Ada\n|a note Ada\n',
                        "unclosed {{greeting}} {{"]


def test_a_chat_prompt_is_written_as_a_messages_file_and_reimports_equal(tmp_path):
    chat = PromptSpec(syntax="jinja", answer_format="free",
                      messages=[("system", "Answer in one word."), ("user", "Capital of {{ country }}? \"{{ note }}\"")])
    text = PromptSpec(syntax="jinja", query_template="Capital of {{ country }}:", answer_format="free")
    strategies = [Strategy("chat", chat, model="smollm2-135m-instruct"), Strategy("text", text, model="gemma-3-270m")]
    tests = [Example("1", "France", "", vars={"country": "France", "note": "é"}, checks=("icontains: Paris",))]
    exported = export_promptfoo(strategies, tests, "chat")
    config = yaml.safe_load(exported.config)
    assert config["prompts"] == [{"id": "file://prompt_1.json", "label": "chat"},
                                 {"raw": "Capital of {{ country }}:", "label": "text"}]
    assert exported.files == (("prompt_1.json", '[\n  {\n    "role": "system",\n    "content": "Answer in one word."\n'
                               '  },\n  {\n    "role": "user",\n    "content": "Capital of {{ country }}? \\"{{ note }}'
                               '\\""\n  }\n]\n'),)
    assert [(p["id"], p["prompts"]) for p in config["providers"]] == [
        ("openai:chat:smollm2-135m-instruct", ["chat"]), ("openai:completion:gemma-3-270m", ["text"])]
    again = load_plan(str(_write(exported, tmp_path)))
    assert [(s.name, s.spec.messages, s.spec.query_template) for s in again.strategies] == [
        ("chat @ smollm2-135m-instruct", chat.messages, "Answer in one word.\nCapital of {{ country }}? \"{{ note }}\""),
        ("text @ gemma-3-270m", (), "Capital of {{ country }}:")]
    assert [ex.vars for ex in again.dataset] == [t.vars for t in tests]
    # exported again: the same files
    twice = export_promptfoo(again.strategies, list(again.dataset), "chat")
    assert twice.files == exported.files and yaml.safe_load(twice.config)["prompts"] == config["prompts"]


def test_cli_export_promptfoo_writes_a_chat_prompts_file(tmp_path, capsys):
    set_file = tmp_path / "chatset.yaml"
    set_file.write_text(yaml.safe_dump({"schema_version": 1, "name": "chatset", "steps": [
        {"title": "ask", "model": "smollm2-135m-instruct",
         "spec": {"syntax": "jinja", "messages": [{"role": "user", "content": "Say {{ input }}"}]}}],
        "tests": [{"input": "hi"}]}), encoding="utf-8")
    out = tmp_path / "pf"
    assert main(["export", "promptfoo", str(set_file), "--out", str(out)]) == 0
    assert f"wrote {out / CONFIG_FILE} and {out / TESTS_FILE} and {out / 'prompt_1.json'}" in capsys.readouterr().err
    assert json.loads((out / "prompt_1.json").read_text(encoding="utf-8")) == [
        {"role": "user", "content": "Say {{ input }}"}]
    assert [s.spec.messages for s in load_plan(str(out / CONFIG_FILE)).strategies] == [(("user", "Say {{ input }}"),)]


def test_a_tests_description_is_kept_in_the_csv_and_the_yaml(tmp_path):
    plan = load_plan(write_config(tmp_path, """
prompts: ["Echo {{ text }}"]
tests:
  - {description: a short one, vars: {text: plain}}
  - {description: " spaced ", vars: {text: x}}
  - {description: listed, vars: {text: [a, b]}}
  - {vars: {text: no description}}
  - {description: "=SUM(1)", vars: {text: formula}}
"""))
    exported = export_promptfoo(plan.strategies, list(plan.dataset), "descriptions")
    assert exported.tests_csv == ("text,__description\nplain,a short one\nx,spaced\na,listed (text=a)\n"
                                  "b,listed (text=b)\nno description,\n")
    assert [t for t in yaml.safe_load(exported.config)["tests"] if isinstance(t, dict)] == [
        {"description": "=SUM(1)", "vars": {"text": "formula"}}]  # a spreadsheet formula stays out of the CSV
    again = load_plan(str(_write(exported, tmp_path / "out")))
    assert sorted(ex.input for ex in again.dataset) == sorted(ex.input for ex in plan.dataset) == [
        "=SUM(1)", "a short one", "listed (text=a)", "listed (text=b)", "spaced", "text=no description"]


def test_a_label_promptfoo_would_read_as_a_group_is_refused_in_one_line():
    spec = PromptSpec(syntax="jinja", query_template="Echo {{ text }}", answer_format="free")
    strategies = [Strategy("a", spec, model="gemma-3-270m"), Strategy("a: b", spec, model="smollm2-135m-instruct")]
    with pytest.raises(DataError) as err:
        export_promptfoo(strategies, [Example("1", "x", "", vars={"text": "x"})], "d")
    assert str(err.value) == ("Prompt 'a: b' would also run on gemma-3-270m, which lists prompt 'a' (promptfoo runs "
                              "the prompts labelled NAME or 'NAME: ...' there); rename one of them.")
