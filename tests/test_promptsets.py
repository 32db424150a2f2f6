"""Prompt sets: schema, validation messages, hostile files, lossless round trip, exports, library, classroom sets."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import real_backend
from workbench.data import Example, sample_pools
from workbench.decoding import DecodingConfig
from workbench.errors import DataError
from workbench.prompts import PromptSpec, render
from workbench.promptsets.exports import render_jsonl, results_csv
from workbench.promptsets.files import (
    CLASSROOM_DIR,
    FORMATS,
    MIGRATIONS,
    classroom_sets,
    dumps,
    from_dict,
    load,
    loads,
    to_json,
    to_yaml,
)
from workbench.promptsets.library import diff_versions, find_set, free_name, get, import_set, library_entries, save
from workbench.promptsets.model import DEFAULT_LIMITS, Limits, PromptSet, SelectorSpec, Step, TestCase
from workbench.promptsets.running import (
    capped,
    default_index_factory,
    describe_decoding,
    describe_demos,
    run_set,
    run_step,
    run_steps,
    step_demos,
)
from workbench.reasoning import NONE, ZERO_SHOT_COT
from workbench.retrieval.orders import ORDERS
from workbench.retrieval.selectors.registry import SELECTORS
from workbench.store import open_store

MINIMAL = {"schema_version": 1, "name": "tiny", "steps": [{"title": "only"}]}


def doc(**step_changes) -> dict:
    """A minimal valid document whose single step has some fields changed."""
    return {"schema_version": 1, "name": "tiny", "steps": [{"title": "only", **step_changes}]}


def refused(data, source: str = "set.yaml") -> str:
    with pytest.raises(DataError) as err:
        from_dict(data, source)
    return str(err.value)


def refused_text(text: str | bytes, source: str = "set.yaml", **kw) -> str:
    with pytest.raises(DataError) as err:
        loads(text, source=source, **kw)
    return str(err.value)


# ---- schema and canonical form --------------------------------------------------------------


def test_minimal_document_takes_defaults_and_exports_every_field():
    pset = from_dict(MINIMAL)
    assert pset == PromptSet(name="tiny", steps=(Step(title="only"),))
    assert pset.to_dict() == {
        "schema_version": 1, "name": "tiny", "description": "", "notes": "", "tags": [],
        "steps": [{"title": "only", "notes": "", "model": "", "spec": PromptSpec().to_dict(), "demos": [],
                   "decoding": DecodingConfig().to_dict()}],
        "tests": [],
    }


def test_inline_demos_selector_and_tests_are_read():
    data = {
        "schema_version": 1, "name": " Sentiment ", "tags": ["a", "b"],
        "steps": [
            {"title": "few", "demos": [{"question": "good", "answer": "positive"},
                                       {"id": "x", "question": "bad", "answer": "negative", "label": "neg"}]},
            {"title": "nearest", "select": {"name": "knn", "k": 2, "pool": "sentiment"}},
        ],
        "tests": [{"input": "fine", "expected": "positive"}, {"input": "Pick", "choices": {"A": "one"}}],
    }
    pset = from_dict(data)
    assert pset.name == "Sentiment"
    assert pset.steps[0].demos == (Example("demo-1", "good", "positive"), Example("x", "bad", "negative", label="neg"))
    assert pset.steps[1].select == SelectorSpec(name="knn", k=2, pool="sentiment")
    assert pset.tests == (TestCase("fine", "positive"), TestCase("Pick", None, {"A": "one"}))
    assert pset.tests[1].query("q") == Example("q", "Pick", "", choices={"A": "one"})


def test_small_set_exports_exact_json():
    pset = PromptSet(name="n", steps=(Step(title="t", demos=(Example("d", "2+2", "4"),)),),
                        tests=(TestCase("1+1", "2"),))
    data = json.loads(to_json(pset))
    assert data["steps"][0]["demos"] == [{"id": "d", "question": "2+2", "answer": "4"}]
    assert data["tests"] == [{"input": "1+1", "expected": "2"}]
    assert to_json(pset).endswith("}\n")
    assert list(data) == ["schema_version", "name", "description", "notes", "tags", "steps", "tests"]


def test_multiline_text_is_a_literal_block_and_bare_newlines_are_escaped():
    pset = from_dict(doc(spec={"instruction": "line one\nline two", "separator": "\n\n"}))
    text = to_yaml(pset)
    assert "    instruction: |-\n      line one\n      line two\n" in text
    assert '    separator: "\\n\\n"\n' in text


# ---- field-level validation messages --------------------------------------------------------


@pytest.mark.parametrize(("step", "message"), [
    ({"decoding": {"top_p": 1.5}}, "set.yaml: steps[0].decoding.top_p: must be in (0, 1] (got 1.5); 1 turns it off."),
    ({"decoding": {"temperature": "hot"}}, "set.yaml: steps[0].decoding.temperature: input should be a valid number."),
    ({"decoding": {"max_new_tokens": True}}, "set.yaml: steps[0].decoding.max_new_tokens: input should be a valid "
                                             "integer."),
    ({"decodng": {}}, "set.yaml: steps[0].decodng: unknown field; remove it or check its spelling."),
    ({"spec": {"reasoning": "magic"}}, "set.yaml: steps[0].spec: Unknown reasoning mode 'magic'; choose one of none, "
                                       "manual_cot, zero_shot_cot, auto_cot."),
    ({"spec": {"labels": "positive"}}, "set.yaml: steps[0].spec.labels: input should be a valid list."),
    ({"demos": [{"question": "q"}]}, "set.yaml: steps[0].demos[0].answer: missing; add it."),
    ({"select": {"name": "psychic", "k": 2, "pool": "sentiment"}},
     "set.yaml: steps[0].select.name: input should be 'random', 'knn', 'bm25', 'mmr', 'cluster', 'label_balanced' "
     "or 'fixed'."),
    ({"select": {"name": "knn", "k": 1000, "pool": "sentiment"}},
     "set.yaml: steps[0].select.k: input should be less than or equal to 64."),
    ({"select": {"name": "knn", "k": 2, "pool": "../../etc/passwd"}},
     "set.yaml: steps[0].select.pool: unknown pool '../../etc/passwd'; a prompt set selects from a shipped pool: "
     + ", ".join(sample_pools()) + "."),
    ({"demos": [{"question": "q", "answer": "a"}], "select": {"name": "knn", "k": 2, "pool": "sentiment"}},
     "set.yaml: steps[0]: give inline demos or a select spec, not both."),
    ({"spec": {"reasoning": "manual_cot"}, "demos": [{"id": "d1", "question": "q", "answer": "a"}]},
     "set.yaml: steps[0].demos[0]: Demonstration 'd1' has no rationale, which manual_cot needs; write one or set "
     "reasoning to none."),
    ({"model": "http://example.com/v1#gpt"}, "set.yaml: steps[0].model: a prompt set may not name a server URL (it "
     "would send your prompts there); use a registry id or leave it empty and pick the server in the sidebar."),
])
def test_bad_fields_are_one_line_errors_naming_the_field(step, message):
    assert refused(doc(**step)) == message


def test_top_level_problems_are_named():
    assert refused({**MINIMAL, "colour": "red"}) == "set.yaml: colour: unknown field; remove it or check its spelling."
    assert refused({**MINIMAL, "steps": []}) == "set.yaml: steps: list should have at least 1 item after " \
                                                "validation, not 0."
    assert refused({**MINIMAL, "name": "two\nlines"}) == ("set.yaml: name: prompt set names are one line of at most "
                                                          "120 characters.")
    assert refused(["not", "a", "mapping"]) == ("set.yaml: expected a mapping with schema_version, name and steps, "
                                                "got list.")


def test_schema_versions_say_which_version_is_expected():
    assert refused({**MINIMAL, "schema_version": 2}) == (
        "set.yaml: schema_version 2 is not supported (written by a newer workbench; upgrade it); "
        "this workbench reads schema_version 1.")
    assert refused({**MINIMAL, "schema_version": 0}) == (
        "set.yaml: schema_version 0 is not supported; this workbench reads schema_version 1.")
    no_version = {k: v for k, v in MINIMAL.items() if k != "schema_version"}
    assert refused(no_version) == "set.yaml: schema_version is missing; add 'schema_version: 1' at the top."


def test_migration_hook_upgrades_old_documents(monkeypatch):
    def v0_to_v1(d):  # a made-up version 0 called steps "prompts"
        d = dict(d)
        d["steps"] = d.pop("prompts")
        d["schema_version"] = 1
        return d

    monkeypatch.setitem(MIGRATIONS, 0, v0_to_v1)
    old = {"schema_version": 0, "name": "old", "prompts": [{"title": "t"}]}
    assert from_dict(old).steps == (Step(title="t"),)


def test_invalid_yaml_and_json_name_the_line():
    assert refused_text("name: [unclosed\nsteps: 1\n").startswith("set.yaml line 2: not valid YAML")
    assert refused_text('{"name": }', source="set.json") == "set.json line 1: not valid JSON (Expecting value)."
    assert refused_text("  \n") == "set.yaml is empty."
    assert refused_text(b"\xff\xfe", source="x.yaml") == "x.yaml is not UTF-8 text (offset 0); save it as UTF-8."


# ---- hostile files ------------------------------------------------------------------------------


@pytest.mark.parametrize("payload", [
    "!!python/object/apply:os.system ['touch {marker}']",
    "!!python/object/new:subprocess.Popen [['touch', '{marker}']]",
    "!!python/name:os.system",
    "!!python/module:os",
])
def test_python_tags_are_refused_and_nothing_runs(tmp_path, payload):
    marker = tmp_path / "pwned"
    text = f"schema_version: 1\nname: evil\nsteps:\n  - title: t\n    notes: {payload.format(marker=marker)}\n"
    message = refused_text(text)
    assert message.startswith("set.yaml line 5: the Python tag !!python/")
    assert message.endswith("is refused; prompt-set files are plain data and never create Python objects.")
    assert not marker.exists()


def test_python_tag_at_the_top_level_is_refused():
    assert refused_text("!!python/object:workbench.promptsets.PromptSet {name: x}").startswith(
        "set.yaml line 1: the Python tag !!python/object:workbench.promptsets.PromptSet is refused")


def test_custom_tags_are_refused_but_core_tags_are_fine():
    assert refused_text("schema_version: 1\nname: !shell ls\nsteps: []\n") == (
        "set.yaml line 2: the YAML tag '!shell' is not allowed; write plain values.")
    ok = loads("schema_version: !!int 1\nname: !!str tagged\nsteps:\n  - title: t\n")
    assert ok.name == "tagged"


def test_billion_laughs_aliases_are_refused():
    lines = ["a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    lines += [f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join(['*' + chr(97 + i)] * 9)}]" for i in range(8)]
    assert refused_text("\n".join(lines)) == (
        "set.yaml line 1: YAML anchors and aliases (&name, *name) are not allowed in prompt-set files; "
        "write the value out.")


def test_huge_files_are_refused_before_parsing(tmp_path):
    big = "schema_version: 1\nname: big\nnotes: " + "x" * 1_200_000 + "\nsteps: [{title: t}]\n"
    assert refused_text(big) == ("set.yaml is 1,200,056 bytes; prompt-set files are limited to 1,000,000 bytes "
                                 "(max_bytes).")
    path = tmp_path / "big.yaml"
    path.write_text(big)
    with pytest.raises(DataError, match=r"^big.yaml is 1,200,056 bytes; .* \(max_bytes\)\.$"):
        load(path)


@pytest.mark.parametrize(("text", "source"), [
    ("[" * 200_000 + "]" * 200_000, "deep.yaml"),
    ("a:\n" + "".join("  " * i + "- \n" for i in range(1, 60)), "deep.yaml"),
    ("[" * 200_000 + "]" * 200_000, "deep.json"),
])
def test_deep_nesting_is_refused_without_recursion(text, source):
    assert "nested deeper than 10 levels (limit max_depth)" in refused_text(text, source=source)


def test_moderately_deep_json_is_refused_after_parsing():
    deep: dict = {"x": "y"}
    for _ in range(30):
        deep = {"x": deep}
    message = refused_text(json.dumps({**MINIMAL, "notes": deep}), source="s.json")
    assert message == ("s.json: notes.x.x.x.x.x.x.x.x.x.x: nested deeper than 10 levels (limit max_depth).")


def test_ten_thousand_demonstrations_are_refused_with_a_message():
    demos = [{"question": f"q{i}", "answer": "a"} for i in range(10_000)]
    text = json.dumps(doc(demos=demos))
    assert len(text.encode()) < DEFAULT_LIMITS.max_bytes  # it is the count that is refused, not the size
    assert refused_text(text, source="many.json") == (
        "many.json: steps[0].demos: 10,000 demonstrations; a prompt set may hold at most 1,000 (limit max_demos).")
    # The limit is a named parameter: a caller that trusts the file can raise it.
    assert len(loads(text, source="many.json", limits=Limits(max_demos=10_000)).steps[0].demos) == 10_000


@pytest.mark.parametrize("source", ["set.yaml", "set.json"])
def test_repeated_keys_are_refused(source):
    text = ('{"schema_version": 1, "name": "shown", "name": "used", "steps": [{"title": "t"}]}' if source.endswith("json")
            else "schema_version: 1\nname: shown\nsteps:\n  - title: t\nname: used\n")
    message = refused_text(text, source=source)
    assert "the key 'name' appears twice in one" in message and "\n" not in message


def test_repeated_keys_in_different_mappings_are_fine():
    pset = loads("schema_version: 1\nname: n\nsteps:\n  - {title: a, notes: x}\n  - {title: b, notes: y}\n")
    assert [s.title for s in pset.steps] == ["a", "b"]


@pytest.mark.parametrize(("text", "source", "message"), [
    # YAML: refused by the event scan, before the number is built (YAML 1.1's base-60 "1:2:3" is quadratic).
    ("schema_version: 1\nname: x\nsteps: [{title: t, decoding: {max_new_tokens: " + "9" * 5000 + "}}]\n", "n.yaml",
     "n.yaml line 3: a number of 5,000 characters; the limit is 100 (quote it if it is text)."),
    ("schema_version: 1\nname: x\nsteps: [{title: t, decoding: {seed: " + ":".join(["1"] * 50_000) + "}}]\n",
     "n.yaml", "n.yaml line 3: a number of 99,999 characters; the limit is 100 (quote it if it is text)."),
    ("schema_version: 1\nname: x\nsteps: [{title: t, decoding: {seed: 0b" + "1" * 100 + "}}]\n", "n.yaml",
     "n.yaml line 3: a number of 102 characters; the limit is 100 (quote it if it is text)."),
    ("schema_version: 1\nname: x\nsteps: [{title: t, decoding: {seed: 0x" + "f" * 40 + "}}]\n", "n.yaml",
     "n.yaml: steps[0].decoding.seed: a whole number beyond ±9,223,372,036,854,775,807; write a sensible value."),
    ('{"schema_version": 1, "name": "x", "steps": [{"title": "t", "decoding": {"top_k": ' + "9" * 5000 + "}}]}",
     "n.json", "n.json: a number has thousands of digits; write a sensible value."),
    ('{"schema_version": 1, "name": "x", "steps": [{"title": "t", "decoding": {"top_k": ' + "9" * 30 + "}}]}",
     "n.json", "n.json: steps[0].decoding.top_k: a whole number beyond ±9,223,372,036,854,775,807; write a "
               "sensible value."),
])
def test_numbers_with_thousands_of_digits_are_refused(text, source, message):
    assert refused_text(text, source=source) == message


@pytest.mark.parametrize(("text", "source"), [
    ("schema_version: 1\nname: x\nsteps: [{title: t, decoding: {temperature: .inf}}]\n", "f.yaml"),
    ('{"schema_version": 1, "name": "x", "steps": [{"title": "t", "decoding": {"top_p": NaN}}]}', "f.json"),
])
def test_non_finite_numbers_are_refused(text, source):
    assert refused_text(text, source=source).endswith("is not a finite number; write a plain number.")


def test_binary_and_set_tags_are_refused():
    assert refused_text("schema_version: 1\nname: !!binary aGk=\nsteps: []\n") == (
        "set.yaml line 2: the YAML tag '!!binary' is not allowed; write plain values.")


def test_long_strings_and_long_lists_are_bounded():
    message = refused(doc(notes="n" * 20_001))
    assert message == "set.yaml: steps[0].notes: text of 20,001 characters; the limit is 20,000 (max_string)."
    message = refused({**MINIMAL, "tags": ["t"] * 1001})
    assert message == "set.yaml: tags: 1,001 items; a prompt set may hold at most 1,000 (limit max_items)."


@pytest.mark.parametrize("template", [
    "{input.__class__.__mro__}", "{input.__init__.__globals__}", "{0}", "{input!r}", "{input:>99999999}",
    "{input[0]}", "{__import__}",
])
def test_templates_that_reach_python_objects_are_refused(template):
    message = refused(doc(spec={"query_template": "Q: {input} " + template}))
    assert message.startswith("set.yaml: steps[0].spec: The query template ")
    assert "\n" not in message


def test_jinja_style_templates_are_kept_as_literal_text():
    pset = from_dict(doc(spec={"query_template": "{{ config.__class__ }} {{7*7}} Q: {input}"}))
    text = render(pset.steps[0].spec, (), "hi").text
    assert text == "{ config.__class__ } {7*7} Q: hi"


def test_values_are_never_substituted_twice():
    pset = from_dict(doc(demos=[{"question": "{answer.__class__}", "answer": "{input}"}]))
    text = render(pset.steps[0].spec, pset.steps[0].demos, "{0.__globals__}").text
    assert text == "Q: {answer.__class__}\nA: {input}\n\nQ: {0.__globals__}\nA:"


# ---- lossless round trip (property test) ------------------------------------------------------

TEXT = st.text(st.characters(exclude_categories=("Cs",)), max_size=24)
LINE = st.text(st.characters(exclude_categories=("Cs",), exclude_characters="\n\r"), min_size=1, max_size=24)
NAME = st.text(st.characters(exclude_categories=("Cc", "Cf", "Cs", "Zl", "Zp")), min_size=1,
               max_size=24).map(str.strip).filter(bool)  # names hold no control characters
NON_BLANK = TEXT.filter(lambda s: s.strip())
TEMPLATES = ("Q: {input}\nA: {answer}", "Review: {input}\nSentiment: {answer}", "{{literal}} {input} -> {answer}")
QUERIES = ("Q: {input}\nA:", "{input}", "Input: {input} {choices}\nOutput:")


@st.composite
def specs(draw) -> PromptSpec:
    fmt = draw(st.sampled_from(["free", "number", "yes_no", "choice", "label"]))
    labels = draw(st.lists(LINE, min_size=1, max_size=3)) if fmt == "label" else draw(st.lists(LINE, max_size=2))
    return PromptSpec(
        instruction=draw(TEXT), demo_template=draw(st.sampled_from(TEMPLATES)),
        query_template=draw(st.sampled_from(QUERIES)), separator=draw(TEXT), answer_prefix=draw(TEXT),
        reasoning=draw(st.sampled_from([NONE.name, ZERO_SHOT_COT.name])), cot_trigger=draw(NON_BLANK),
        answer_format=fmt, answer_trigger=draw(st.none() | TEXT), labels=tuple(labels),
        chat_layout=draw(st.sampled_from(["turns", "inline"])), system=draw(TEXT),
        stop=tuple(draw(st.lists(LINE, max_size=3))),
    )


@st.composite
def decodings(draw) -> DecodingConfig:
    common = {"max_new_tokens": draw(st.integers(1, 4096)), "seed": draw(st.none() | st.integers(0, 2**31)),
              "stop": tuple(draw(st.lists(LINE, max_size=2))), "top_k": draw(st.integers(0, 100)),
              "repetition_penalty": draw(st.floats(0.01, 3)), "min_p": draw(st.floats(0, 0.99))}
    if draw(st.booleans()):
        return DecodingConfig(**common)
    return DecodingConfig(do_sample=True, temperature=draw(st.floats(0.01, 5)), top_p=draw(st.floats(0.01, 1)),
                          typical_p=draw(st.floats(0.01, 1)), n=draw(st.integers(1, 8)), **common)


CHOICES = st.none() | st.dictionaries(LINE, TEXT, max_size=3)
examples = st.builds(Example, id=TEXT, input=TEXT, answer=TEXT, rationale=st.none() | TEXT,
                     label=st.none() | TEXT, choices=CHOICES)
selectors = st.builds(SelectorSpec, name=st.sampled_from(list(SELECTORS)), k=st.integers(0, 64),
                      pool=st.sampled_from(list(sample_pools())), order=st.sampled_from(list(ORDERS)),
                      seed=st.integers(0, 10**6), mmr_lambda=st.floats(0, 1),
                      indices=st.lists(st.integers(0, 100), max_size=3).map(tuple))


@st.composite
def steps(draw) -> Step:
    select = draw(st.none() | selectors)
    demos = () if select is not None else tuple(draw(st.lists(examples, max_size=3)))
    return Step(title=draw(NON_BLANK.filter(bool)), spec=draw(specs()), demos=demos, select=select,
                   decoding=draw(decodings()), model=draw(st.sampled_from(["", "gemma-3-270m", "/models/x.gguf"])),
                   notes=draw(TEXT), checks=draw(ASSERT_LISTS), threshold=draw(THRESHOLDS))


#: Assertion lists as files write them (promptfoo's form), and pass thresholds.
ASSERT_LISTS = st.sampled_from([(), ({"type": "icontains", "value": "Paris", "weight": 2},),
                                ({"type": "not-equals", "value": "x"}, {"type": "exact", "metric": "gold"})])
THRESHOLDS = st.none() | st.floats(0, 1)


prompt_sets = st.builds(
    PromptSet, name=NAME, steps=st.lists(steps(), min_size=1, max_size=3).map(tuple), description=TEXT,
    notes=TEXT, tags=st.lists(LINE, max_size=3).map(tuple),
    tests=st.lists(st.builds(TestCase, input=TEXT.filter(bool), expected=st.none() | TEXT, choices=CHOICES,
                             checks=ASSERT_LISTS, threshold=THRESHOLDS),
                   max_size=3).map(tuple),
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(prompt_sets)
def test_export_import_export_is_byte_identical(pset):
    for fmt in FORMATS:
        text = dumps(pset, fmt)
        again = loads(text, fmt, source=f"set.{fmt}")
        assert again == pset
        assert dumps(again, fmt) == text


def test_yaml_export_is_plain_data():
    pset = classroom_sets()["zero_vs_few_shot"]
    assert yaml.safe_load(to_yaml(pset)) == pset.to_dict()
    assert "!!" not in to_yaml(pset)


# ---- JSONL and CSV exports --------------------------------------------------------------------


def tiny_set(**spec) -> PromptSet:
    step = Step(title="t", spec=PromptSpec(instruction="Add.", **spec), demos=(Example("d", "1+1", "2"),))
    return PromptSet(name="adder", steps=(step,), tests=(TestCase("2+2", "4"), TestCase("3+3")))


def test_jsonl_raw_prompts_are_exact():
    lines = render_jsonl(tiny_set()).splitlines()
    assert [json.loads(x) for x in lines] == [
        {"prompt": "Add.\n\nQ: 1+1\nA: 2\n\nQ: 2+2\nA:"},
        {"prompt": "Add.\n\nQ: 1+1\nA: 2\n\nQ: 3+3\nA:"},
    ]


def test_jsonl_chat_messages_and_prefill():
    pset = tiny_set(reasoning=ZERO_SHOT_COT.name, system="Be brief.")
    first = json.loads(render_jsonl(pset, shape="chat").splitlines()[0])
    assert first == {"messages": [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Add.\n\nQ: 1+1\nA:"},  # a demo's user turn is the query template
        {"role": "assistant", "content": "2"},
        {"role": "user", "content": "Q: 2+2\nA:"},
        {"role": "assistant", "content": "Let's think step by step."},
    ]}


def test_jsonl_meta_and_given_inputs():
    line = render_jsonl(tiny_set(), [TestCase("5+5", "10")], meta=True)
    row = json.loads(line)
    assert row["prompt"].endswith("Q: 5+5\nA:")
    assert row["meta"] == {"set": "adder", "step": 0, "title": "t", "input": "5+5", "expected": "10", "model": "",
                           "decoding": DecodingConfig().to_dict()}
    with pytest.raises(DataError, match="Unknown JSONL shape 'xml'"):
        render_jsonl(tiny_set(), shape="xml")
    with pytest.raises(DataError, match="has no test inputs"):
        render_jsonl(PromptSet(name="e", steps=(Step("t"),)))


# ---- library ----------------------------------------------------------------------------------


@pytest.fixture
def store():
    s = open_store(":memory:")
    yield s
    s.close()


def test_import_never_overwrites_and_suggests_a_free_name(store):
    pset = tiny_set()
    assert import_set(store, pset) == "adder"
    with pytest.raises(DataError) as err:
        import_set(store, pset)
    assert str(err.value) == ("A prompt set named 'adder' already exists; import it as 'adder (2)' or choose "
                              "another name.")
    assert import_set(store, pset, "adder (2)") == "adder (2)"
    assert free_name(store, "adder") == "adder (3)"
    assert free_name(store, "adder (2)") == "adder (3)"
    assert free_name(store, "other") == "other"
    assert [v.version for v in store.versions("adder")] == [1]


def test_save_versions_diff_and_restore(store):
    pset = tiny_set()
    assert save(store, pset) == 1
    assert save(store, dataclasses_replace(pset, notes="now with notes")) == 2
    diff = diff_versions(store, "adder", 1, 2)
    assert diff.splitlines()[:2] == ["--- adder v1", "+++ adder v2"]
    assert "-notes: ''" in diff and "+notes: now with notes" in diff
    assert diff_versions(store, "adder", 2, 2) == ""
    assert store.restore("adder", 1) == 3
    assert get(store, "adder") == (pset, 3)


def test_renamed_and_duplicated_sets_carry_the_library_name(store):
    save(store, tiny_set(), new=True)
    store.rename("adder", "sums")
    assert get(store, "SUMS")[0].name == "sums"
    store.duplicate("sums", "sums copy")
    copy, version = get(store, "sums copy")
    assert (copy.name, version, copy.steps) == ("sums copy", 1, tiny_set().steps)
    store.delete("sums copy")
    assert [s.name for s in store.list_sets()] == ["sums"]
    store.undelete("sums copy")
    assert [s.name for s in store.list_sets("copy")] == ["sums copy"]


def test_free_names_fit_the_name_limit(store):
    long = "x" * 120
    save(store, tiny_set().renamed(long))
    assert free_name(store, long) == "x" * 116 + " (2)"
    assert free_name(store, long + " too long") == "x" * 116 + " (2)"
    assert import_set(store, tiny_set(), long, rename=True) == "x" * 116 + " (2)"


def test_import_with_rename_takes_the_next_free_name(store):
    assert import_set(store, tiny_set(), rename=True) == "adder"
    assert import_set(store, tiny_set(), rename=True) == "adder (2)"
    assert import_set(store, tiny_set(), "ADDER", rename=True) == "ADDER (3)"  # names compare case-blind
    assert get(store, "adder (2)")[0] == tiny_set().renamed("adder (2)")
    assert [v.version for v in store.versions("adder")] == [1]  # the first import was never touched


def test_find_set_by_library_name_classroom_key_title_or_file(store, tmp_path):
    save(store, tiny_set())
    save(store, dataclasses_replace(tiny_set(), notes="v2"))
    assert find_set(store, "adder") == (dataclasses_replace(tiny_set(), notes="v2"), "library, version 2")
    assert find_set(store, "adder", 1) == (tiny_set(), "library, version 1")
    assert find_set(store, "demo_order")[1] == "classroom set demo_order"
    assert find_set(store, "effect of DEMONSTRATION order")[0] == CLASSROOM["demo_order"]
    path = tmp_path / "mine.json"
    path.write_text(to_json(tiny_set()), encoding="utf-8")
    assert find_set(store, str(path)) == (tiny_set(), "file mine.json")
    with pytest.raises(DataError, match=r"^No prompt set named 'nope' in the library or the classroom sets"):
        find_set(store, "nope")
    with pytest.raises(DataError, match="versions belong to saved sets"):
        find_set(store, "demo_order", 2)
    with pytest.raises(DataError, match="has no version 9"):
        find_set(store, "adder", 9)


def test_library_entries_search_classroom_and_saved_sets_by_name_or_tag(store):
    save(store, dataclasses_replace(tiny_set(), tags=("maths",)), note="first")
    rows = library_entries(store)
    assert [r["ref"] for r in rows] == [*CLASSROOM, "adder"]
    assert rows[-1] == {"source": "library", "ref": "adder", "name": "adder", "version": 1, "tags": ["maths"],
                        "description": "first", "deleted": False}
    assert [r["ref"] for r in library_entries(store, "MATHS")] == ["adder"]
    assert [r["ref"] for r in library_entries(store, "self-consistency")] == ["self_consistency"]
    assert [r["ref"] for r in library_entries(store, "retrieval")] == ["nearest_vs_random"]  # a tag


def test_capped_lowers_only_larger_budgets():
    pset = capped(CLASSROOM["zero_shot_cot_vs_manual_cot"], 8)
    assert [s.decoding.max_new_tokens for s in pset.steps] == [8, 8, 8]
    assert capped(pset, 100) == pset
    with pytest.raises(DataError, match="at least 1"):
        capped(pset, 0)


def test_descriptions_of_steps():
    order, sc = CLASSROOM["nearest_vs_random"].steps[1], CLASSROOM["self_consistency"].steps[1]
    assert describe_demos(order) == "4 demonstrations by knn from the trec_questions pool, order similar_last"
    assert describe_demos(Step("t")) == "zero-shot (no demonstrations)"
    assert describe_decoding(sc.decoding) == "sampled, temperature 0.7, top_k 40, n 7, max_new_tokens 64, seed 0"
    assert describe_decoding(DecodingConfig(max_new_tokens=4)) == "greedy, max_new_tokens 4"


def dataclasses_replace(pset, **changes):
    import dataclasses

    return dataclasses.replace(pset, **changes)


# ---- classroom sets: load, render with the default models, run one ------------------------------

CLASSROOM = classroom_sets()


@pytest.fixture(scope="module")
def indexes():
    return default_index_factory()


def test_at_least_six_classroom_sets_each_with_an_explanation():
    assert len(CLASSROOM) >= 6
    for key, pset in CLASSROOM.items():
        assert "classroom" in pset.tags, key
        assert len(pset.notes) > 200 and pset.description, key
        assert pset.tests, key
        assert all(step.notes and step.model for step in pset.steps), key
    topics = " ".join(p.name.lower() for p in CLASSROOM.values())
    for topic in ("zero-shot vs few-shot", "order", "nearest vs random", "temperature and top-p",
                  "zero-shot-cot vs manual-cot", "self-consistency"):
        assert topic in topics


@pytest.mark.parametrize("key", sorted(CLASSROOM))
def test_every_classroom_set_renders_with_its_default_model(key, indexes):
    pset = CLASSROOM[key]
    assert loads(to_yaml(pset)) == pset
    for step in pset.steps:
        backend = real_backend(step.model)
        for i, case in enumerate(pset.tests):
            demos, scores = step_demos(step, case.query(), indexes)
            rendered = render(step.spec, demos, case.query(), backend)
            assert case.input in rendered.text
            assert 0 < rendered.tokens + step.decoding.max_new_tokens < backend.context_window
            if step.select is not None:
                assert len(demos) == step.select.k and len(scores) == step.select.k, (key, i)
                assert all(d.input != case.input for d in demos)


@pytest.mark.parametrize("key", sorted(CLASSROOM))
def test_every_classroom_set_runs_on_its_default_models(key, indexes):
    pset = capped(CLASSROOM[key], 2)  # two new tokens per call: it runs, quickly
    seen = []
    results = run_set(pset, real_backend, pset.tests[:1], indexes=indexes,
                         progress=lambda done, total: seen.append((done, total)))
    n = len(pset.steps)
    assert seen == [(i, n) for i in range(1, n + 1)]
    assert [(r.step, r.model) for r in results] == [(i, s.model) for i, s in enumerate(pset.steps)]
    for r, step in zip(results, pset.steps, strict=True):
        assert len(r.runs) == step.decoding.n
        assert pset.tests[0].input in r.runs[0].rendered.text
        assert all(0 < stage.generation.completion_tokens <= 2 for run in r.runs for stage in run.stages)
        assert (r.correct is None) == (pset.tests[0].expected is None)
    header, *rows = results_csv(results).splitlines()
    assert header.startswith("step,title,model,input") and len(rows) == n


def test_nearest_step_shows_more_demos_of_the_right_type_than_random(indexes):
    pset = CLASSROOM["nearest_vs_random"]
    random_step, nearest_step = pset.steps
    hits = {"random": 0, "nearest": 0}
    for case in pset.tests:
        for name, step in (("random", random_step), ("nearest", nearest_step)):
            demos, _ = step_demos(step, case.input, indexes)
            hits[name] += sum(d.answer == case.expected for d in demos)
    assert hits["nearest"] > hits["random"]


def test_a_classroom_step_runs_briefly_and_csv_lists_it(gemma):
    pset = CLASSROOM["zero_vs_few_shot"]
    few_shot = pset.steps[1]
    result = run_step(few_shot, pset.tests[0], gemma, index=1)
    assert result.answer == "positive" and result.correct is True
    assert result.runs[0].rendered.text.count("Sentiment:") == 7
    csv_text = results_csv([result])
    header, row = csv_text.splitlines()
    assert header == "step,title,model,input,expected,answer,correct,samples,seconds,output,score,checks"
    assert row.startswith("2,Few-shot (6 demonstrations),gemma-3-270m,\"The jokes land, the songs are catchy, and I "
                          "left the cinema smiling.\",positive,positive,True,1,")


def test_self_consistency_votes_over_samples(gemma):
    step = CLASSROOM["self_consistency"].steps[1]
    step = dataclasses_replace(step, decoding=step.decoding.replace(n=3, max_new_tokens=12))
    seen = []
    result = run_step(step, TestCase("Ana has 3 apples and buys 2 more. How many apples does she have?", "5"),
                         gemma, runner=lambda i, name, prompt, cfg: seen.append((i, cfg.seed, cfg.n))
                         or gemma.generate([prompt], cfg)[0][0])
    assert seen == [(0, 0, 1), (1, 1, 1), (2, 2, 1)]
    assert len(result.runs) == 3 and result.vote is not None
    assert sum(count for _, count in result.vote.counts) == sum(r.answer is not None for r in result.runs)
    assert result.answer == result.vote.winner


def test_load_reports_missing_files(tmp_path):
    with pytest.raises(DataError, match=r"nothing.yaml does not exist; give a prompt-set .yaml or .json file."):
        load(tmp_path / "nothing.yaml")
    with pytest.raises(DataError, match="is a folder"):
        load(tmp_path)


def test_shipped_files_are_under_the_byte_limit():
    for path in Path(CLASSROOM_DIR).glob("*.yaml"):
        assert path.stat().st_size < DEFAULT_LIMITS.max_bytes


@pytest.mark.parametrize("name", ["esc\x1b]0;pwned\x07", "nul\x00", "line\u2028sep", "bidi\u202eexe"])
def test_set_names_with_control_characters_are_refused_at_load(name):
    message = refused({**MINIMAL, "name": name})
    assert message.startswith("set.yaml: name: prompt set names may not hold control characters (found U+")
    assert all(c.isprintable() for c in message)


@pytest.mark.parametrize(("text", "source"), [
    ('{"schema_version": 1, "name": "a\\ud800", "steps": [{"title": "t"}]}', "s.json"),
    ('{"schema_version": 1, "name": "a", "notes": "\\udc00", "steps": [{"title": "t"}]}', "s.json"),
])
def test_lone_surrogates_are_refused_at_load(text, source):
    assert "a lone surrogate \\u" in refused_text(text, source=source)


# ---- assertions in prompt sets (#26): validated on import, exported unchanged, judging Library runs -------------

ASSERTING = {
    "schema_version": 1, "name": "asserting",
    "steps": [{"title": "only", "spec": {"query_template": "Q: {input}\nA:"},
               "assert": [{"type": "icontains", "value": "paris", "weight": 2},
                          {"type": "not-contains", "value": "Rome", "metric": "no rome"}],
               "threshold": 0.5}],
    "tests": [{"input": "Capital of France?", "expected": "Paris",
               "assert": [{"type": "contains", "value": "France"}], "threshold": 1}],
}


def test_assertions_and_thresholds_are_read_and_exported_unchanged():
    pset = from_dict(ASSERTING)
    step, case = pset.steps[0], pset.tests[0]
    assert step.checks == ({"type": "icontains", "value": "paris", "weight": 2},
                           {"type": "not-contains", "value": "Rome", "metric": "no rome"})
    assert (step.threshold, case.checks, case.threshold) == (0.5, ({"type": "contains", "value": "France"},), 1.0)
    exported = pset.to_dict()
    assert exported["steps"][0]["assert"] == ASSERTING["steps"][0]["assert"]
    assert list(exported["steps"][0])[-2:] == ["assert", "threshold"]
    assert exported["tests"] == [{"input": "Capital of France?", "expected": "Paris",
                                  "assert": [{"type": "contains", "value": "France"}], "threshold": 1.0}]
    for fmt in FORMATS:
        text = dumps(pset, fmt)
        assert loads(text, fmt, source=f"set.{fmt}") == pset and dumps(loads(text, fmt), fmt) == text
    assert "assert" not in from_dict(MINIMAL).to_dict()["steps"][0]  # a set without assertions exports as before


@pytest.mark.parametrize(("where", "entry", "message"), [
    ("steps", {"type": "python", "value": "file://x.py"},
     "set.yaml: steps[0] assertion 1: Assertion type 'python' runs code from the file; the workbench never runs "
     "code from prompt or test files (they are shared and untrusted). Use a built-in type such as regex, is-json or "
     "llm-rubric."),
    ("steps", {"type": "sparkles", "value": "x"}, "set.yaml: steps[0] assertion 1: unknown assertion type 'sparkles';"),
    ("steps", {"type": "contains"}, "set.yaml: steps[0] assertion 1: assertion 'contains' needs a value."),
    ("steps", {"type": "contains", "value": "x", "transform": "output.upper()"},
     "set.yaml: steps[0] assertion 1: assertion key 'transform' runs code; the workbench never runs code from prompt "
     "or test files."),
    ("tests", {"type": "contains", "value": "x", "weight": -1},
     "set.yaml: tests[0] assertion 1: assertion 'contains': weight must be 0 or more, not -1."),
    ("tests", {"type": "contains", "value": "x", "threshold": 0.5},
     "set.yaml: tests[0] assertion 1: assertion 'contains' takes no threshold."),
])
def test_bad_assertions_are_one_line_naming_the_file_and_the_entry(where, entry, message):
    data = {**MINIMAL, "tests": [{"input": "x"}]}
    data[where] = [{**data[where][0], "assert": [entry]}]
    got = refused(data)
    assert got.startswith(message) and "\n" not in got


@pytest.mark.parametrize(("change", "message"), [
    ({"threshold": 1.5}, "set.yaml: steps[0].threshold: the pass threshold must be a number from 0 to 1, not 1.5."),
    ({"threshold": 2}, "set.yaml: steps[0].threshold: the pass threshold must be a number from 0 to 1, not 2.0."),
    ({"threshold": "high"},
     "set.yaml: steps[0].threshold: the pass threshold must be a number from 0 to 1, not 'high'."),
    ({"threshold": True}, "set.yaml: steps[0].threshold: the pass threshold must be a number from 0 to 1, not True."),
    ({"assert": "contains: Paris"}, "set.yaml: steps[0].assert: input should be a valid list."),
    ({"assert": ["contains: Paris"]}, "set.yaml: steps[0].assert[0]: input should be a valid dictionary."),
    ({"assert": [{"type": "llm-rubric", "value": "polite", "provider": "https://evil.example/v1"}]},
     "set.yaml: steps[0] assertion 1: provider must be a model registry id or local model name; a prompt set may "
     "not name a server (it would send your outputs there)."),
])
def test_bad_assert_lists_and_thresholds_are_one_line(change, message):
    assert refused(doc(**change)) == message


@pytest.mark.parametrize("written", ["yes", "true", "'1'"])
def test_a_yaml_threshold_written_yes_or_as_text_is_one_line_never_1(written):
    shown = "'1'" if written == "'1'" else "True"
    text = f"schema_version: 1\nname: s\nsteps:\n- title: t\ntests:\n- input: x\n  threshold: {written}\n"
    with pytest.raises(DataError) as err:
        loads(text, "yaml", "set.yaml")
    assert str(err.value) == f"set.yaml: tests[0].threshold: the pass threshold must be a number from 0 to 1, not {shown}."
    with pytest.raises(DataError) as err:
        loads(text.replace("tests:\n- input: x\n", f"  threshold: {written}\ntests:\n- input: x\n"), "yaml", "set.yaml")
    assert str(err.value) == f"set.yaml: steps[0].threshold: the pass threshold must be a number from 0 to 1, not {shown}."


def test_assertions_travel_through_the_library(store):
    pset = from_dict(ASSERTING)
    name = import_set(store, loads(to_yaml(pset), source="shared.yaml"))
    again, version = get(store, name)
    assert (again, version) == (pset, 1)
    assert to_yaml(again) == to_yaml(pset)


def fake_answers(mapping):
    from tests.fakes import FakeBackend

    return FakeBackend(reply=lambda prompt, seed: next(v for k, v in mapping.items() if k in prompt))


def test_a_library_run_is_judged_by_the_step_and_input_checks():
    pset = from_dict(ASSERTING)
    backend = fake_answers({"France": " Paris, in France", "Italy": " Rome, not Paris"})
    inputs = (pset.tests[0], TestCase("Capital of Italy?", "Rome"))
    first, second = run_set(pset, lambda model: backend, inputs)
    # input 1: icontains paris (w 2) + not-contains Rome + its own contains France, its own threshold 1
    assert [(v.type, v.passed, v.score) for v in first.checks] == [
        ("icontains", True, 1.0), ("not-contains", True, 1.0), ("contains", True, 1.0)]
    assert (first.correct, first.score) == (True, 1.0)
    # input 2: no checks of its own; the step's threshold 0.5 on (1*2 + 0*1) / 3
    assert [(v.type, v.passed) for v in second.checks] == [("icontains", True), ("not-contains", False)]
    assert (second.correct, second.score) == (True, 0.666667)
    assert second.checks[1].reason == "not: contains 'Rome'"
    header, row1, row2 = results_csv([first, second]).splitlines()
    assert header.endswith(",output,score,checks")
    assert row1.endswith(',1.0,"icontains pass 1; not-contains pass 1; contains pass 1"')
    assert row2.endswith(',0.666667,"icontains pass 1; not-contains fail 0 (not: contains \'Rome\')"')


def test_without_checks_the_expected_answer_decides_and_score_stays_empty():
    pset = from_dict({**MINIMAL, "tests": [{"input": "Capital of France?", "expected": "Paris"}]})
    (result,) = run_set(pset, lambda model: fake_answers({"France": " Paris"}))
    assert (result.correct, result.score, result.checks) == (True, None, ())
    assert results_csv([result]).splitlines()[1].endswith(", Paris,,")


def test_a_failing_check_fails_the_input_whatever_the_expected_answer():
    pset = from_dict({**MINIMAL, "steps": [{"title": "only", "assert": [{"type": "contains", "value": "Lyon"}]}],
                      "tests": [{"input": "Capital of France?", "expected": "Paris"}]})
    (result,) = run_set(pset, lambda model: fake_answers({"France": " Paris"}))
    assert (result.correct, result.score) == (False, 0.0)
    assert result.checks[0].reason == "does not contain 'Lyon'"


def test_bad_checks_in_a_set_built_in_code_are_refused_before_any_model_call():
    backend = fake_answers({"": " x"})
    pset = PromptSet(name="p", steps=(Step(title="s", checks=({"type": "regexx", "value": "a"},)),),
                     tests=(TestCase("hi"),))
    with pytest.raises(Exception, match=r"^step 's' assertion 1: unknown assertion type 'regexx'"):
        run_set(pset, lambda model: backend)
    assert backend.prompts == []


def test_run_step_with_several_samples_is_judged_too():
    from tests.fakes import FakeBackend

    backend = FakeBackend(reply=lambda prompt, seed: " Paris" if seed % 2 == 0 else " Lyon")
    step = Step(title="sc", decoding=DecodingConfig(do_sample=True, n=3, max_new_tokens=4),
                checks=({"type": "icontains", "value": "PARIS"},))
    result = run_step(step, TestCase("Capital of France?"), backend)
    assert (result.answer, result.output, result.correct, result.score) == ("paris", " Paris", True, 1.0)


def test_a_model_graded_step_asks_the_sets_judge_and_a_checks_own_provider():
    from tests.fakes import FakeBackend
    from workbench.judging.tools import DEFAULT_JUDGE as JUDGE_MODEL

    model = fake_answers({"France": " Paris"})
    judges = {JUDGE_MODEL: FakeBackend(reply=lambda p, s: ' {"pass": true, "score": 1.0, "reason": "names Paris"}'),
              "strict-judge": FakeBackend(reply=lambda p, s: ' {"pass": false, "score": 0.0, "reason": "too short"}')}
    loaded = []

    def backends(name):
        loaded.append(name)
        return judges.get(name, model)

    rubric = {"type": "llm-rubric", "value": "names the capital"}
    pset = from_dict({**MINIMAL, "steps": [{"title": "graded", "assert": [rubric, {**rubric, "provider": "strict-judge"}]}],
                      "tests": [{"input": "Capital of France?"}]})
    (result,) = run_set(pset, backends, default_model="m")
    assert [(v.passed, v.reason) for v in result.checks] == [(True, "names Paris"), (False, "too short")]
    assert result.correct is False and result.score == 0.5
    assert loaded == ["m", JUDGE_MODEL, "strict-judge"]  # each judge loaded on first use, through the set's factory
    assert all("Paris" in p for j in judges.values() for p in j.prompts)


def test_a_model_graded_step_run_without_a_judge_is_one_line_before_the_model():
    pset = from_dict({**MINIMAL, "steps": [{"title": "graded", "assert": [{"type": "llm-rubric", "value": "polite"}]}]})
    model = fake_answers({"": " hi"})
    with pytest.raises(DataError) as err:
        run_steps(pset.steps[0], [TestCase("Say hi")], model)
    assert str(err.value) == ("Step 'graded' has a model-graded check (llm-rubric, ...) and no judge model was given; "
                              "run it with a judge model.")
    assert model.prompts == []
