"""Safe templates: {name} placeholders only; hostile templates are refused or stay literal text."""

from __future__ import annotations

import pytest

from workbench.errors import PromptError
from workbench.templates import check, fill, placeholders

VALUES = {"input": "2 + 2", "answer": "4"}


def test_fill_plain_names():
    assert fill("Q: {input}\nA: {answer}", VALUES) == "Q: 2 + 2\nA: 4"


def test_double_braces_are_literal_braces():
    assert fill("{{input}} = {input}; {{}}", VALUES) == "{input} = 2 + 2; {}"


def test_values_are_not_substituted_again():
    assert fill("{input}|{answer}", {"input": "{answer}", "answer": "{0.__class__}"}) == "{answer}|{0.__class__}"


def test_placeholders_in_order_of_first_use():
    assert placeholders("{answer} {input} {answer} {{x}}") == ("answer", "input")


@pytest.mark.parametrize(
    "template",
    [
        "{0.__class__}",
        "{input.__class__}",
        "{input.__class__.__mro__}",
        "{input[0]}",
        "{input!r}",
        "{input:>10}",
        "{0}",
        "{}",
        "{ input }",
        "{input.__globals__[os]}",
    ],
)
def test_attribute_index_and_format_syntax_is_refused(template):
    with pytest.raises(PromptError) as err:
        fill(template, VALUES)
    assert "not a plain placeholder name" in str(err.value)
    assert repr(template) in str(err.value)


def test_jinja_expression_stays_literal_text():
    assert fill("{{ ''.__class__.__mro__ }}", VALUES) == "{ ''.__class__.__mro__ }"
    assert fill("{{ 7*7 }} {{x}}", VALUES) == "{ 7*7 } {x}"


def test_jinja_statements_are_refused():
    with pytest.raises(PromptError, match="not a plain placeholder name"):
        fill("{% for c in ''.__class__.__mro__ %}{{ c }}{% endfor %}", VALUES)


def test_other_template_syntaxes_stay_literal():
    assert fill("%(input)s ${input} $input", VALUES) == "%(input)s $2 + 2 $input"


@pytest.mark.parametrize(("template", "where"), [("a { b", "'{' at character 3"), ("a } b", "'}' at character 3"),
                                                 ("{input", "'{' at character 1")])
def test_lone_brace_is_an_error_with_its_position(template, where):
    with pytest.raises(PromptError, match="lone") as err:
        fill(template, VALUES)
    assert where in str(err.value)


def test_unknown_placeholder_names_it_and_the_allowed_ones():
    with pytest.raises(PromptError) as err:
        fill("{__class__}", VALUES, allowed=("input", "answer"))
    assert str(err.value) == "The template uses unknown placeholder {__class__}; allowed: {input}, {answer}."


def test_missing_value_names_the_placeholder():
    with pytest.raises(PromptError) as err:
        fill("{input} {rationale}", {"input": "x", "rationale": None}, what="CoT demonstration template")
    assert str(err.value) == "The CoT demonstration template uses {rationale} but no value was given for it."


def test_non_text_values_are_refused():
    with pytest.raises(PromptError, match="must be text"):
        fill("{input}", {"input": object()})


def test_check_returns_names_and_refuses_unknown():
    assert check("{input} {answer}", ("input", "answer", "rationale")) == ("input", "answer")
    with pytest.raises(PromptError, match=r"unknown placeholder \{label\}"):
        check("{label}", ("input",), "query template")


def test_template_must_be_text():
    with pytest.raises(PromptError, match="must be text"):
        fill(None, VALUES)
