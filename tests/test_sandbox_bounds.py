"""The sandbox's size bound holds inside each operation that can build a big value (``~``, ``+``, ``replace``,
``join``, ``sum``, ``format``, paddings, ``indent``, ``wordwrap``, ``tojson``, ``lipsum``, captured blocks): each is
sized BEFORE it runs, so one C call cannot outrun the time and memory bounds, and each is one PromptError line.
The bound is made small here, so every attack is refused in milliseconds."""

from __future__ import annotations

import time

import pytest

from workbench import sandbox
from workbench.chat import render_chat_template
from workbench.errors import PromptError
from workbench.sandbox import render_text

LIMIT = "The template reached a limit: a value over 1,000 characters."

ATTACKS = {
    "replace filter": "{% set s = 'x' * 50 %}{{ s | replace('x', 'y' * 100) | length }}",
    "str.replace": "{% set s = 'x' * 50 %}{{ s.replace('x', 'y' * 100) | length }}",
    "replace of the empty string": "{{ ('x' * 50).replace('', 'y' * 30) }}",
    "repeated ~": "{% set s = 'x' * 300 %}{% set s = s ~ s %}{% set s = s ~ s %}{{ s | length }}",
    "~ of a given value": "{{ big ~ big }}",
    "+ on strings": "{% set s = 'x' * 600 %}{{ (s + s) | length }}",
    "+ on lists": "{% set l = [1] * 600 %}{{ (l + l) | length }}",
    "join of repeated references": "{% set l = ['x' * 100] * 5 %}{{ l | join('-' * 200) | length }}",
    "str.join": "{% set l = ['x' * 100] * 5 %}{{ ('-' * 200).join(l) | length }}",
    "join of a generator": "{{ range(600) | map('string') | join('--') | length }}",
    "sum of lists": "{% set l = [[1] * 90] * 9 %}{{ l | sum(start=[0] * 300) | length }}",
    "format filter fields": "{{ ('%500s' * 3) | format(1, 2, 3) }}",
    "% fields": "{{ '%500s%500s%500s' % (1, 2, 3) }}",
    "str.format fields": "{{ '{:>500}{:>500}{:>500}'.format(1, 2, 3) }}",
    "str.format nested width": "{{ '{:{}}'.format('x', 5000) }}",
    "str.format_map": "{{ '{a:>600}{a:>600}'.format_map({'a': 1}) }}",
    "center width": "{{ 'x' | center(5000) }}",
    "ljust width": "{{ 'x'.ljust(5000) }}",
    "indent of many lines": "{{ ('a\\n' * 100) | indent(20) }}",
    "indent by a string": "{{ ('a\\n' * 100) | indent('y' * 20) }}",
    "wordwrap string": "{{ ('ab ' * 100) | wordwrap(2, wrapstring='z' * 50) }}",
    "expandtabs": "{{ ('\\t' * 10).expandtabs(500) }}",
    "tojson indent": "{{ (range(200) | list) | tojson(indent=40) }}",
    "captured block": "{% set s %}{% for i in range(400) %}{{ 'xyz' }}{% endfor %}{% endset %}{{ s | length }}",
    "lipsum": "{{ lipsum(50) }}",
}


@pytest.fixture(autouse=True)
def small_bound(monkeypatch):
    monkeypatch.setattr(sandbox, "MAX_OUTPUT_CHARS", 1_000)


@pytest.mark.parametrize("name", list(ATTACKS))
def test_each_growing_operation_is_sized_before_it_runs(name):
    start = time.monotonic()
    with pytest.raises(PromptError) as info:
        render_text(ATTACKS[name], {"big": "b" * 600})
    assert str(info.value) == LIMIT
    assert time.monotonic() - start < 0.5


def test_a_repeat_counts_the_items_it_repeats():
    with pytest.raises(PromptError) as info:  # 2 references to 910 characters' worth
        render_text("{% set l = [['x' * 100] * 9] %}{{ l * 2 }}", {})
    assert str(info.value) == "The template reached a limit: a repeated sequence over 1,000 items."


def test_a_chat_template_is_bounded_the_same_way():
    with pytest.raises(PromptError) as info:
        render_chat_template("{{ messages[0].content.replace('a', 'b' * 99) }}",
                             [{"role": "user", "content": "a" * 20}], source="evil.gguf")
    assert str(info.value) == ("The chat template of evil.gguf failed: it reached a limit: a value over 1,000 "
                               "characters; use another model or template.")


def test_a_namespace_refuses_a_given_value_past_the_bound():
    with pytest.raises(PromptError) as info:
        render_text("{% set ns = namespace() %}{% set ns.l = items %}", {"items": ["x" * 100] * 11})
    assert str(info.value) == "The template reached a limit: a namespace value over 1,000 items."


@pytest.mark.parametrize(("template", "expected"), [
    ("{{ ('ab' * 10).replace('a', 'xyz') | length }}", "40"),  # exactly what it builds is allowed
    ("{{ ('x' * 400 ~ 'y' * 400) | length }}", "800"),
    ("{% set l = ['x' * 100] * 9 %}{{ l | join('-') | length }} {{ (l + ['y']) | length }}", "908 10"),
    ("{{ ['a', 'b'] | join(', ') }} {{ '-'.join(['c', 'd']) }} {{ [[1], [2]] | sum(start=[]) }}", "a, b c-d [1, 2]"),
    ("{{ '%-4s|' | format('ab') }}{{ '{:>3}'.format(1) }}{{ 'x' | center(5) }}", "ab  |  1  x  "),
    ("{{ 'a\nb' | indent(2) }} {{ {'k': [1]} | tojson(indent=2) }}", 'a\n  b {\n  "k": [\n    1\n  ]\n}'),
    ("{% set s %}{{ 'q' * 900 }}{% endset %}{{ s | length }}", "900"),
    ("{{ phone | trim }} {{ '%s' | format(phone) }}", "5551234567 5551234567"),  # digits are not a format width
])
def test_small_values_render_as_before(template, expected):
    assert render_text(template, {"phone": "5551234567"}) == expected


def test_the_deadline_is_checked_between_filter_calls(monkeypatch):
    monkeypatch.setattr(sandbox, "MAX_RENDER_S", 0.2)
    monkeypatch.setattr(sandbox, "MAX_OUTPUT_CHARS", 10**9)
    start = time.monotonic()
    with pytest.raises(PromptError) as info:  # a loop inside filters, where no template line runs
        render_text("{{ range(100000) | map('string') | map('center', 9) | map('trim') | join | length }}", {})
    assert str(info.value) == "The template reached a limit: a run time over 0.2 s."
    assert time.monotonic() - start < 1.0


def test_a_message_with_seven_digits_passes_through_a_filter():
    # Only a format string's widths are checked: a phone number trimmed by a chat template was refused before.
    assert render_chat_template("{{ messages[0].content | trim }}",
                                [{"role": "user", "content": " call 5551234567 "}]) == "call 5551234567"
