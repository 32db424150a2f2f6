"""Decoding Lab in a real browser: the same prompt under two presets (Greedy, Balanced), two outputs side by side."""

from __future__ import annotations

import json

import pytest

from tests.conftest import real_backend
from tests.e2e.harness import (
    click_button,
    download,
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

PROMPT = "The capital of France is"
MAX_NEW = 6


def test_two_presets_give_two_outputs(page, app):
    open_page(page, app, "pages/4_Decoding_Lab.py")
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
