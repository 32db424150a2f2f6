"""The chat-template sandbox: real templates render; hostile ones are one PromptError naming their source, bounded."""

from __future__ import annotations

import gc
import re
import time

import pytest

from workbench import sandbox
from workbench.chat import render_chat_template
from workbench.errors import PromptError

#: The shape of SmolLM2's / ChatML templates (loop, namespace, conditionals, generation prompt).
CHATML = (
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)
MESSAGES = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}]
#: Seconds any hostile template may take here, the run-time bound included (generous: not a timing claim).
BOUND_S = 10.0


def test_a_real_template_renders_exactly():
    assert render_chat_template(CHATML, MESSAGES) == (
        "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n"
    )
    counted = "{% set ns = namespace(n=0) %}{% for m in messages %}{% set ns.n = ns.n + 1 %}{% endfor %}{{ ns.n }}"
    assert render_chat_template(counted, MESSAGES) == "2"
    assert render_chat_template("{{ bos_token }}{{ '%d-%s' % (3, 'x') }}{{ 'ab' * 2 }}{{ 2 ** 10 }}", [],
                                bos_token="<s>") == "<s>3-xabab1024"


#: A template with Jinja's loop controls: the first system message leads ({% break %}), the others are dropped
#: from the turns ({% continue %}). Hugging Face's apply_chat_template and llama-cpp-python both allow them.
LOOP_CONTROLS = (
    "{{ bos_token }}"
    "{% for m in messages %}{% if m['role'] == 'system' %}{{ '<|system|>\n' + m['content'] + '\n' }}{% break %}"
    "{% endif %}{% endfor %}"
    "{% for m in messages %}{% if m['role'] == 'system' %}{% continue %}{% endif %}"
    "{{ '<|' + m['role'] + '|>\n' + m['content'] + eos_token + '\n' }}{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|assistant|>\n' }}{% endif %}"
)
TURNS = [{"role": "user", "content": "Hi"}, {"role": "system", "content": "Be brief."},
         {"role": "assistant", "content": "Hello"}, {"role": "system", "content": "Be kind."},
         {"role": "user", "content": "Bye"}]


def test_break_and_continue_render_as_hugging_face_renders_them():
    text = render_chat_template(LOOP_CONTROLS, TURNS, bos_token="<s>", eos_token="</s>")
    assert text == ("<s><|system|>\nBe brief.\n<|user|>\nHi</s>\n<|assistant|>\nHello</s>\n<|user|>\nBye</s>\n"
                    "<|assistant|>\n")
    hf = pytest.importorskip("transformers.utils.chat_template_utils")  # apply_chat_template's renderer, offline
    rendered, _ = hf.render_jinja_template([TURNS], chat_template=LOOP_CONTROLS, add_generation_prompt=True,
                                           bos_token="<s>", eos_token="</s>")
    assert rendered == [text]


def test_messages_are_checked_before_the_template_runs():
    with pytest.raises(PromptError, match="role 'robot' is not one of"):
        render_chat_template(CHATML, [{"role": "robot", "content": "x"}])
    with pytest.raises(PromptError, match="content must be text"):
        render_chat_template(CHATML, [{"role": "user", "content": 5}])


def test_raise_exception_is_the_templates_refusal():
    template = "{% if messages[0]['role'] != 'user' %}{{ raise_exception('Conversation must start with user') }}{% endif %}"
    with pytest.raises(PromptError) as info:
        render_chat_template(template, MESSAGES, source="model X (GGUF header)")
    assert str(info.value) == (
        "The chat template of model X (GGUF header) refused the messages: Conversation must start with user"
    )


HOSTILE = {
    "include without a loader": ("{% include 'other.jinja' %}", r"no loader for this environment.*\(TypeError\)"),
    "division by zero": ("{{ 1/0 }}", r"division by zero \(ZeroDivisionError\)"),
    "recursion": ("{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}", "recursed too deeply"),
    "huge range": ("{% for i in range(10**9) %}x{% endfor %}", "an integer argument above 1,000,000"),
    "range past the sandbox's": ("{% for i in range(1000000) %}x{% endfor %}", r"Range too big.*\(OverflowError\)"),
    "huge repeat": ("{{ 'x' * 100000000 }}", "a repeated sequence over 4,000,000 items"),
    "huge power": ("{{ 10 ** 100000 }}", "a power over 4096 bits"),
    "huge product": ("{% set n = 10 ** 1000 %}{{ n * n * n * n * n }}", "a product over 4096 bits"),
    "huge width": ("{{ 'x'.ljust(1000000000) }}", "an integer argument above"),
    "huge filter width": ("{{ 'x' | center(1000000000) }}", "an integer argument above"),
    "huge format width": ("{{ '{:>999999999}'.format(1) }}", "a format width"),
    "huge printf width": ("{{ '%999999999d' % 1 }}", "a format width"),
    "huge format filter": ("{{ '%999999999d' | format(1) }}", "a format width"),
    "huge output": ("{% for i in range(100000) %}{% for j in range(100) %}{{ 'x' * 1000 }}{% endfor %}{% endfor %}",
                    "an output over"),
    "growing namespace": ("{% set ns = namespace(s='x') %}{% for i in range(64) %}{% set ns.s = ns.s ~ ns.s %}"
                          "{% endfor %}", "a value over 4,000,000 characters"),  # `~` is sized first
    "syntax": ("{% for %}", r"does not parse: .*\(line 1\)"),
    "break outside a loop": ("{% break %}", r"does not parse: 'break' outside loop;"),
    "unsafe attribute": ("{{ ''.__class__.__mro__ }}", "unsafe operation: access to attribute '__class__'"),
    "sandbox escape": ("{{ messages.append(1) }}", "unsafe operation"),
    "huge source": ("x" * (sandbox.MAX_TEMPLATE_CHARS + 1), "a source of"),
    "undefined call": ("{{ nothing() }}", r"\(UndefinedError\)"),
}


@pytest.mark.parametrize("name", list(HOSTILE))
def test_a_hostile_template_is_one_error_naming_its_source(name):
    template, reason = HOSTILE[name]
    # Earlier tests' garbage (generators, sockets) must not be collected at the recursion limit: its
    # finalizers would fail there and pytest reports that as this test's error (seen once in CI).
    gc.collect()
    start = time.monotonic()
    with pytest.raises(PromptError) as info:
        render_chat_template(template, MESSAGES, source="evil.gguf (GGUF header)")
    message = str(info.value)
    assert message.startswith("The chat template of evil.gguf (GGUF header) failed: ")
    assert message.endswith("; use another model or template.") and "\n" not in message
    assert re.search(reason, message), message
    assert time.monotonic() - start < BOUND_S


def test_a_loop_without_output_is_stopped_by_the_run_time_bound(monkeypatch):
    monkeypatch.setattr(sandbox, "MAX_RENDER_S", 0.3)
    template = "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}"
    start = time.monotonic()
    with pytest.raises(PromptError, match=r"failed: it reached a limit: a run time over 0.3 s"):
        render_chat_template(template, MESSAGES)
    assert time.monotonic() - start < BOUND_S
    assert render_chat_template(CHATML, MESSAGES).endswith("assistant\n")  # the bound is per render


def test_the_trace_of_a_caller_is_restored():
    import sys

    seen = []

    def tracer(frame, event, arg):
        seen.append(event)
        return None

    sys.settrace(tracer)
    try:
        render_chat_template(CHATML, MESSAGES)
        after = sys.gettrace()
    finally:
        sys.settrace(None)
    assert after is tracer
