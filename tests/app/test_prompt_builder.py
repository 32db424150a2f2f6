"""AppTest of the Prompt Builder page with the real default model."""

from __future__ import annotations

import html
import re

from streamlit.testing.v1 import AppTest

from tests.conftest import ROOT
from ui.builder import parts_html
from workbench.prompts import PromptSpec


def page() -> AppTest:
    return AppTest.from_file(str(ROOT / "pages/1_Prompt_Builder.py"), default_timeout=180).run()


def html_of(at: AppTest) -> str:
    return " ".join(str(e.proto.body) for e in at.get("html"))


def shown_text(at: AppTest) -> str:
    """The coloured preview as plain text (tags removed, entities decoded)."""
    return html.unescape(re.sub(r"<[^>]+>", "", html_of(at)))


def add_demo(at: AppTest, question: str, answer: str) -> None:
    at.text_area(key="pb_new_input").set_value(question)
    at.text_input(key="pb_new_answer").set_value(answer)
    at.button(key="pb_add").click().run()


def test_few_shot_with_two_added_demonstrations_runs():
    at = page()
    assert not at.exception
    at.selectbox(key="pb_starter").set_value("Blank").run()
    at.radio(key="pb_shots").set_value("Few-shot").run()
    add_demo(at, "The sky is", "blue")
    add_demo(at, "Grass is", "green")
    at.number_input(key="pb_k").set_value(2).run()
    at.text_area(key="pb_query").set_value("Snow is").run()
    at.number_input(key="pbdec_max").set_value(4).run()
    assert not at.exception and not at.error
    assert at.session_state["spec"] == PromptSpec()
    assert [(d.input, d.answer) for d in at.session_state["demos"]] == [("The sky is", "blue"), ("Grass is", "green")]
    shown = html_of(at)
    assert "Q: The sky is\nA: blue" in shown and "Q: Grass is\nA: green" in shown and "Q: Snow is\nA:" in shown
    assert any("· 2 demonstrations" in m.value for m in at.markdown)

    at.button(key="pb_run").click().run()
    assert not at.exception and not at.error
    values = [m.value for m in at.markdown]
    completion = values[values.index("**Completion**") + 1]
    assert completion.strip()  # the model's text appeared
    assert any("tokens/s" in c.value for c in at.caption)
    assert at.success and at.success[0].value.startswith("Answer: ")


def test_starter_loads_its_demonstrations_and_preview():
    at = page()
    at.selectbox(key="pb_starter").set_value("arithmetic_cot").run()
    assert not at.exception
    assert at.selectbox(key="pb_reasoning").value == "manual_cot"
    assert len(at.session_state["demos"]) == 8
    assert "The answer is 10." in html_of(at)


def test_bad_template_is_one_line_and_disables_run():
    at = page()
    at.text_area(key="pb_query_tpl").set_value("Review: {input.__class__}").run()
    assert not at.exception
    assert len(at.error) == 1 and "not a plain placeholder name" in at.error[0].value
    assert at.button(key="pb_run").disabled


def test_zero_shot_cot_shows_both_stages():
    at = page()
    at.selectbox(key="pb_starter").set_value("arithmetic_zero_shot_cot").run()
    at.number_input(key="pbdec_max").set_value(6).run()
    at.button(key="pb_run").click().run()
    assert not at.exception and not at.error
    values = [m.value for m in at.markdown]
    assert "**Stage 1 · reasoning**" in values and "**Stage 2 · answer**" in values
    assert sum("tokens/s" in c.value for c in at.caption) == 2


def test_parts_html_escapes_text():
    out = parts_html([("query", "<script>alert(1)</script> & \"x\""), ("evil\"kind", "a")])
    assert "<script>" not in out
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; &quot;x&quot;" in out
    assert 'title="evil&quot;kind"' in out


def test_chat_model_uses_its_template_and_the_layout_choice():
    at = page()
    at.selectbox(key="model_choice").set_value("smollm2-135m-instruct").run()
    assert not at.exception
    assert "<|im_start|>assistant\nnegative<|im_end|>" in shown_text(at)  # demonstrations as turns
    at.radio(key="pb_layout").set_value("inline").run()
    shown = shown_text(at)
    assert "Sentiment: negative\n\nReview:" in shown and shown.count("<|im_start|>user") == 1
    at.toggle(key="pb_raw").set_value(True).run()
    assert "im_start" not in shown_text(at)


def test_evaluate_this_prompt_hands_the_spec_and_demos_to_evaluate():
    from ui.handover import KEY, HandedPrompt
    from workbench.prompts import starter_specs

    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=300).run()
    at.switch_page("pages/1_Prompt_Builder.py").run()
    assert not at.exception
    at.number_input(key="pb_k").set_value(2).run()
    at.text_area(key="pb_instruction").set_value("Is this review positive or negative?").run()
    at.button(key="pb_evaluate").click().run()
    assert not at.exception and not at.error
    handed = at.session_state[KEY]
    assert isinstance(handed, HandedPrompt)
    starter = starter_specs()["sentiment"]
    assert handed.spec == starter.spec.replace(instruction="Is this review positive or negative?")
    assert [(d.input, d.answer) for d in handed.demos] == [(d.input, d.answer) for d in starter.demos[:2]]

    # The Evaluate page opened and says what it received and from where.
    assert [t.value for t in at.title] == ["Evaluate"]
    assert any(i.value.startswith("From the Prompt Builder: 2 demonstrations · reasoning none") for i in at.info)
    assert at.multiselect(key="ev_variants").value == ["inferred", "builder"]
    at.switch_page("pages/5_Evaluate.py")  # AppTest reruns the page it was told last; a browser follows the switch
    at.multiselect(key="ev_strategies").set_value(["zero"])
    at.number_input(key="ev_limit").set_value(2).run()
    at.button(key="ev_run").click().run()
    assert not at.exception and not at.error
    items = next(d.value for d in at.dataframe if "prompt" in d.value.columns)
    assert list(dict.fromkeys(items["strategy"])) == ["inferred/zero", "builder/zero", "builder/built2"]
    built = items[items["strategy"] == "builder/built2"]
    for prompt, query in zip(built["prompt"], built["input"], strict=True):
        assert prompt.startswith("Is this review positive or negative?")  # the edited spec, not the inferred one
        assert all(d.input in prompt for d in starter.demos[:2] if d.input != query)
    assert not any(p.startswith("Is this review") for p in items[items["strategy"] == "inferred/zero"]["prompt"])

    # "Forget it" goes back to the inferred template alone.
    at.button(key="ev_forget").click().run()
    assert KEY not in at.session_state and not [m for m in at.multiselect if m.key == "ev_variants"]
