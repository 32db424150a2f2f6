"""Auto-CoT in a real browser: two clusters over a handful of arithmetic questions, rationales by the model;
fallbacks flagged when asked; "Use as demonstrations" opens the Prompt Builder with them, and its prompt
sends them; a hostile demo file is one red line."""

from __future__ import annotations

import re

import pytest

from tests.e2e.harness import (
    button,
    click_button,
    code_blocks,
    download,
    grid_rows,
    open_expander,
    open_page,
    page_problems,
    rerun,
    set_number,
    set_text_area,
    toggle,
    upload,
    wait_for_text,
    wait_ready,
)
from workbench.autocot.files import demos_from_json
from workbench.data import load_sample

pytestmark = pytest.mark.e2e

K = 2
QUESTIONS = 6


def test_autocot_builds_one_demo_per_cluster(page, app):
    pool = load_sample("arithmetic")  # the page's default pool
    used = {e.input for e in list(pool)[:QUESTIONS]}

    open_page(page, app, "views/3_Auto-CoT.py")
    set_number(page, "Demonstrations k (clusters)", K)
    set_number(page, "Questions used (0 = all)", QUESTIONS)
    set_number(page, "max_new_tokens per rationale", 16)
    set_number(page, "Rationales tried per cluster", 1)
    toggle(page, "Fallback: a cluster with no passing candidate gives its nearest candidate (marked)")
    click_button(page, "Build demonstrations")
    wait_for_text(page, f"Done: {K} demonstrations from {K} clusters")
    wait_ready(page)
    assert page_problems(page) == []

    assert page.locator('[data-testid="stVegaLiteChart"]').first.is_visible(), "no cluster scatter plot"
    for c in range(K):
        assert page.get_by_text(f"Cluster {c}:").first.is_visible()
    rows = grid_rows(page)  # the editable table (its columns right of the rationale are scrolled away)
    assert len(rows) == K
    assert all(r["question"] in used for r in rows), "a demonstration came from outside the questions used"

    name, data = download(page, "Export demo file (JSON)")
    assert name == "autocot_demos.json"
    demos = demos_from_json(data)
    assert [d.question for d in demos] == [r["question"] for r in rows]
    assert sorted(d.cluster for d in demos) == list(range(K)), "not one demonstration per cluster"
    assert all(d.rationale.startswith("Let's think step by step.") for d in demos), "a rationale lacks the trigger"
    flagged = [d.cluster for d in demos if d.fallback]
    if flagged:  # 16 tokens rarely end a rationale with ".": the page says which clusters fell back
        wait_for_text(page, f"Fallback in cluster {', '.join(map(str, sorted(flagged)))}")

    # "Use as demonstrations": the Prompt Builder opens showing them (not its starter), and sends them.
    click_button(page, "Use as demonstrations")
    page.wait_for_function("() => document.querySelector('h1')?.textContent.includes('Prompt Builder')",
                           timeout=90_000)
    wait_ready(page)
    wait_for_text(page, f"{K} demonstrations from Auto-CoT.", timeout_ms=30_000)
    assert [r["input"] for r in grid_rows(page)] == [d.question for d in demos], "the Builder's table lacks them"
    query = next(e.input for e in pool if e.input not in used)
    set_text_area(page, "Input (the query)", query)
    set_number(page, "max_new_tokens", 4)
    wait_for_text(page, f"· {K} demonstrations", timeout_ms=30_000)
    wait_ready(page)
    open_expander(page, "Plain text (to copy)")
    sent = code_blocks(page)[-1]
    for d in demos:
        assert f"Q: {d.question}\nA: {d.rationale}" in sent, "an Auto-CoT demonstration is not sent as built"
    assert sent.endswith(f"Q: {query}\nA: Let's think step by step.")
    click_button(page, "Run")
    wait_for_text(page, "Answer:")
    wait_ready(page)
    assert page_problems(page) == []


def test_a_hostile_demo_file_is_one_red_line(page, app):
    open_page(page, app, "views/3_Auto-CoT.py")
    upload(page, "Import a demo file (the reference's JSON shape)", "bad.json", b'{"demo": ["\xff"]}',
           "application/json")
    message = "bad.json is not UTF-8 text (byte 11); save it as UTF-8."
    wait_for_text(page, message)
    wait_ready(page)
    problems = page_problems(page)
    assert len(problems) == 1 and problems[0].endswith(message), problems  # one red line, no traceback


def test_the_defaults_on_gemma_give_demonstrations_or_a_one_click_way_on(page, app):
    """Issue 33 item 6: with the page's defaults (4 clusters over the arithmetic sample, the reference's filters) the
    270M base model's rationales rarely pass; the page says why and what to change, and one click uses each
    dropped cluster's nearest candidate, marked fallback, from the rationales already written. (One rationale per
    cluster here, to keep the test short; the defaults try 8.)"""
    open_page(page, app, "views/3_Auto-CoT.py")
    assert page.get_by_label("Demonstrations k (clusters)", exact=True).input_value() == "4"
    set_number(page, "Rationales tried per cluster", 1)
    click_button(page, "Build demonstrations")
    wait_for_text(page, "Done:")
    wait_ready(page)
    assert page_problems(page) == []
    retry = page.get_by_role("button", name=re.compile(r"^Use the nearest candidate of \d+ dropped cluster"))
    if retry.count():  # some cluster kept nothing: said, with what to change, and one click on
        text = page.locator('[data-testid="stAlert"]').filter(has_text="Dropped cluster").first.inner_text()
        assert "What to change" in text and "Max rationale steps" in text, text
        with rerun(page):
            retry.click()
        wait_ready(page)
        assert page.get_by_text("Dropped cluster").count() == 0
        assert page_problems(page) == []
    rows = grid_rows(page)
    assert len(rows) == 4, "one demonstration per cluster"
    assert button(page, "Use as demonstrations").is_enabled()
