"""AppTest of the Prompt Builder page with the real default model."""

from __future__ import annotations

import html
import re

from streamlit.testing.v1 import AppTest

from tests.conftest import ROOT
from ui.builder import parts_html
from ui.state import BuilderState
from workbench.prompts import PromptSpec

BUILDER = "views/1_Prompt_Builder.py"



def page() -> AppTest:
    return AppTest.from_file(str(ROOT / BUILDER), default_timeout=180).run()


def app() -> AppTest:
    """The whole app (home page first), so that switch_page walks across pages in one session."""
    return AppTest.from_file(str(ROOT / "app.py"), default_timeout=300).run()


def built(at: AppTest):
    """The prompt the Builder's draft makes, as other pages read it."""
    state = at.session_state["state_builder"]
    assert isinstance(state, BuilderState)
    return state.draft.spec(), state.draft.used()


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
    spec, demos = built(at)
    assert spec == PromptSpec(stop=("\nQ:",))  # the Blank starter stops at the next question
    assert [(d.input, d.answer) for d in demos] == [("The sky is", "blue"), ("Grass is", "green")]
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
    assert len(built(at)[1]) == 8
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
    # one timing line per stage ("6 tokens in 0.41 s (…)", or "1 token in 0.15 s: prompt … read in …")
    assert sum(bool(re.match(r"\d+ tokens? in [\d.]+ s[ :]", c.value)) for c in at.caption) == 2


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
    at.switch_page("views/1_Prompt_Builder.py").run()
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
    at.switch_page("views/5_Evaluate.py")  # AppTest reruns the page it was told last; a browser follows the switch
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


# --------------------------------------------------------------------------- issue 19: state, K, plurals, stops

def test_every_edit_survives_a_walk_across_two_other_pages():
    """Item 1: Streamlit drops the state of widgets it does not draw; the Builder's draft must not go with it."""
    at = app()
    at.switch_page(BUILDER).run()
    at.selectbox(key="pb_starter").set_value("Blank").run()
    at.text_area(key="pb_instruction").set_value("Answer with one word.").run()
    add_demo(at, "The sky is", "blue")
    add_demo(at, "Grass is", "green")
    at.radio(key="pb_shots").set_value("Few-shot").run()
    at.selectbox(key="pb_reasoning").set_value("zero_shot_cot").run()
    at.text_input(key="pb_labels").set_value("blue, green").run()
    at.text_area(key="pb_query").set_value("Snow is").run()
    assert not at.exception and not at.error
    before = built(at)

    at.switch_page("views/3_Auto-CoT.py").run()
    assert [t.value for t in at.title] == ["Auto-CoT"]
    at.switch_page("views/6_Library.py").run()
    assert [t.value for t in at.title] == ["Library"]
    at.switch_page(BUILDER).run()
    assert not at.exception and not at.error
    assert at.selectbox(key="pb_starter").value == "Blank"
    assert at.text_area(key="pb_instruction").value == "Answer with one word."
    assert at.selectbox(key="pb_reasoning").value == "zero_shot_cot"
    assert at.radio(key="pb_shots").value == "Few-shot" and at.number_input(key="pb_k").value == 2
    assert at.text_input(key="pb_labels").value == "blue, green"
    assert at.text_area(key="pb_query").value == "Snow is"
    assert built(at) == before
    shown = shown_text(at)
    assert "Answer with one word.\n\nQ: The sky is\nA: blue" in shown
    assert "Q: Grass is\nA: green" in shown and "Let's think step by step." in shown


def test_a_starter_never_replaces_edits_unasked():
    """Item 1: picking another starter after editing asks first; "Keep my edits" keeps them."""
    at = page()
    at.text_area(key="pb_instruction").set_value("My own instruction.").run()
    at.selectbox(key="pb_starter").set_value("arithmetic_cot").run()
    assert not at.exception
    assert at.text_area(key="pb_instruction").value == "My own instruction."
    assert at.selectbox(key="pb_starter").value == "sentiment"
    assert any("replaces your edits" in w.value for w in at.warning)
    at.button(key="pb_keep").click().run()
    assert at.text_area(key="pb_instruction").value == "My own instruction." and not at.warning
    at.selectbox(key="pb_starter").set_value("arithmetic_cot").run()
    at.button(key="pb_confirm").click().run()
    assert at.selectbox(key="pb_starter").value == "arithmetic_cot"
    assert at.selectbox(key="pb_reasoning").value == "manual_cot"
    assert at.text_area(key="pb_instruction").value != "My own instruction."
    # An edit and a starter pick in one rerun (typing, then picking at once): the edit is still not lost.
    at.text_area(key="pb_instruction").set_value("Typed just now.")
    at.selectbox(key="pb_starter").set_value("sentiment").run()
    assert at.text_area(key="pb_instruction").value == "Typed just now." and at.warning


def test_k_follows_the_rows_and_says_when_it_uses_fewer():
    """Item 3: switching to few-shot uses every row; a K below the row count says "using 1 of 2"."""
    at = page()
    at.selectbox(key="pb_starter").set_value("Blank").run()
    add_demo(at, "The sky is", "blue")
    add_demo(at, "Grass is", "green")
    at.text_area(key="pb_query").set_value("Snow is").run()
    at.radio(key="pb_shots").set_value("Few-shot").run()
    assert at.number_input(key="pb_k").value == 2
    assert len(built(at)[1]) == 2 and any("· 2 demonstrations" in m.value for m in at.markdown)
    add_demo(at, "Coal is", "black")  # K was following the rows: it still does
    assert at.number_input(key="pb_k").value == 3
    at.number_input(key="pb_k").set_value(1).run()
    assert any("using 1 of 3 demonstrations" in c.value for c in at.caption)


def test_the_add_form_stays_open_after_an_add():
    """Item 4: each further demonstration is typed without reopening the form."""
    at = page()
    at.selectbox(key="pb_starter").set_value("Blank").run()
    add_demo(at, "The sky is", "blue")
    form = next(e for e in at.expander if e.label == "Add a demonstration")
    assert form.proto.expanded
    assert at.text_area(key="pb_new_input").value == ""  # emptied for the next one
    add_demo(at, "Grass is", "green")
    assert next(e for e in at.expander if e.label == "Add a demonstration").proto.expanded
    assert [d.answer for d in at.session_state["state_builder"].draft.examples()] == ["blue", "green"]


def test_one_demonstration_is_singular():
    """Item 8: "1 demonstration", not "1 demonstrations"."""
    at = page()
    at.radio(key="pb_shots").set_value("One-shot").run()
    at.text_area(key="pb_query").set_value("Fine.").run()
    heading = next(m.value for m in at.markdown if m.value.startswith("**Exact text sent"))
    assert heading.endswith("· 1 demonstration") and "1 demonstrations" not in heading
    assert any("One-shot: using 1 of 6 demonstrations" in c.value for c in at.caption)


def test_blank_starter_stops_at_the_next_question():
    """Item 10: a base model after "Q: …\nA:" must not write the next "Q:" itself."""
    at = page()
    at.selectbox(key="pb_starter").set_value("Blank").run()
    assert at.text_input(key="pb_spec_stop").value == "\\nQ:"
    assert "\nQ:" in built(at)[0].stop



def test_an_empty_reasoning_stage_says_why():
    """Issue 33 item 7: Zero-shot-CoT's reasoning stage wrote one token and nothing visible: the panel says why."""
    from ui.builder import empty_reasoning
    from workbench.backends import Generation
    from workbench.decoding import DecodingConfig

    cfg = DecodingConfig(max_new_tokens=64, stop=("\nQ:",))
    line = empty_reasoning(Generation("\n", 20, 1, "stop", 0.1), cfg)
    assert line.startswith("The reasoning stage wrote 1 token, no visible text: it began a stop string ('\\nQ:')")
    assert "answer stage below asks for the answer without any reasoning" in line
    assert "max_new_tokens (1) ran out" in empty_reasoning(Generation("", 20, 1, "length", 0.1),
                                                           DecodingConfig(max_new_tokens=1))
