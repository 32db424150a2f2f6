"""Prompt templates with {{ variables }} in the one Jinja sandbox: Nunjucks-like rendering (blocks kept, filters,
loops over messages, ``dump``), an unknown variable and every unsafe or unbounded template one PromptError line; and
a PromptSpec in the "jinja" syntax renders an item's own variables."""

from __future__ import annotations

import pytest

from workbench import sandbox
from workbench.data import Example
from workbench.errors import PromptError
from workbench.prompts import PromptSpec
from workbench.prompts.rendering import render
from workbench.sandbox import render_text, variables


@pytest.mark.parametrize(("template", "values", "expected"), [
    ("{{ a }} and {{ b }}", {"a": "x", "b": "y"}, "x and y"),
    ("{{ name | upper }}|{{ ' pad ' | trim }}|{{ items | join(', ') }}", {"name": "ada", "items": ["a", "b"]},
     "ADA|pad|a, b"),
    ("{% for m in messages %}{{ m.role }}: {{ m.content }}\n{% endfor %}",
     {"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"}]}, "user: hi\nassistant: yo\n"),
    ("{% if x %}\nyes\n{% endif %}\n", {"x": True}, "\nyes\n\n"),  # blocks keep their newlines, as Nunjucks does
    ("{{ obj | dump }}", {"obj": {"a": [1, "é"]}}, '{"a":[1,"é"]}'),  # JSON.stringify's layout
    ("no variables {{ '{{' }}", {}, "no variables {{"),
])
def test_prompt_templates_render_as_nunjucks_does(template, values, expected):
    assert render_text(template, values) == expected


def test_variables_are_the_ones_read_from_outside():
    assert variables("{% set x = 1 %}{{ x }}{{ y }}{% for m in ms %}{{ m }}{{ z }}{% endfor %}") == ("ms", "y", "z")


@pytest.mark.parametrize(("template", "message"), [
    ("{{ ''.__class__ }}", r"^The template tried an unsafe operation: access to attribute '__class__' of 'str' "
                           r"object is unsafe\.$"),
    ("{{ cycler.__init__.__globals__ }}", r"^The template tried an unsafe operation"),
    ("{{ x.upper.__self__ }}", r"^The template tried an unsafe operation"),
    ("{{ missing }}", r"^The template uses a value it was not given: 'missing' is undefined\.$"),
    ("{{ x ", r"^The template does not parse: unexpected end of template"),
    ("{% for i in range(10**7) %}{% for j in range(10**7) %}{% endfor %}{% endfor %}", r"reached a limit"),
    ("{{ 'x' * 100000000 }}", r"reached a limit: a repeated sequence"),
    ("{% include 'other.txt' %}", r"^The template "),
])
def test_unsafe_or_unbounded_templates_are_one_line(template, message, monkeypatch):
    monkeypatch.setattr(sandbox, "MAX_RENDER_S", 0.5)
    with pytest.raises(PromptError, match=message):
        render_text(template, {"x": "v"})


def test_a_jinja_spec_renders_each_items_vars_and_keeps_braces_specs_as_they_were():
    spec = PromptSpec(syntax="jinja", query_template="Translate {{ text }} into {{ lang }}.", answer_format="free")
    item = Example("1", "hello", "bonjour", vars={"text": "hello", "lang": "French"})
    assert render(spec, [], item).text == "Translate hello into French."
    assert spec.to_dict()["syntax"] == "jinja" and "syntax" not in PromptSpec().to_dict()
    assert PromptSpec.from_dict(spec.to_dict()) == spec
    assert render(PromptSpec(), [], item).text == "Q: hello\nA:"  # braces: {input}; {{ }} would be literal


@pytest.mark.parametrize(("changes", "message"), [
    ({"syntax": "mustache"}, r"^Unknown template syntax 'mustache'; choose one of braces, jinja\.$"),
    ({"syntax": "jinja", "query_template": "{% for %}"}, r"^The query template does not parse"),
    ({"syntax": "jinja", "demo_template": "{{ a }"}, r"^The demonstration template does not parse"),
])
def test_a_bad_syntax_or_template_fails_when_the_spec_is_made(changes, message):
    with pytest.raises(PromptError, match=message):
        PromptSpec(**changes)
