"""A promptfoo config on the Evaluate page in a real browser (issue 27): the shipped example picked, what it holds
read before the run, two tests run on its two real models, and the prompt x model matrix on the Results tab equal
to what the server stored; whole labels and nothing wider than the window at 1280x800.
"""

from __future__ import annotations

import re

import pytest

from tests.e2e.harness import (
    broken_labels,
    choose_radio,
    code_blocks,
    horizontal_overflow,
    open_page,
    page_problems,
    screenshot,
    select_option,
    set_number,
    wait_ready,
)
from tests.e2e.test_evaluate import SCREENSHOTS, press_run
from tests.e2e.test_judging import grid_with
from ui.matrix import place
from workbench.evaluate.metrics import summarize
from workbench.store import DB_FILENAME, open_store

pytestmark = pytest.mark.e2e

EXAMPLE = "examples/promptfoo/promptfooconfig.yaml"


def test_the_example_config_runs_on_its_two_models_and_shows_the_matrix(page, app, server):
    open_page(page, app, "views/5_Evaluate.py")
    choose_radio(page, "A promptfoo config")
    select_option(page, "Promptfoo config", EXAMPLE)
    wait_ready(page)
    assert page_problems(page) == []
    headline = page.get_by_text(re.compile(r"^promptfooconfig\.yaml: \d+ prompts × \d+ models")).first
    headline.wait_for(timeout=30_000)
    assert any("{{country}}" in block for block in code_blocks(page))  # the prompts as written
    assert broken_labels(page) == [] and horizontal_overflow(page) == 0  # whole labels at 1280x800
    set_number(page, "Tests (0 = all)", 2)

    press_run(page)
    heading = page.get_by_role("heading", name=re.compile(r"^Run \d+$"))
    heading.wait_for(timeout=300_000)
    wait_ready(page)
    assert page_problems(page) == []
    run_id = int(heading.inner_text().split()[1])
    store = open_store(server.data_dir / DB_FILENAME)
    records = store.results(run_id)
    meta = store.get_run(run_id).meta
    # The matrix: one row per prompt, one column per model, each cell the stored pass rate of that strategy.
    cells = {place(s.strategy, None, "") : f"{s.accuracy:.1%} (n={s.n})" for s in summarize(records)}
    models = list(dict.fromkeys(model for _, model in cells))
    assert len(models) == 2 and {d["model"] for d in meta["strategies"]} == {"gemma-3-270m", "smollm2-135m-instruct"}
    matrix = grid_with(page, models[1])
    assert [(row["prompt"], row[models[0]], row[models[1]]) for row in matrix] == \
        [(p, cells[(p, models[0])], cells[(p, models[1])]) for p in dict.fromkeys(p for p, _ in cells)]
    assert grid_with(page, "A − B")  # the paired comparisons along the axes
    assert broken_labels(page) == [] and horizontal_overflow(page) == 0
    screenshot(page, SCREENSHOTS / "evaluate-promptfoo-matrix.png")
