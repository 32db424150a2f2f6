"""promptfoo configs in (workbench.interop.promptfoo.load_plan): each supported form -> exact strategies, items,
checks and decoding; each refusal one line. Pure: no model is loaded (the chat-messages test renders with the
real instruct model's own template)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from workbench.decoding import DecodingConfig
from workbench.errors import ConfigError, PromptError
from workbench.interop.promptfoo import load_plan
from workbench.interop.promptfoo.cases import read_cases
from workbench.prompts.rendering import render
from workbench.prompts.spec import PromptSpec

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "promptfoo"


def write(folder: Path, text: str, name: str = "promptfooconfig.yaml") -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def refused(tmp_path: Path, text: str) -> str:
    with pytest.raises(ConfigError) as err:
        load_plan(write(tmp_path, text))
    message = str(err.value)
    assert "\n" not in message
    return message


def test_inline_prompts_workbench_providers_inline_tests(tmp_path):
    plan = load_plan(write(tmp_path, """
description: Capitals
prompts: ["Capital of {{country}}?", "{{country | upper}}:"]
providers:
  - workbench:gemma-3-270m
  - id: workbench:smollm2-135m-instruct
    label: smol
    config: {temperature: 0.7, max_tokens: 20, top_p: 0.9, top_k: 40, stop: "\\n", seed: 7}
tests:
  - vars: {country: France}
    assert: [{type: icontains, value: Paris}]
    threshold: 0.5
  - description: two countries
    vars: {country: [Japan, Italy]}
"""))
    assert plan.source == "promptfooconfig.yaml" and plan.dataset.name == "Capitals"
    assert plan.models == ("gemma-3-270m", "smollm2-135m-instruct")
    assert [s.name for s in plan.strategies] == [
        "Capital of {{country}}? @ gemma-3-270m", "Capital of {{country}}? @ smol",
        "{{country | upper}}: @ gemma-3-270m", "{{country | upper}}: @ smol"]
    assert [s.model for s in plan.strategies] == ["gemma-3-270m", "smollm2-135m-instruct"] * 2
    assert plan.strategies[0].decoding == DecodingConfig(max_new_tokens=256)
    assert plan.strategies[1].decoding == DecodingConfig(do_sample=True, temperature=0.7, max_new_tokens=20,
                                                         top_p=0.9, top_k=40, stop=("\n",), seed=7)
    assert all(s.checks == () and s.threshold is None and s.repeat == 1 for s in plan.strategies)
    items = list(plan.dataset)
    assert [(e.id, e.input, e.answer, e.vars, e.checks, e.threshold) for e in items] == [
        ("test-a1d3eeb8", "country=France", "", {"country": "France"}, ({"type": "icontains", "value": "Paris"},), 0.5),
        ("test-2a01a825", "two countries (country=Japan)", "", {"country": "Japan"}, None, None),
        ("test-5d63f6fd", "two countries (country=Italy)", "", {"country": "Italy"}, None, None)]
    assert plan.notes == ()


def test_rendered_text_is_exactly_the_prompt(tmp_path):
    plan = load_plan(write(tmp_path, 'prompts: ["Translate {{ text }} to {{ lang | upper }}:"]\n'
                                     'tests: [{vars: {text: cheese, lang: french}}]\n'))
    assert plan.models == () and plan.strategies[0].model is None  # runs on --model
    spec = plan.strategies[0].spec
    assert render(spec, [], plan.dataset[0]).text == "Translate cheese to FRENCH:"


def test_file_prompts_split_and_labels(tmp_path):
    (tmp_path / "p.txt").write_text("First {{x}}\n---\nSecond {{x}}\n", encoding="utf-8")
    (tmp_path / "one.txt").write_text("Only {{x}}\n", encoding="utf-8")
    plan = load_plan(write(tmp_path, """
prompts: [file://p.txt, {id: file://one.txt, label: mine}, {raw: "Raw {{x}}", label: raw}]
providers: [workbench:gemma-3-270m]
tests: [{vars: {x: "1"}}]
"""))
    assert [(s.name, s.spec.query_template) for s in plan.strategies] == [
        ("p.txt #1 @ gemma-3-270m", "First {{x}}"), ("p.txt #2 @ gemma-3-270m", "Second {{x}}"),
        ("mine @ gemma-3-270m", "Only {{x}}"), ("raw @ gemma-3-270m", "Raw {{x}}")]


def test_chat_messages_prompt_renders_on_a_chat_model_and_is_refused_raw(tmp_path, smollm):
    messages = [{"role": "system", "content": "Answer in one word."},
                {"role": "user", "content": "Capital of {{country}}?"}]
    (tmp_path / "chat.json").write_text(json.dumps(messages), encoding="utf-8")
    plan = load_plan(write(tmp_path, "prompts: [file://chat.json]\ntests: [{vars: {country: Peru}}]\n"))
    spec = plan.strategies[0].spec
    assert spec.messages == (("system", "Answer in one word."), ("user", "Capital of {{country}}?"))
    rendered = render(spec, [], plan.dataset[0], smollm)
    assert rendered.messages == ({"role": "system", "content": "Answer in one word."},
                                 {"role": "user", "content": "Capital of Peru?"})
    assert rendered.text == smollm.format_chat(list(rendered.messages))
    with pytest.raises(PromptError, match=r"^This prompt is chat messages, and the model has no chat template"):
        render(spec, [], plan.dataset[0], as_chat=False)


def test_spec_messages_left_out_of_to_dict_when_empty():
    assert "messages" not in PromptSpec().to_dict()
    spec = PromptSpec(syntax="jinja", query_template="{{x}}", messages=[{"role": "user", "content": "{{x}}"}])
    assert spec.to_dict()["messages"] == [{"role": "user", "content": "{{x}}"}]
    assert PromptSpec.from_dict(spec.to_dict()) == spec


def test_default_test_and_repeat(tmp_path):
    plan = load_plan(write(tmp_path, """
prompts: ["Hi {{name}}"]
providers: [{id: workbench:gemma-3-270m, config: {temperature: 1}}]
defaultTest:
  vars: {name: Ann, greeting: hello}
  assert: [{type: contains, value: Ann}]
  threshold: 0.75
tests:
  - vars: {name: Bob}
evaluateOptions: {repeat: 3, maxConcurrency: 4}
"""))
    (strategy,) = plan.strategies
    assert [c.kind.name for c in strategy.checks] == ["contains"] and strategy.checks[0].value == "Ann"
    assert strategy.threshold == 0.75 and strategy.repeat == 3
    assert plan.dataset[0].vars == {"name": "Bob", "greeting": "hello"}
    assert plan.notes == ("promptfooconfig.yaml: evaluateOptions.maxConcurrency is not used here (the workbench "
                          "batches a model's calls itself); ignored.",)


def test_default_test_placeholders_fill_per_test(tmp_path):
    plan = load_plan(write(tmp_path, """
prompts: ["{{q}}"]
defaultTest: {assert: [{type: icontains, value: "{{city}}"}]}
tests: [{vars: {q: a, city: Paris}, assert: [{type: regex, value: "\\\\w"}]}]
"""))
    assert plan.strategies[0].checks == ()
    assert plan.dataset[0].checks == ({"type": "icontains", "value": "Paris"}, {"type": "regex", "value": "\\w"})


def test_greedy_repeat_is_refused_in_one_line(tmp_path):
    message = refused(tmp_path, "prompts: [x]\nproviders: [workbench:gemma-3-270m]\nevaluateOptions: {repeat: 2}\n")
    assert "repeating greedy decoding gives the same output every time" in message


def test_server_providers(tmp_path):
    plan = load_plan(write(tmp_path, """
prompts: ["{{q}}"]
providers:
  - id: openai:chat:gemma
    config: {apiBaseUrl: "http://127.0.0.1:8080/v1/", max_tokens: 9, seed: 3}
  - llama
  - {llama:tiny: {config: {n_predict: 5, top_k: 3}}}
  - id: ollama:completion:qwen
    config: {num_predict: 7, temperature: 0.2, repeat_penalty: 1.1, min_p: 0.05}
tests: [{vars: {q: hi}}]
"""))
    assert plan.models == ("http://127.0.0.1:8080/v1#gemma", "http://localhost:8080/v1#llama",
                           "http://localhost:8080/v1#tiny", "http://localhost:11434/v1#qwen")
    decodings = [s.decoding for s in plan.strategies]
    assert decodings == [DecodingConfig(max_new_tokens=9, seed=3), DecodingConfig(max_new_tokens=512),
                         DecodingConfig(max_new_tokens=5, top_k=3),
                         DecodingConfig(do_sample=True, temperature=0.2, max_new_tokens=7, repetition_penalty=1.1,
                                        min_p=0.05)]
    assert [s.name for s in plan.strategies][-1] == "{{q}} @ ollama:completion:qwen"


def test_tests_from_csv_with_expected(tmp_path):
    (tmp_path / "t.csv").write_text("country,__expected,__expected2\nFrance,Paris,icontains: par\n"
                                    "Japan,contains: Tokyo,\n", encoding="utf-8")
    plan = load_plan(write(tmp_path, "prompts: ['{{country}}']\ntests: file://t.csv\n"))
    assert [(e.vars, e.answer, e.checks) for e in plan.dataset] == [
        ({"country": "France"}, "Paris", ("Paris", "icontains: par")),
        ({"country": "Japan"}, "", ("contains: Tokyo",))]


def test_tests_from_yaml_and_jsonl(tmp_path):
    (tmp_path / "t.yaml").write_text("- vars: {a: '1'}\n  assert: [{type: equals, value: '1'}]\n", encoding="utf-8")
    (tmp_path / "t.jsonl").write_text('{"vars": {"a": "2"}}\n', encoding="utf-8")
    plan = load_plan(write(tmp_path, "prompts: ['{{a}}']\ntests: [file://t.yaml, file://t.jsonl]\n"))
    assert [(e.id, e.vars, e.checks) for e in plan.dataset] == [
        ("test-7947a7af", {"a": "1"}, ({"type": "equals", "value": "1"},)), ("test-0910b3b8", {"a": "2"}, None)]


def test_the_shipped_examples_load():
    plan = load_plan(EXAMPLE / "promptfooconfig.yaml")
    assert [s.name for s in plan.strategies] == ["qa @ gemma", "qa @ smollm2", "completion @ gemma",
                                                  "completion @ smollm2"]
    assert len(plan.dataset) == 5
    csv_plan = load_plan(EXAMPLE / "csvconfig.yaml")
    assert len(csv_plan.dataset) >= 4 and all(e.checks for e in csv_plan.dataset)


@pytest.mark.parametrize("text, expected", [
    ("prompts: [x]\nproviders: [openai:chat:gpt-4o]\n",
     "provider openai:chat:gpt-4o has no config.apiBaseUrl; the workbench never calls the cloud"),
    ("prompts: [x]\nproviders: [anthropic:messages:claude]\n",
     "provider 'anthropic:messages:claude' is not supported by the workbench; use one of workbench:MODEL"),
    ("prompts: [x]\nscenarios: []\n", "promptfoo key 'scenarios' is not supported by the workbench"),
    ("prompts: [x]\nproviders: [{id: workbench:gemma-3-270m, config: {frequency_penalty: 1}}]\n",
     "provider workbench:gemma-3-270m: config key 'frequency_penalty' is not supported"),
    ("prompts: [x]\nproviders: [{id: llama, config: {max_tokens: 5}}]\n",
     "provider llama: config key 'max_tokens' is not supported by the workbench; this provider's budget is "
     "n_predict; remove it (supported here: baseUrl, n_predict"),
    ("prompts: [x]\ntests: [{vars: {a: b}, options: {transform: output.trim()}}]\n",
     "test 1: test option 'transform' is not supported"),
    ("prompts: [x]\ntests: [{vars: {a: b}, provider: x}]\n", "test 1: test key 'provider' is not supported"),
    ("prompts: [x]\nevaluateOptions: {delay: 5}\n", "evaluateOptions.delay is not supported"),
    ("prompts: [file://../../etc/passwd]\n", "prompt file://../../etc/passwd is outside the config's folder"),
    ("prompts: [file://make.py:build]\n", "prompt file://make.py:build is a function reference (code)"),
    ("prompts: [file://make.js]\n", "prompt file://make.js is code; the workbench never runs code"),
    ("prompts: [file://*.txt]\n", "prompt file://*.txt is a glob"),
    ("prompts: [x]\ntests: file://../secret.csv\n", "tests file://../secret.csv is outside the config's folder"),
    ("prompts: [x]\ntests: [{vars: {a: file://run.py}}]\n", "is not a text, JSON or YAML file"),
    ("prompts: [x]\ntests: [{vars: {a: file://../x.txt}}]\n", "var 'a' file://../x.txt is outside the config's"),
    ("prompts: [x]\ndefaultTest: {assert: [{type: javascript, value: 'output'}]}\n", "runs code from the file"),
    ("prompts: [x]\nproviders: [workbench:gemma-3-270m]\ntests: [{assert: [{type: nope}]}]\n", None),
    ("prompts: [x]\nenv: {OPENAI_API_KEY: k}\n", "promptfoo key 'env' is not supported"),
    ("providers: [workbench:gemma-3-270m]\n", "the config has no prompts"),
])
def test_refusals_are_one_line(tmp_path, text, expected):
    message = refused(tmp_path, text) if expected is not None else None
    if expected is not None:
        assert expected in message
    else:  # an item's own bad assertion is refused when the run builds its judging, before any model call
        plan = load_plan(write(tmp_path, text))
        from workbench.judging.verdicts import Judging
        with pytest.raises(ConfigError, match="unknown assertion type 'nope'"):
            Judging(plan.strategies[0].checks, list(plan.dataset))


def test_a_50_mb_config_is_one_line(tmp_path):
    path = tmp_path / "big.yaml"
    path.write_bytes(b"prompts: [x]\n" + b"# padding\n" * 5_000_000)
    with pytest.raises(ConfigError) as err:
        load_plan(path)
    assert str(err.value) == "big.yaml is 50,000,013 bytes, over the 1,000,000-byte limit."


def test_sandbox_refuses_attribute_access_when_rendered(tmp_path):
    plan = load_plan(write(tmp_path, "prompts: [\"{{ ''.__class__ }}\"]\ntests: [{vars: {a: b}}]\n"))
    with pytest.raises(PromptError) as err:
        render(plan.strategies[0].spec, [], plan.dataset[0])
    assert str(err.value) == ("The query template (item test-d73e859a: a=b) tried an unsafe operation: access "
                              "to attribute '__class__' of 'str' object is unsafe.")


def test_harmless_keys_are_noted_once(tmp_path):
    plan = load_plan(write(tmp_path, "prompts: [x]\nsharing: false\ntags: {team: a}\noutputPath: out.json\n"))
    assert plan.notes == (
        "promptfooconfig.yaml: sharing is not used here (results stay on this machine); ignored.",
        "promptfooconfig.yaml: tags is not used here (tags only label a run in promptfoo's viewer); ignored.",
        "promptfooconfig.yaml: outputPath is not used here (give --output to write results); ignored.")


def test_default_test_from_a_file_and_the_prompt_map_form(tmp_path):
    (tmp_path / "default.yaml").write_text("vars: {who: world}\nassert: [{type: starts-with, value: Hi}]\n",
                                           encoding="utf-8")
    (tmp_path / "hello.txt").write_text("Hello {{who}}", encoding="utf-8")
    plan = load_plan(write(tmp_path, "prompts: {file://hello.txt: greeting}\ndefaultTest: file://default.yaml\n"))
    (strategy,) = plan.strategies
    assert strategy.name == "greeting" and strategy.spec.query_template == "Hello {{who}}"
    assert [(c.kind.name, c.value) for c in strategy.checks] == [("starts-with", "Hi")]
    assert [(e.id, e.input, e.vars) for e in plan.dataset] == [("test-72e681f3", "who=world", {"who": "world"})]
    assert render(strategy.spec, [], plan.dataset[0]).text == "Hello world"


def test_a_provider_config_of_the_wrong_shape_is_one_line(tmp_path):
    message = refused(tmp_path, "prompts: [x]\nproviders: [{id: workbench:gemma-3-270m, config: [1, 2]}]\n")
    assert message == "provider workbench:gemma-3-270m: config: Input should be a valid dictionary."


def test_a_provider_runs_only_the_prompts_it_lists(tmp_path):
    (tmp_path / "p.txt").write_text("First {{x}}\n---\nSecond {{x}}\n", encoding="utf-8")
    plan = load_plan(write(tmp_path, """
prompts:
  - {raw: "A {{x}}", label: a}
  - {id: file://p.txt, label: group}
  - "B {{x}}"
providers:
  - {id: workbench:gemma-3-270m, prompts: [a, "B {{x}}"]}
  - {id: workbench:smollm2-135m-instruct, label: smol, prompts: [group]}
  - workbench:gemma-3-270m
tests: [{vars: {x: 1}}]
"""))
    assert [s.name for s in plan.strategies] == [
        "a @ gemma-3-270m", "a @ gemma-3-270m (2)", "group #1 @ smol", "group #1 @ gemma-3-270m (2)",
        "group #2 @ smol", "group #2 @ gemma-3-270m (2)", "B {{x}} @ gemma-3-270m", "B {{x}} @ gemma-3-270m (2)"]
    assert plan.notes == ()
    # promptfoo keys a {ID: {label, prompts}} entry by its id and looks it up by its label: every prompt runs
    plan = load_plan(write(tmp_path, """
prompts: [{raw: "A {{x}}", label: a}, {raw: "B {{x}}", label: b}]
providers:
  - workbench:gemma-3-270m: {label: g, prompts: [a]}
  - workbench:smollm2-135m-instruct: {prompts: [b]}
"""))
    assert [s.name for s in plan.strategies] == ["a @ g", "b @ g", "b @ smollm2-135m-instruct"]
    assert plan.notes == ("promptfooconfig.yaml: provider g: prompts is not used, as promptfoo keys a {ID: {label, "
                          "prompts}} entry's prompts by its id and looks them up by its label: every prompt runs on "
                          "it (write {id, label, prompts} to limit it)",)
    assert refused(tmp_path, 'prompts: [{raw: "A", label: a}]\nproviders: [{id: workbench:x, prompts: [b]}]\n') == (
        "promptfooconfig.yaml: provider x lists prompt 'b', which no prompt is; its prompts name prompt labels ('a').")
    assert refused(tmp_path, 'prompts: [{raw: "A", label: a}]\nproviders: [{id: workbench:x, prompts: []}]\n') == (
        "promptfooconfig.yaml: provider x lists no prompt; its prompts name prompt labels ('a').")
    assert refused(tmp_path, 'prompts: [A]\nproviders: [{id: workbench:x, prompts: a}]\n') == (
        "provider workbench:x: prompts: Input should be a valid list.")


#: Vars promptfoo changes before it fills a text prompt: a final newline, a {{ var }} in a var, JavaScript's
#: replacement patterns, an unclosed tag, an unset name, a filter.
TRICKY_VARS = """
      name: "Ada\\n\\n"
      greeting: "Hi {{ name | upper }}!"
      echo: "<{{ money }}>"
      money: "5$& and $$"
      brace: "JSON: {{ \\"a\\""
      unset: "[{{ nobody }}]"
      note: file://note.txt
      crlf: "x\\r\\n"
"""


def test_vars_are_rendered_as_promptfoo_renders_them(tmp_path):
    (tmp_path / "note.txt").write_text("\n  a note {{ name }}\n\n", encoding="utf-8")
    plan = load_plan(write(tmp_path, "prompts: ['{{greeting}}|{{echo}}|{{brace}}|{{unset}}|{{name}}|{{note}}|{{']\n"
                                     f"tests:\n  - vars:{TRICKY_VARS}"))
    assert plan.dataset[0].vars == {
        "name": "Ada\n", "greeting": "Hi ADA\n!", "echo": "<555555$& and $$ and $ and $ and $ and $ and $>",
        "money": "5$& and $$", "brace": 'JSON: {{ "a"', "unset": "[]", "note": "a note Ada\n", "crlf": "x\r"}
    # the prompt has an unclosed {{ too: promptfoo sends it as it is
    assert render(plan.strategies[0].spec, [], plan.dataset[0]).text == \
        "{{greeting}}|{{echo}}|{{brace}}|{{unset}}|{{name}}|{{note}}|{{"
    plan = load_plan(write(tmp_path, "prompts: ['{{greeting}}|{{echo}}|{{brace}}|{{unset}}|{{name}}|{{note}}']\n"
                                     f"tests:\n  - vars:{TRICKY_VARS}"))
    assert render(plan.strategies[0].spec, [], plan.dataset[0]).text == \
        'Hi ADA\n!|<555555$& and $$ and $ and $ and $ and $ and $>|JSON: {{ "a"|[]|Ada\n|a note Ada\n'
    assert refused(tmp_path, "prompts: ['{{x}}']\ntests: [{vars: {x: '{% if %}'}}]\n").startswith(
        "test 1: var 'x' is rendered as a template by promptfoo, and it fails: ")



def test_test_ids_come_from_content_so_inserting_a_test_shifts_no_other(tmp_path):
    """--fail-if-worse pairs items by id: a test inserted first keeps the others' ids; equal tests stay apart."""
    def ids(tests):
        return [e.id for e in read_cases(tests, None, None)]

    before = ids([{"vars": {"q": "a"}}, {"description": "b", "vars": {"q": "b"}}, {"vars": {"q": "a"}}])
    after = ids([{"vars": {"q": "new"}}, {"vars": {"q": "a"}}, {"description": "b", "vars": {"q": "b"}},
                 {"vars": {"q": "a"}}])
    assert after[1:] == before and len(set(after)) == 4
    assert before[2] == before[0] + "-2"


def test_a_workbench_model_path_stays_in_the_configs_folder(tmp_path):
    """workbench:PATH resolves inside the config's folder; registry ids and a model file beside it are kept."""
    from workbench.interop.promptfoo.providers import read_provider

    (tmp_path / "m.gguf").write_text("x")
    for name in ("../../../../etc/hostname", "/etc/passwd", "sub/../../x.gguf"):
        with pytest.raises(ConfigError, match="is outside the config's folder"):
            read_provider(f"workbench:{name}", None, None, tmp_path)
    assert read_provider("workbench:gemma-3-270m", None, None, tmp_path).ref == "gemma-3-270m"
    assert read_provider("workbench:m.gguf", None, None, tmp_path).ref == str((tmp_path / "m.gguf").resolve())
    assert read_provider("workbench:./m.gguf", None, None, tmp_path).ref == str((tmp_path / "m.gguf").resolve())


def test_a_config_may_share_values_with_yaml_anchors(tmp_path):
    """Real configs share assertions with &name / *name; the expansion is bounded (tests/test_safeload.py)."""
    plan = load_plan(write(tmp_path, "prompts: ['Q: {{q}}']\nproviders: [workbench:gemma-3-270m]\n"
                                     "tests:\n  - vars: {q: a}\n    assert: &checks [{type: contains, value: x}]\n"
                                     "  - vars: {q: b}\n    assert: *checks\n"))
    assert [e.checks for e in plan.dataset] == [({"type": "contains", "value": "x"},)] * 2


def test_non_text_vars_print_as_javascript_in_prompts_and_assertions_alike(tmp_path):
    """promptfoo prints a var with JavaScript's String(): true, 2, 1,2, [object Object]; a null var empty."""
    plan = load_plan(write(tmp_path, "prompts: ['flag={{flag}} n={{n}} nums={{nums}} obj={{obj}} nothing=[{{nothing}}]"
                                     "{% if not nope %} on{% endif %}']\nproviders: [workbench:gemma-3-270m]\n"
                                     "tests:\n  - vars: {flag: true, nope: false, n: 2.0, nums: [1, 2], obj: {a: 1},"
                                     " nothing: null}\n    assert: [{type: equals, value: '{{flag}} {{n}} {{nums}}'}]\n"))
    spec = plan.strategies[0].spec
    assert render(spec, [], plan.dataset[0]).text == "flag=true n=2 nums=1,2 obj=[object Object] nothing=[] on"
    assert plan.dataset[0].checks == ({"type": "equals", "value": "true 2 1,2"},)


def test_a_completion_provider_sends_raw_text_and_a_chat_provider_messages(tmp_path, smollm):
    """openai:completion: (and llama) never applies a chat template, even on a chat model; openai:chat: sends the
    text as one user message; results.json keeps the id the config named."""
    from workbench.interop.promptfoo.results import provider_id

    plan = load_plan(write(tmp_path, "prompts: ['Capital of {{c}}?']\ntests: [{vars: {c: Peru}}]\nproviders:\n"
                                     "  - {id: 'openai:completion:smollm', config: {apiBaseUrl: 'http://h:1/v1'}}\n"
                                     "  - {id: 'openai:chat:smollm', config: {apiBaseUrl: 'http://h:1/v1'}}\n"
                                     "  - {id: llama, config: {baseUrl: 'http://h:1'}}\n  - workbench:gemma-3-270m\n"))
    specs = {s.name: s.spec for s in plan.strategies}
    assert [s.as_chat for s in specs.values()] == [False, True, False, None]
    item = plan.dataset[0]
    raw = render(specs["Capital of {{c}}? @ openai:completion:smollm"], [], item, smollm)
    assert (raw.text, raw.messages) == ("Capital of Peru?", None)
    chat = render(specs["Capital of {{c}}? @ openai:chat:smollm"], [], item, smollm)
    assert chat.messages == ({"role": "user", "content": "Capital of Peru?"},)
    assert chat.text == smollm.format_chat([{"role": "user", "content": "Capital of Peru?"}])
    ref = plan.strategies[0].model
    assert [provider_id(ref, label, chat) for label, chat in [
        ("openai:completion:smollm", False), ("openai:chat:smollm", True), ("ollama:chat:smollm", True),
        ("my label", True), ("my label", False)]] == [
        "openai:completion:smollm", "openai:chat:smollm", "ollama:chat:smollm", "openai:chat:smollm",
        "openai:completion:smollm"]


def test_api_key_settings_are_read_and_the_completion_providers_default_stop_is_promptfoos():
    from workbench.interop.promptfoo.providers import COMPLETION_STOP, read_provider

    p = read_provider("openai:completion:g", {"apiBaseUrl": "http://127.0.0.1:8080/v1", "apiKeyRequired": False,
                                              "apiKeyEnvar": "MY_KEY"})
    assert p.ref == "http://127.0.0.1:8080/v1#g#MY_KEY"  # the server reference's key variable
    assert p.decoding.stop == COMPLETION_STOP == ("<|im_end|>", "<|endoftext|>")
    assert p.notes == ("provider openai:completion:g: config.apiKeyRequired is not used (the workbench sends a key "
                       "only from the variable apiKeyEnvar names)",)
    chat = read_provider("openai:chat:g", {"apiBaseUrl": "http://h:1/v1", "apiKey": "sk-x", "stop": ["\n"]})
    assert (chat.ref, chat.decoding.stop) == ("http://h:1/v1#g", ("\n",))  # a literal key is never kept
    assert read_provider("openai:chat:g", {"apiBaseUrl": "http://h:1/v1"}).decoding.stop == ()
    with pytest.raises(ConfigError, match=r"^provider openai:chat:g: config.apiKeyEnvar must be an environment "):
        read_provider("openai:chat:g", {"apiBaseUrl": "http://h:1/v1", "apiKeyEnvar": "A B"})
    with pytest.raises(ConfigError, match=r"config key 'apiKey' is not supported"):
        read_provider("llama", {"apiKey": "x"})
