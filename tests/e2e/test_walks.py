"""Walks across pages in one browser session (issue 19): what a user builds on one page is still there,
or arrives, on the next.

* Builder edits (instruction, two demonstrations, Few-shot, Zero-shot-CoT, query) survive a visit to two
  other pages;
* a Library set opened in the Builder shows its step there and keeps every step on offer;
* Builder → Evaluate → Builder: the Evaluate page says what it received, the Builder is unchanged after.

Auto-CoT → Builder is walked at the end of ``test_autocot.py`` (after a real build), Demonstrations →
Builder at the end of ``test_demonstrations.py``, the evaluation of the built prompt in ``test_evaluate.py``.
"""

from __future__ import annotations

import re

import pytest

from tests.e2e.harness import (
    choose_radio,
    click_button,
    code_blocks,
    navigate,
    open_expander,
    open_page,
    page_problems,
    rerun,
    select_option,
    set_number,
    set_text_area,
    wait_for_text,
    wait_ready,
)
from workbench.promptsets.files import classroom_sets

pytestmark = pytest.mark.e2e

INSTRUCTION = "Answer with one colour word (walk)."
DEMOS = (("The sky is", "blue"), ("Grass is", "green"))
QUERY = "Snow is"


def add_demo(page, text: str, answer: str) -> None:
    """Type one demonstration into the Builder's "Add a demonstration" form and add it."""
    set_text_area(page, "Input", text)
    set_text_area(page, "Answer", answer)
    with rerun(page):
        click_button(page, "Add demonstration")


def sent_text(page) -> str:
    """The exact text the Builder sends (its "Plain text (to copy)" block)."""
    open_expander(page, "Plain text (to copy)")
    return code_blocks(page)[-1]


def builder_values(page) -> dict[str, object]:
    """What a user sees in the Builder's boxes."""
    return {
        "instruction": page.get_by_role("textbox", name="Task instruction (literal text)", exact=True).input_value(),
        "reasoning": page.get_by_label("Reasoning", exact=True).input_value(),
        "few_shot": page.get_by_role("radio", name="Few-shot", exact=True).is_checked(),
        "k": page.get_by_label("K", exact=True).input_value(),
        "query": page.get_by_role("textbox", name="Input (the query)", exact=True).input_value(),
        "starter": page.get_by_label("Starter spec", exact=True).input_value(),
    }


def test_builder_edits_survive_a_walk_across_two_pages(page, app):
    open_page(page, app, "views/1_Prompt_Builder.py")
    select_option(page, "Starter spec", "Blank")
    select_option(page, "Reasoning", re.compile(r"^Zero-shot-CoT"))
    set_text_area(page, "Task instruction (literal text)", INSTRUCTION)
    for text, answer in DEMOS:
        add_demo(page, text, answer)
    choose_radio(page, "Few-shot")
    set_text_area(page, "Input (the query)", QUERY)
    wait_for_text(page, "· 2 demonstrations", timeout_ms=30_000)
    wait_ready(page)
    assert page_problems(page) == []
    before, sent_before = builder_values(page), sent_text(page)
    assert before["k"] == "2", "switching to few-shot must use both rows"
    for text, answer in DEMOS:
        assert f"Q: {text}\nA: {answer}" in sent_before
    assert sent_before.startswith(INSTRUCTION) and sent_before.endswith(f"Q: {QUERY}\nA: Let's think step by step.")

    navigate(page, "Demonstrations")
    wait_for_text(page, "Why:")
    navigate(page, "Library")
    navigate(page, "Prompt Builder")
    wait_for_text(page, "· 2 demonstrations", timeout_ms=30_000)
    wait_ready(page)
    assert builder_values(page) == before, "the Builder lost edits on the walk"
    assert sent_text(page) == sent_before
    assert page_problems(page) == []


def test_a_library_set_opened_in_the_builder_keeps_its_steps(page, app):
    shipped = classroom_sets()["zero_vs_few_shot"]
    zero, few = shipped.steps
    open_page(page, app, "views/6_Library.py")
    select_option(page, re.compile(r"^Open a set"), f"🎓 {shipped.name}")
    page.get_by_role("heading", name=shipped.name).wait_for()
    wait_ready(page)
    page.get_by_role("button", name="Open in the Prompt Builder", exact=True).nth(1).click()  # step 2
    page.wait_for_function("() => document.querySelector('h1')?.textContent.includes('Prompt Builder')",
                           timeout=90_000)
    wait_ready(page)
    wait_for_text(page, f"From Step 2: {few.title} of the Library set “{shipped.name}”.", timeout_ms=30_000)
    sent = sent_text(page)
    assert all(d.input in sent for d in few.demos), "the step's demonstrations are not in the Builder's prompt"
    assert sent.startswith(few.spec.instruction)
    assert shipped.tests[0].input in sent, "the set's first test input is not the Builder's query"

    select_option(page, "Starter spec", f"📚 Step 1: {zero.title} · {shipped.name}")  # the other step
    wait_for_text(page, f"From Step 1: {zero.title}", timeout_ms=30_000)
    wait_ready(page)
    sent = sent_text(page)
    assert not any(d.input in sent for d in few.demos), "step 1 (zero-shot) still shows step 2's demonstrations"
    assert page_problems(page) == []


def test_builder_to_evaluate_and_back_keeps_the_builder(page, app):
    """Builder → Evaluate hands the built prompt over (run there in test_evaluate.py); back in the Builder,
    the prompt is as the user left it."""
    open_page(page, app, "views/1_Prompt_Builder.py")
    page.get_by_label("K", exact=True).wait_for()
    set_text_area(page, "Task instruction (literal text)", INSTRUCTION)
    set_number(page, "K", 2)
    wait_for_text(page, "Few-shot: using 2 of 6 demonstrations", timeout_ms=30_000)
    wait_ready(page)
    click_button(page, "Evaluate this prompt")
    wait_for_text(page, re.compile(r"^From the Prompt Builder: 2 demonstrations"), timeout_ms=90_000)
    wait_ready(page)
    assert page_problems(page) == []
    navigate(page, "Prompt Builder")
    wait_for_text(page, "Few-shot: using 2 of 6 demonstrations", timeout_ms=30_000)
    wait_ready(page)
    values = builder_values(page)
    assert values["instruction"] == INSTRUCTION and values["k"] == "2" and values["few_shot"]


def test_builder_after_other_pages_draws_its_settings_without_a_streamlit_warning(browser, tmp_path):
    """Issue 33 item 7: Builder -> other pages -> Builder logged "The widget with key 'pbdec_temp' was created with a
    default value but also had its value set via the Session State API" (the kept settings put back, and a default
    passed as well). Streamlit says it once per server: a server of its own, so no earlier test has used it up."""
    from tests.e2e.conftest import streamlit_warnings
    from tests.e2e.harness import new_page, serve

    with serve(tmp_path) as fresh:
        pg = new_page(browser)
        try:
            open_page(pg, fresh.url, "views/1_Prompt_Builder.py")
            select_option(pg, "Decoding preset", "Creative")
            for title in ("Demonstrations", "Decoding Lab", "Prompt Builder", "Home", "Decoding Lab", "Demonstrations",
                          "Auto-CoT", "Speculative Decoding", "Evaluate", "Prompt Builder"):
                navigate(pg, title)
            assert pg.get_by_label("Decoding preset", exact=True).first.input_value() == "Creative"
            assert page_problems(pg) == []
            assert streamlit_warnings(fresh.log) == []
        finally:
            pg.context.close()
