"""Prompt Builder in a real browser: a few-shot prompt from the sentiment starter, run on the default model."""

from __future__ import annotations

import pytest

from tests.conftest import real_backend
from tests.e2e.harness import (
    click_button,
    code_blocks,
    open_expander,
    open_page,
    page_problems,
    set_number,
    set_text_area,
    wait_for_text,
    wait_ready,
)
from workbench.decoding import DecodingConfig
from workbench.prompts import run_prompt, starter_specs

pytestmark = pytest.mark.e2e

QUERY = "A clumsy, tedious film with nothing to say."
K = 2
MAX_NEW = 4


def test_few_shot_prompt_shows_its_demonstrations_and_runs(page, app):
    open_page(page, app, "views/1_Prompt_Builder.py")
    starter = starter_specs()["sentiment"]  # the page's default starter
    page.get_by_label("K", exact=True).wait_for()  # a fresh server's first page rerun may still be drawing it
    set_number(page, "K", K)
    wait_for_text(page, f"Few-shot: using {K} of {len(starter.demos)} demonstrations", timeout_ms=30_000)
    set_text_area(page, "Input (the query)", QUERY)
    set_number(page, "max_new_tokens", MAX_NEW)
    wait_for_text(page, f"· {K} demonstrations")
    wait_ready(page)

    open_expander(page, "Plain text (to copy)")
    sent = code_blocks(page)[-1]
    expected = run_prompt(starter.spec, starter.demos[:K], QUERY, real_backend("gemma-3-270m"),
                          DecodingConfig(max_new_tokens=MAX_NEW))
    assert sent == expected.rendered.text, "the page shows a different prompt from the one the library renders"
    for demo in starter.demos[:K]:
        assert demo.input in sent
    assert starter.demos[K].input not in sent, "more than K demonstrations were sent"

    click_button(page, "Run")
    wait_for_text(page, "Answer:")
    wait_ready(page)
    assert page_problems(page) == []
    answer = expected.answer if expected.answer is not None else "(none found)"
    assert page.get_by_text(f"Answer: {answer}", exact=True).is_visible()
