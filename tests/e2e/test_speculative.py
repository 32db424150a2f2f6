"""Speculative Decoding page in a real browser: run prompt lookup on a shipped copy-heavy example, then read the
coloured output, the origin counts, the metrics and the acceptance table off the page and check that they agree
with each other and with the library's own trace of the same prompt and settings."""

from __future__ import annotations

import re

import pytest

from tests.conftest import real_backend
from tests.e2e.harness import (
    click_button,
    grid_rows,
    normalise,
    open_page,
    page_problems,
    set_number,
    wait_for_text,
    wait_ready,
)
from workbench.decoding import DecodingConfig
from workbench.speculative.examples import examples
from workbench.speculative.records import ORIGINS, SpeculativeConfig
from workbench.speculative.runs import trace

pytestmark = pytest.mark.e2e

MAX_NEW = 16
DRAFT_TOKENS = 6
#: The caption under the coloured output: "<a> accepted, <r> at rejected drafts, <t> from the target = <n> tokens".
COUNTS = re.compile(r"(\d+) accepted, (\d+) at rejected drafts, (\d+) from the target = (\d+) tokens")


def metrics(page) -> dict[str, str]:
    """Every st.metric on the page: label -> value, as shown."""
    return page.locator('[data-testid="stMetric"]').evaluate_all(
        """els => Object.fromEntries(els.map(e => [
               e.querySelector('[data-testid="stMetricLabel"]').textContent.trim(),
               e.querySelector('[data-testid="stMetricValue"]').textContent.trim()]))""")


def coloured_tokens(page) -> list[dict[str, str]]:
    """The coloured output's spans in order: their origin class, background colour and text."""
    return page.locator(".spec-out .spec-tok").evaluate_all(
        """els => els.map(e => ({origin: [...e.classList].find(c => c.startsWith('spec-') && c !== 'spec-tok')
                                          .slice(5),
                                 background: e.style.background, text: e.textContent}))""")


def test_prompt_lookup_run_shows_coloured_output_and_an_acceptance_table_that_add_up(page, app):
    open_page(page, app, "views/7_Speculative_Decoding.py")
    example = examples()[0]  # the page starts on the first shipped example, a copy-heavy one
    assert example.kind == "copy-heavy"
    prompt_box = page.get_by_role("textbox", name="Prompt (the exact text sent)", exact=True)
    assert prompt_box.input_value() == example.prompt
    set_number(page, "max_new_tokens", MAX_NEW)
    set_number(page, "Draft tokens per step", DRAFT_TOKENS)
    assert page.locator(".spec-out").count() == 0  # nothing run yet
    click_button(page, "Run")
    wait_for_text(page, COUNTS)
    wait_ready(page)
    assert page_problems(page) == []

    # The coloured output: one span per output token, each on its origin's colour, some drafts accepted.
    spans = coloured_tokens(page)
    assert len(spans) == MAX_NEW
    assert {s["origin"] for s in spans} <= set(ORIGINS)
    assert sum(s["origin"] == "accepted" for s in spans) > 0, "a copy-heavy prompt: some drafts must be accepted"
    backgrounds = {s["origin"]: s["background"] for s in spans}
    assert len(set(backgrounds.values())) == len(backgrounds), "two origins share a colour"

    # The counts under it add up to the output length and match the spans.
    accepted, rejected, target, total = map(int, COUNTS.search(page.locator("body").inner_text()).groups())
    assert accepted + rejected + target == total == len(spans)
    assert [accepted, rejected, target] == [sum(s["origin"] == o for s in spans) for o in ORIGINS]

    # The acceptance table: one row per target pass; its columns add up to the same figures.
    rows = grid_rows(page)
    shown = metrics(page)
    assert len(rows) == int(shown["Target passes"]) == total - int(shown["Passes saved"])
    assert sum(int(r["tokens produced"]) for r in rows) == total
    assert sum(int(r["accepted"]) for r in rows) == accepted
    drafted = sum(int(r["drafted"]) for r in rows)
    assert all(int(r["accepted"]) <= int(r["drafted"]) <= DRAFT_TOKENS for r in rows)
    assert shown["Acceptance rate"] == f"{accepted / drafted:.0%}"
    assert shown["Speed ratio"].endswith("×") and float(shown["Speed ratio"][:-1]) > 0

    # The page shows the library's trace: the same tokens, with the same origins, as a trace run here.
    expected = trace(real_backend("gemma-3-270m"), example.prompt, DecodingConfig(max_new_tokens=MAX_NEW),
                        SpeculativeConfig(draft_tokens=DRAFT_TOKENS))
    assert [s["origin"] for s in spans] == [t.origin for t in expected.tokens]
    assert normalise("".join(s["text"] for s in spans)) == normalise(expected.text)


def test_the_timing_summary_is_in_words(page, app):
    """Issue 33 item 4: "runs (1.017,) s vs plain (the same Llama, no drafts) (2.6803,) s" becomes a sentence."""
    open_page(page, app, "views/7_Speculative_Decoding.py")
    set_number(page, "max_new_tokens", 8)
    set_number(page, "Timed runs of each (interleaved, medians)", 2)
    click_button(page, "Run")
    wait_for_text(page, COUNTS)
    wait_ready(page)
    line = page.get_by_text(re.compile(r"^Speculative, ")).first.inner_text()
    assert not re.search(r"\(\d+(\.\d+)?,", line), f"a Python tuple on the page: {line}"
    assert re.fullmatch(r"Speculative, prompt-lookup .+: \d+ tokens? in \d+\.\d\d s \(median of 2 runs: "
                        r"\d+\.\d\d and \d+\.\d\d s\)\. Plain decoding, .+: \d+ tokens? in \d+\.\d\d s "
                        r"\(median of 2 runs: \d+\.\d\d and \d+\.\d\d s\)\.", line), line
