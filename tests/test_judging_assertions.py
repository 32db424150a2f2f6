"""The text and JSON assertions (workbench.judging.assertions), with promptfoo's meaning: each kind passing and
failing, negated, weighted into an item's verdict, and every bad value refused in one line before any model
call; a catastrophic regex and a JSON bomb on one output are that item's error, not a hang."""

from __future__ import annotations

import pytest

from workbench.data import Example
from workbench.errors import ConfigError
from workbench.evaluate.records import CheckVerdict
from workbench.judging.assertions import comma_list, js_string, json_objects, strict_equal
from workbench.judging.base import Case
from workbench.judging.registry import build_check, build_checks
from workbench.judging.verdicts import combine

ITEM = Example("1", "Where is the Louvre?", "Paris")


def verdict(spec, output: str) -> CheckVerdict:
    return build_check(spec).run(Case(output=output, item=ITEM))


def outcome(spec, output: str) -> tuple[bool, float, str]:
    v = verdict(spec, output)
    assert v.error is None, v.error
    return v.passed, v.score, v.reason


def refusal(spec) -> str:
    with pytest.raises(ConfigError) as err:
        build_check(spec, "t.yaml")
    return str(err.value)


# ---- each kind, passing and failing, and its not- -------------------------------------------------------------

@pytest.mark.parametrize(("spec", "output", "expected"), [
    ("equals: Paris", "Paris", (True, 1.0, "the output equals the value")),
    ("equals: Paris", "paris", (False, 0.0, "the output differs from the value")),
    ("equals: Paris", "Paris ", (False, 0.0, "the output differs from the value")),  # exact: nothing trimmed
    ({"type": "equals", "value": 4.0}, "4", (True, 1.0, "the output equals the value")),  # JavaScript's String(4.0)
    ({"type": "equals", "value": {"city": "Paris", "n": [1, True]}}, '{"n": [1.0, true], "city": "Paris"}',
     (True, 1.0, "the output is JSON equal to the value")),
    ({"type": "equals", "value": {"n": [1]}}, '{"n": [true]}', (False, 0.0, "the output is JSON, but not equal to "
                                                                              "the value")),
    ({"type": "equals", "value": ["a"]}, "a", (False, 0.0, "the output is not JSON, so it cannot equal the value")),
    ("contains: Paris", "It is in Paris.", (True, 1.0, "contains 'Paris'")),
    ("contains: Paris", "It is in paris.", (False, 0.0, "does not contain 'Paris'")),
    ({"type": "contains", "value": 42}, "The answer is 42.", (True, 1.0, "contains '42'")),
    ("icontains: PARIS", "It is in paris.", (True, 1.0, "contains 'PARIS'")),
    ("icontains: Rome", "It is in Paris.", (False, 0.0, "does not contain 'Rome'")),
    ("contains-any: Rome, Paris", "It is in Paris.", (True, 1.0, "contains 'Paris'")),
    ("contains-any: Rome, Berlin", "It is in Paris.", (False, 0.0, "contains none of 2 values")),
    ("contains-any: rome, paris", "It is in Paris.", (False, 0.0, "contains none of 2 values")),
    ("icontains-any: rome, PARIS", "It is in Paris.", (True, 1.0, "contains 'PARIS'")),
    ("contains-all: Paris, France", "Paris, France", (True, 1.0, "contains all 2 values")),
    ("contains-all: Paris, France, Europe", "Paris, France", (False, 0.0, "misses 1 of 3: 'Europe'")),
    ("icontains-all: paris, FRANCE", "Paris, France", (True, 1.0, "contains all 2 values")),
    ("icontains-all: paris, rome", "Paris, France", (False, 0.0, "misses 1 of 2: 'rome'")),
    ({"type": "contains-all", "value": ["Paris, France", 2024]}, "Paris, France in 2024",
     (True, 1.0, "contains all 2 values")),
    ('contains-any: "Paris, France", Rome', "Paris and France", (False, 0.0, "contains none of 2 values")),
    ("starts-with: Paris", "Paris is the capital.", (True, 1.0, "starts with 'Paris'")),
    ("starts-with: Paris", "The capital is Paris.", (False, 0.0, "does not start with 'Paris'")),
    ("regex: ^\\d{4}-\\d{2}-\\d{2}$", "2024-05-01", (True, 1.0, "matches '^\\\\d{4}-\\\\d{2}-\\\\d{2}$' at 0")),
    ("regex: [Pp]aris", "It is in paris.", (True, 1.0, "matches '[Pp]aris' at 9")),  # a search, not a full match
    ("regex: ^Paris$", "It is in Paris.", (False, 0.0, "does not match '^Paris$'")),
    ("is-json", '{"city": "Paris"}', (True, 1.0, "the output is JSON")),
    ("is-json", "42", (True, 1.0, "the output is JSON")),  # any JSON value, as JSON.parse reads it
    ("is-json", '{"a": 1, "a": 2}', (True, 1.0, "the output is JSON")),  # JSON.parse keeps the last
    ("is-json", "{'city': 'Paris'}", (False, 0.0, "the output is not JSON (Expecting property name enclosed in "
                                                  "double quotes at line 1 column 2)")),
    ("is-json", "NaN", (False, 0.0, "the output is not JSON (NaN is not JSON at line 1 column 1)")),
    ("is-json", 'Here: {"city": "Paris"}', (False, 0.0, "the output is not JSON (Expecting value at line 1 "
                                                        "column 1)")),
    ("contains-json", 'Here: {"city": "Paris"} and {"n": 1}.', (True, 1.0, "the output contains 2 JSON object(s)")),
    ("contains-json", "Here: [1, 2] and {city: Paris}.", (False, 0.0, "the output contains no JSON object")),
])
def test_each_kind_passes_and_fails_as_promptfoo_says(spec, output, expected):
    assert outcome(spec, output) == expected


SCHEMA = {"type": "object", "required": ["city", "year"],
          "properties": {"city": {"type": "string"}, "year": {"type": "integer", "minimum": 1900}}}


@pytest.mark.parametrize(("kind", "value", "output", "expected"), [
    ("is-json", SCHEMA, '{"city": "Paris", "year": 2024}', (True, 1.0, "the output is JSON conforming to the schema")),
    ("is-json", SCHEMA, '{"city": "Paris", "year": 1800}',
     (False, 0.0, "the output is JSON, but breaks the schema: 1800 is less than the minimum of 1900 at year")),
    ("is-json", SCHEMA, '{"city": "Paris"}',
     (False, 0.0, "the output is JSON, but breaks the schema: 'year' is a required property")),
    # the schema as YAML text (a CSV cell, a YAML string) reads as the same schema
    ("is-json", "type: object\nrequired: [city]", '{"city": 1}', (True, 1.0, "the output is JSON conforming to the "
                                                                             "schema")),
    ("is-json", '{"type": "array"}', "{}", (False, 0.0, "the output is JSON, but breaks the schema: {} is not of "
                                                        "type 'array'")),
    ("contains-json", SCHEMA, 'First {"city": 1} then {"city": "Rome", "year": 2000}.',
     (True, 1.0, "the output contains a JSON object conforming to the schema")),
    ("contains-json", SCHEMA, 'Only {"city": "Rome"}.',
     (False, 0.0, "no JSON object in the output conforms to the schema: 'year' is a required property")),
    ("contains-json", SCHEMA, "no JSON here", (False, 0.0, "the output contains no JSON object")),
])
def test_json_kinds_with_a_schema(kind, value, output, expected):
    assert outcome({"type": kind, "value": value}, output) == expected


@pytest.mark.parametrize(("spec", "output"), [
    ("equals: Paris", "Rome"), ({"type": "equals", "value": {"a": 1}}, "not json"), ("contains: Paris", "Rome"),
    ("icontains: paris", "ROME"), ("contains-any: a, b", "xyz"), ("contains-all: a, b", "a only"),
    ("icontains-any: A, B", "xyz"), ("icontains-all: A, B", "a only"), ("starts-with: P", "Rome"),
    ("regex: \\d", "none"), ("is-json", "{bad"), ({"type": "is-json", "value": SCHEMA}, "{}"),
    ("contains-json", "none"), ({"type": "contains-json", "value": SCHEMA}, '{"city": "Rome"}'),
])
def test_not_inverts_every_kind(spec, output):
    plain = verdict(spec, output)
    negated = verdict("not-" + spec if isinstance(spec, str) else {**spec, "type": "not-" + spec["type"]}, output)
    assert (plain.passed, plain.score) == (False, 0.0)
    assert (negated.type, negated.passed, negated.score) == ("not-" + plain.type, True, 1.0)
    assert negated.reason == "not: " + plain.reason


def test_not_contains_fails_when_the_text_is_there():
    v = verdict("not-icontains: PARIS", "It is in Paris.")
    assert (v.type, v.passed, v.score, v.reason) == ("not-icontains", False, 0.0, "not: contains 'PARIS'")


# ---- weights and thresholds over one item (promptfoo's rule, through combine) ---------------------------------

def test_weights_and_a_threshold_decide_the_item():
    output = '{"city": "Paris"}'
    checks = build_checks([{"type": "is-json"}, {"type": "contains", "value": "Paris"},
                           {"type": "contains-all", "value": ["Paris", "France"], "weight": 2},
                           {"type": "regex", "value": "^\\{", "weight": 0}])
    verdicts = [c.run(Case(output=output, item=ITEM)) for c in checks]
    assert [(v.passed, v.weight) for v in verdicts] == [(True, 1.0), (True, 1.0), (False, 2.0), (True, 0.0)]
    assert combine(verdicts, None) == (False, 0.5)  # every weighted check must pass; (1 + 1 + 0) / 4
    assert combine(verdicts, 0.5) == (True, 0.5)  # a threshold: the weighted score decides
    assert combine(verdicts, 0.6) == (False, 0.5)


def test_a_weight_0_check_is_shown_but_cannot_fail_the_item():
    checks = build_checks(["contains: Paris", {"type": "starts-with", "value": "Rome", "weight": 0}])
    verdicts = [c.run(Case(output="Paris", item=ITEM)) for c in checks]
    assert [v.passed for v in verdicts] == [True, False]
    assert combine(verdicts, None) == (True, 1.0)


# ---- values as promptfoo reads them ---------------------------------------------------------------------------

def test_comma_lists_follow_promptfoos_parser():
    assert comma_list("a, b ,c") == ["a", "b", "c"]
    assert comma_list(",, a,,") == ["a"]  # empty fields are skipped
    assert comma_list('"x, y", "say \\"hi\\"", "it""s"') == ["x, y", 'say "hi"', 'it"s']
    assert comma_list("") == []


def test_javascript_strings_and_strict_json_equality():
    assert [js_string(v) for v in (1, 1.5, 2.0, False, "x")] == ["1", "1.5", "2", "false", "x"]
    assert strict_equal({"a": [1, {"b": None}]}, {"a": [1.0, {"b": None}]})
    assert not strict_equal({"a": 0}, {"a": False})
    assert not strict_equal({"a": 1}, {"a": 1, "b": 2})
    assert not strict_equal([1, 2], [2, 1])
    assert not strict_equal("1", 1)


def test_json_objects_are_found_from_each_brace():
    text = 'a {"x": {"y": 1}} b {"z": [1, {"w": 2}]} {nope} {"s": "}"}'
    assert json_objects(text) == [{"x": {"y": 1}}, {"z": [1, {"w": 2}]}, {"s": "}"}]
    assert json_objects("[1, 2]") == []  # promptfoo looks for objects only


def test_values_show_in_one_line():
    assert verdict({"type": "contains-any", "value": ["a", 1]}, "a").value == "a, 1"
    assert verdict({"type": "is-json", "value": {"type": "object"}}, "{}").value == '{"type": "object"}'
    assert verdict({"type": "equals", "value": {"a": 1}}, "{}").value == '{"a": 1}'


# ---- bad values: one line before any model call ---------------------------------------------------------------

@pytest.mark.parametrize(("spec", "line"), [
    ({"type": "regex", "value": "(unclosed"},
     "t.yaml: assertion 'regex': the regex '(unclosed' does not compile: missing ) at position 9."),
    ({"type": "regex", "value": 5}, "t.yaml: assertion 'regex': the value must be text, not int."),
    ({"type": "is-json", "value": {"type": "objekt"}},
     "t.yaml: assertion 'is-json': the JSON Schema is invalid at type: 'objekt' is not valid under any of the given "
     "schemas."),
    ({"type": "contains-json", "value": {"properties": {"a": {"minLength": -1}}}},
     "t.yaml: assertion 'contains-json': the JSON Schema is invalid at properties/a/minLength: -1 is less than the "
     "minimum of 0."),
    ({"type": "is-json", "value": "type: [object"},
     "t.yaml: assertion 'is-json': the JSON Schema line 2: not valid YAML (did not find expected ',' or ']')."),
    ({"type": "is-json", "value": 5}, "t.yaml: assertion 'is-json': the value must be a JSON Schema (an object), "
                                      "not int."),
    ({"type": "is-json", "value": "file://schema.json"},
     "t.yaml: assertion 'is-json': 'file://schema.json': values are not read from files (file://); write the value "
     "inline."),
    ({"type": "contains"}, "t.yaml: assertion 'contains' needs a value."),
    ({"type": "not-starts-with", "value": ""}, "t.yaml: assertion 'not-starts-with' needs a value."),
    ({"type": "contains", "value": True}, "t.yaml: assertion 'contains': the value must be text or a number, not "
                                          "bool."),
    ({"type": "contains-any", "value": '"a, b'},
     "t.yaml: assertion 'contains-any': the list '\"a, b' has a quoted field that never ends."),
    ({"type": "contains-all", "value": '"a" b'},
     "t.yaml: assertion 'contains-all': the list '\"a\" b' needs a comma after a quoted field."),
    ({"type": "icontains-any", "value": " , ,"}, "t.yaml: assertion 'icontains-any': the list has no entries."),
    ({"type": "icontains-all", "value": [{"a": 1}]},
     "t.yaml: assertion 'icontains-all': every entry of the list must be text or a number, not dict."),
    ({"type": "contains-any", "value": 3}, "t.yaml: assertion 'contains-any': the value must be a list or "
                                           "comma-separated text, not int."),
    ({"type": "is-json", "value": {"type": "object"}, "threshold": 0.5},
     "t.yaml: assertion 'is-json' takes no threshold."),
])
def test_bad_values_are_one_line(spec, line):
    assert refusal(spec) == line


# ---- bounded at run time: that item's error, the run goes on ------------------------------------------------

def test_a_catastrophic_regex_is_that_items_error():
    v = verdict("regex: (a+)+$", "a" * 5000 + "!")
    assert (v.passed, v.score, v.reason) == (False, 0.0, "could not judge")
    assert v.error == ("the regex '(a+)+$' took over 1 s on this output (catastrophic backtracking); simplify the "
                       "pattern.")
    negated = verdict("not-regex: (a+)+$", "a" * 5000 + "!")
    assert (negated.passed, negated.error is not None) == (False, True)  # an error is never inverted into a pass


def test_a_catastrophic_pattern_inside_a_json_schema_is_that_items_error():
    schema = {"type": "object", "properties": {"s": {"type": "string", "pattern": "(a+)+$"}}}
    v = verdict({"type": "is-json", "value": schema}, '{"s": "' + "a" * 5000 + '!"}')
    assert v.error == ("the regex '(a+)+$' took over 1 s on this output (catastrophic backtracking); simplify the "
                       "pattern.")
    assert verdict({"type": "is-json", "value": schema}, '{"s": "aaa"}').passed


@pytest.mark.parametrize(("spec", "output", "error"), [
    ("is-json", "[" * 100_000, "the output's JSON: nested deeper than 100 levels (limit max_depth)."),
    ("is-json", "[" * 150 + "]" * 150, "the output's JSON: nested deeper than 100 levels (limit max_depth)."),
    ("is-json", "1" * 5000, "the output's JSON: a number has thousands of digits; write a sensible value."),
    ("contains-json", '{"a": [' * 50_000, "the output's JSON: nested deeper than 100 levels (limit max_depth)."),
    ({"type": "equals", "value": {"a": 1}}, '{"a": ' * 1000, "the output's JSON: nested deeper than 100 levels "
                                                             "(limit max_depth)."),
])
def test_a_json_bomb_is_that_items_error(spec, output, error):
    v = verdict(spec, output)
    assert (v.passed, v.score, v.error) == (False, 0.0, error)


def test_a_search_for_json_in_a_tangled_output_returns():
    v = verdict("contains-json", 'x {"a": [' * 50_000)  # 22,000 starts that each fail
    assert v.passed is False  # it returned: found nothing, or ran out of time (an error)
    big = '{"a": "' + "x" * 20_000 + '"}'  # an object longer than the first window is still found
    assert verdict("contains-json", "say " + big + " {").reason == "the output contains 1 JSON object(s)"
