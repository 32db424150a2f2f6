"""Demonstrations in a real browser: the Prompt Builder's spec, nearest demonstrations for a query, their scores,
run, then hand them to the Prompt Builder.

The query is a near copy of one review in the sample pool (one word changed), so the
nearest demonstration must be that review, by far, and in the default "most similar
last" order it comes last, right before the query.
"""

from __future__ import annotations

import json

import pytest

from tests.e2e.harness import (
    choose_radio,
    click_button,
    code_blocks,
    grid_rows,
    navigate,
    open_expander,
    open_page,
    page_problems,
    set_number,
    set_text_area,
    type_in_grid,
    upload,
    wait_for_text,
    wait_ready,
)
from workbench.data import load_sample

pytestmark = pytest.mark.e2e

INSTRUCTION = "Say whether each review below is positive or negative (e2e)."
K = 3


def test_nearest_demonstrations_with_scores_then_run(page, app):
    pool = load_sample("sentiment")
    twin = pool[1].input  # "A dull, plodding mess that forgets its own plot halfway through."
    query = twin.replace("A dull, plodding", "A dull and plodding")
    assert query != twin

    open_page(page, app, "views/1_Prompt_Builder.py")
    set_text_area(page, "Task instruction (literal text)", INSTRUCTION)
    wait_ready(page)
    navigate(page, "Demonstrations")  # same session: the spec travels with it
    wait_for_text(page, "Why:")
    set_text_area(page, "Query", query)
    set_number(page, "K demonstrations", K)
    set_number(page, "max_new_tokens", 4)
    wait_ready(page)
    assert page.get_by_label("Selector", exact=True).input_value().startswith("nearest")

    rows = grid_rows(page)
    assert [int(r["position"]) for r in rows] == list(range(1, K + 1))
    scores = [float(r["score"]) for r in rows]
    assert scores == sorted(scores), f"most similar last: scores must rise, got {scores}"
    assert rows[-1]["input"] == twin, "the pool's near copy of the query is not the nearest demonstration"
    assert scores[-1] > 0.9 and scores[-1] - scores[-2] > 0.2, f"the near copy should stand out: {scores}"
    assert all(-1.0 <= s <= 1.0 + 1e-6 for s in scores)
    by_input = {e.input: e.answer for e in pool}
    assert all(by_input[r["input"]] == r["answer"] for r in rows), "a demonstration lost its label"

    open_expander(page, "Plain text (to copy)")
    sent = code_blocks(page)[-1]
    assert sent.startswith(INSTRUCTION), "the Prompt Builder's spec did not reach the Demonstrations page"
    positions = [sent.index(r["input"]) for r in rows]
    assert positions == sorted(positions), "the demonstrations are not sent in the table's order"
    assert sent.rstrip().endswith(json.dumps(query)[1:-1] + "\nSentiment:")

    click_button(page, "Run")
    wait_for_text(page, "Answer:")
    wait_ready(page)
    assert page_problems(page) == []

    # Hand them to the Prompt Builder: its editor shows them, in this order, with the query, and a note.
    click_button(page, f"Use these {K} demonstrations in the Prompt Builder")
    page.wait_for_function("() => document.querySelector('h1')?.textContent.includes('Prompt Builder')",
                           timeout=90_000)
    wait_ready(page)
    wait_for_text(page, f"{K} demonstrations from the Demonstrations page (nearest, similar_last).", timeout_ms=30_000)
    assert [r["input"] for r in grid_rows(page)] == [r["input"] for r in rows]
    open_expander(page, "Plain text (to copy)")
    built = code_blocks(page)[-1]
    assert built == sent, "the Builder builds another prompt from the one the Demonstrations page showed"


#: A file as people have them: ``text,label``, not the workbench's question/answer columns (issue 33 item 1).
REVIEWS = [("A warm, funny and moving film", "positive"), ("Dull, slow and far too long", "negative"),
           ("I loved every minute of it", "positive"), ("A waste of two hours", "negative"),
           ("Great acting and a clever story", "positive"), ("The plot makes no sense at all", "negative")]
UPLOAD_LABEL = "Pool: CSV, TSV, JSON, JSONL, PARQUET"


def reviews_csv(labels: dict[str, str] | None = None) -> bytes:
    """The reviews as ``text,label`` CSV, the labels written through ``labels`` (e.g. positive -> 1)."""
    rows = [f'"{text}",{(labels or {}).get(label, label)}' for text, label in REVIEWS]
    return ("text,label\n" + "\n".join(rows) + "\n").encode()


def upload_reviews(page, app, data: bytes) -> None:
    open_page(page, app, "views/2_Demonstrations.py")
    choose_radio(page, "Upload")
    upload(page, UPLOAD_LABEL, "reviews.csv", data, "text/csv")
    wait_ready(page)
    assert page_problems(page) == [], "a text,label file must load through the column mapping"
    assert page.get_by_label("Input column", exact=True).input_value() == "text"
    assert page.get_by_label("Answer column", exact=True).input_value() == "label"


def test_a_text_label_file_with_word_labels_is_mapped_and_runs(page, app):
    upload_reviews(page, app, reviews_csv())
    wait_for_text(page, "labels: positive, negative", timeout_ms=60_000)
    set_text_area(page, "Query", "A funny and moving story")
    set_number(page, "K demonstrations", 2)
    set_number(page, "max_new_tokens", 2)
    by_text = dict(REVIEWS)
    rows = grid_rows(page, nth=2)  # the preview, the label names, then the chosen demonstrations
    assert len(rows) == 2 and all(by_text[r["input"]] == r["answer"] for r in rows), rows
    open_expander(page, "Plain text (to copy)")
    sent = code_blocks(page)[-1]
    assert all(r["input"] in sent for r in rows)
    click_button(page, "Run")
    wait_for_text(page, "Answer:")
    wait_ready(page)
    assert page_problems(page) == []


def test_a_text_label_file_with_0_1_labels_gets_label_names(page, app):
    upload_reviews(page, app, reviews_csv({"positive": "1", "negative": "0"}))
    wait_for_text(page, "labels: 1, 0", timeout_ms=60_000)
    assert [r["value"] for r in grid_rows(page, nth=1)] == ["1", "0"]  # the label values, in file order
    type_in_grid(page, "positive", row=0, column=1, nth=1)
    type_in_grid(page, "negative", row=1, column=1, nth=1)
    wait_for_text(page, "labels: positive, negative", timeout_ms=60_000)
    assert page_problems(page) == []
    set_number(page, "K demonstrations", 3)
    by_text = dict(REVIEWS)
    rows = grid_rows(page, nth=2)
    assert len(rows) == 3 and all(by_text[r["input"]] == r["answer"] for r in rows), rows
