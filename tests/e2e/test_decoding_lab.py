"""Decoding Lab in a real browser: the same prompt under two presets (Greedy, Balanced), two outputs side by side."""

from __future__ import annotations

import json
import re
import time

import pytest

from tests.conftest import real_backend
from tests.e2e.harness import (
    button,
    click_button,
    download,
    navigate,
    normalise,
    open_page,
    open_tab,
    page_problems,
    select_option,
    set_number,
    set_text_area,
    wait_for_text,
    wait_ready,
)
from workbench.decoding import DecodingConfig

pytestmark = pytest.mark.e2e

PROMPT = "The capital of France is"
MAX_NEW = 6


def test_two_presets_give_two_outputs(page, app):
    open_page(page, app, "views/4_Decoding_Lab.py")
    set_text_area(page, "Prompt A", PROMPT)
    for column in range(2):  # config 1 starts on Greedy, config 2 on Balanced
        set_number(page, "max_new_tokens", MAX_NEW, nth=column)
    assert page.get_by_text("1. Greedy").count() == 0  # nothing run yet
    click_button(page, "Run")
    wait_for_text(page, "Grid finished in")
    wait_ready(page)
    assert page_problems(page) == []

    outputs = page.locator(".lab-out").all_inner_texts()
    assert len(outputs) == 2, "one output per decoding config"
    greedy = real_backend("gemma-3-270m").complete(PROMPT, DecodingConfig(max_new_tokens=MAX_NEW)).text
    assert normalise(outputs[0]) == normalise(greedy), "the Greedy column is not the greedy completion"
    assert outputs[1].strip(), "the Balanced column is empty"
    for label in ("1. Greedy", "2. Balanced"):
        assert page.get_by_text(label, exact=True).is_visible()

    name, data = download(page, "Export grid as JSON")
    assert name == "decoding_grid.json"
    grid = json.loads(data)
    assert [c["label"] for c in grid["configs"]] == ["1. Greedy", "2. Balanced"]
    assert [(c["do_sample"], c["max_new_tokens"]) for c in grid["configs"]] == [(False, MAX_NEW), (True, MAX_NEW)]
    texts = [o["text"] for o in grid["outputs"]]
    assert [normalise(t) for t in texts] == [normalise(o) for o in outputs], "the export differs from the page"


def test_an_out_of_range_field_says_why_and_run_waits(page, app):
    """-1 for a temperature: said under the field (not in a hover tooltip), and Run waits until it is fixed."""
    open_page(page, app, "views/4_Decoding_Lab.py")
    set_text_area(page, "Prompt A", PROMPT)
    select_option(page, "Decoding preset", "Custom", nth=0)
    set_number(page, "temperature", -1, nth=0)
    # (Markdown shows ">=" as "≥".)
    wait_for_text(page, re.compile(r"temperature must be (>=|≥) 0 \(got -1\.0\); use 0 or greedy"), timeout_ms=30_000)
    run = button(page, "Run")
    assert run.is_disabled(), "Run must wait while a field is invalid"
    set_number(page, "temperature", 0.5, nth=0)
    assert page.get_by_text(re.compile("temperature must be")).count() == 0
    assert run.is_enabled()


def test_prompt_and_configs_survive_a_visit_to_another_page(page, app):
    open_page(page, app, "views/4_Decoding_Lab.py")
    set_text_area(page, "Prompt A", "Once upon a time")
    set_number(page, "Decoding configs to compare", 3)
    set_number(page, "max_new_tokens", 9, nth=2)
    navigate(page, "Evaluate")
    navigate(page, "Home")
    navigate(page, "Decoding Lab")
    assert page.get_by_role("textbox", name="Prompt A", exact=True).input_value() == "Once upon a time"
    assert page.get_by_label("Decoding configs to compare", exact=True).input_value() == "3"
    assert page.get_by_text(re.compile(r"^Config \d$")).count() == 3
    assert page.get_by_label("max_new_tokens", exact=True).nth(2).input_value() == "9"
    assert page_problems(page) == []


@pytest.mark.parametrize("tab", ["Compare configs", "Self-consistency"])
def test_stop_ends_a_grid_or_a_vote_at_once(page, app, tab):
    """The grid and the self-consistency vote each get a Stop button; a Stop ends the work at its next cell or path."""
    open_page(page, app, "views/4_Decoding_Lab.py")
    set_text_area(page, "Prompt A", "Once upon a time, in a small village by the sea,")
    if tab == "Compare configs":
        set_number(page, "Decoding configs to compare", 4)
        for column in range(4):
            set_number(page, "max_new_tokens", 120, nth=column)
        button, done = "Run", re.compile(r"^Grid finished in")
    else:
        open_tab(page, tab)
        set_number(page, "Reasoning paths", 8)
        set_number(page, "max_new_tokens", 120, nth=3)  # the self-consistency settings (after 2 configs + explorer)
        button, done = "Sample and vote", re.compile(r"^Majority answer$")
    click_button(page, button)
    stop = page.get_by_role("button", name="Stop", exact=True)
    stop.wait_for(timeout=60_000)
    page.wait_for_timeout(1500)
    started = time.perf_counter()
    stop.click()
    wait_for_text(page, "Stopped; the model is free for the next request.", timeout_ms=60_000)
    wait_ready(page)
    print(f"{tab}: stopped {time.perf_counter() - started:.2f} s after the click")
    assert page.get_by_text(done).count() == 0, "the work ran to its end instead of stopping"
    assert stop.count() == 0
    assert page_problems(page) == []
