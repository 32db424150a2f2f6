"""The home page in a real browser: type a prompt, click Generate, watch the completion stream in."""

from __future__ import annotations

import re
import time

import pytest

from tests.conftest import real_backend
from tests.e2e.harness import (
    COMPLETION_JS,
    arm_generation,
    click_button,
    completion_after,
    generation_result,
    new_page,
    normalise,
    open_page,
    page_problems,
    set_number,
    set_text_area,
    wait_for_text,
    wait_ready,
)
from workbench.decoding import DecodingConfig

pytestmark = pytest.mark.e2e

PROMPT = "One, two, three, four,"
MAX_NEW = 24


def test_prompt_streams_the_greedy_completion(page, app):
    open_page(page, app)
    set_text_area(page, "Prompt", PROMPT)
    set_number(page, "max_new_tokens", MAX_NEW)
    arm_generation(page, time.time() * 1000)
    result = generation_result(page)
    expected = real_backend("gemma-3-270m").complete(PROMPT, DecodingConfig(max_new_tokens=MAX_NEW)).text
    assert result["problems"] == []
    assert normalise(result["text"]) == normalise(expected)
    assert result["states"] >= 2, "the completion arrived in one piece instead of streaming"
    wait_for_text(page, f"{MAX_NEW} tokens in")


def test_empty_prompt_shows_one_red_line(page, app):
    open_page(page, app)
    set_text_area(page, "Prompt", "")
    click_button(page, "Generate")
    wait_for_text(page, "The prompt is empty; type some text to complete.")
    assert page.locator('[data-testid="stException"]').count() == 0


#: How soon after a Stop click the next session must have the model (its own prompt reading not counted).
NEXT_STARTS_S = 1.0
#: In the waiting session: note (Date.now()) when its completion's first text appears.
FIRST_TEXT_JS = "() => {" + COMPLETION_JS + """
    window.__firstText = null;
    const check = () => { if (window.__firstText === null && completionAfter('Completion')) {
        window.__firstText = Date.now(); } };
    new MutationObserver(check).observe(document.body, {subtree: true, childList: true, characterData: true});
}"""
#: In the streaming session: click Stop, return when (Date.now()).
CLICK_STOP_JS = """() => { const b = [...document.querySelectorAll('button')].find(e => e.textContent.trim() === 'Stop');
                       const t = Date.now(); b.click(); return t; }"""


#: Attempts at the Stop measurement: a loaded machine can stall one session's thread for a moment, which is
#: scheduling, not the model being held; the model must be freed within NEXT_STARTS_S in one of them.
STOP_ATTEMPTS = 3


def test_stop_frees_the_model_for_the_queued_session_within_a_second(browser, page, app, record_property):
    times = []
    for _ in range(STOP_ATTEMPTS):
        times.append(_stop_and_measure(browser, page, app))
        if times[-1] < NEXT_STARTS_S:
            break
    record_property("model_freed_s", [round(t, 3) for t in times])
    assert min(times) < NEXT_STARTS_S, f"the next session got the model {min(times):.2f} s after Stop at best"


def _stop_and_measure(browser, page, app) -> float:
    """One Stop while a second session queues: seconds from the click until the queued session had the model."""
    open_page(page, app)
    set_text_area(page, "Prompt", "Once upon a time, in a small village by the sea,")
    set_number(page, "max_new_tokens", 400)
    click_button(page, "Generate")
    page.get_by_role("button", name="Stop", exact=True).wait_for(timeout=60_000)
    page.wait_for_function("() => {" + COMPLETION_JS + "const t = completionAfter('Completion'); "
                           "return t && t.length > 20; }", timeout=120_000)

    other = new_page(browser)  # a second session (another student)
    try:
        open_page(other, app)
        set_text_area(other, "Prompt", PROMPT)
        set_number(other, "max_new_tokens", 8)
        click_button(other, "Generate")
        wait_for_text(other, re.compile(r"Waiting for the model: .*you are number 1 in the queue"), timeout_ms=60_000)
        assert other.get_by_role("button", name="Stop", exact=True).is_visible(), "a queued user can stop too"
        assert completion_after(other) is None
        other.evaluate(FIRST_TEXT_JS)

        clicked = page.evaluate(CLICK_STOP_JS)
        other.wait_for_function("() => window.__firstText !== null", timeout=60_000)
        started = (other.evaluate("() => window.__firstText") - clicked) / 1000

        wait_for_text(page, "Stopped; the model is free for the next request. The text so far:", timeout_ms=30_000)
        wait_ready(page)
        assert page.get_by_role("button", name="Stop", exact=True).count() == 0
        assert page_problems(page) == []
        wait_for_text(other, "8 tokens in", timeout_ms=60_000)
        assert page_problems(other) == []
        # The waiting session's own work before its first token (reading its prompt) is not the wait for the model.
        summary = other.get_by_text(re.compile(r"^8 tokens in")).first.inner_text()
        own = float(re.search(r"read in ([\d.]+) s", summary).group(1))
        freed = started - own
        print(f"the queued session's text began {started:.2f} s after Stop, {own:.2f} s of it reading its own "
              f"prompt: the model was its {freed:.2f} s after the click")
        return freed
    finally:
        other.context.close()


def test_ctrl_enter_in_the_prompt_box_generates(page, app):
    """Issue 33 item 11: Ctrl+Enter (Cmd+Enter on a Mac) runs the page's main action, from inside a text box too; the
    box's new text is the one sent."""
    open_page(page, app)
    set_number(page, "max_new_tokens", 3)
    box = page.get_by_role("textbox", name="Prompt", exact=True)
    box.fill(PROMPT)  # typed, not yet committed: the shortcut commits it first
    page.keyboard.press("Control+Enter")
    wait_for_text(page, re.compile(r"tokens? in \d"))
    wait_ready(page)
    expected = real_backend("gemma-3-270m").complete(PROMPT, DecodingConfig(max_new_tokens=3)).text
    assert normalise(completion_after(page)) == normalise(expected)
