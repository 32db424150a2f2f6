"""The home page in a real browser: type a prompt, click Generate, watch the completion stream in."""

from __future__ import annotations

import time

import pytest

from tests.conftest import real_backend
from tests.e2e.harness import (
    arm_generation,
    click_button,
    generation_result,
    normalise,
    open_page,
    set_number,
    set_text_area,
    wait_for_text,
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
