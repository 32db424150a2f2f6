"""Library in a real browser: open a classroom demo set and download it as JSON, YAML and rendered JSONL;
import a shared set whose notes try to load images from elsewhere.

Each downloaded file is parsed and must be the shipped set (or its rendered prompts) exactly.
"""

from __future__ import annotations

import dataclasses
import json
import re

import pytest

from tests.e2e.harness import (
    click_button,
    download,
    open_page,
    open_tab,
    page_problems,
    rerun,
    select_option,
    upload,
    wait_for_text,
    wait_ready,
)
from workbench.promptsets.exports import render_jsonl
from workbench.promptsets.files import classroom_sets, loads, to_yaml

pytestmark = pytest.mark.e2e

SET = "zero_vs_few_shot"  # workbench/shipped/classroom/zero_vs_few_shot.yaml: two steps, four test inputs


def test_the_overview_shows_every_sets_whole_description(page, app):
    """At 1280x800 no "about" text is cut at a column's edge: each classroom set's description is on the page
    in full, as text (a data-grid column cut them)."""
    open_page(page, app, "views/6_Library.py")
    width = page.viewport_size["width"]
    for pset in classroom_sets().values():
        cell = page.get_by_text(pset.description, exact=True).first
        assert cell.is_visible(), f"{pset.name}: its description is not shown as text"
        box = cell.bounding_box()
        assert box is not None and box["x"] + box["width"] <= width, f"{pset.name}: its description runs off the page"
        assert cell.evaluate("e => e.scrollWidth <= e.clientWidth + 1"), f"{pset.name}: its description is cut"
    assert page_problems(page) == []


def test_open_a_classroom_set_and_export_it(page, app):
    shipped = classroom_sets()[SET]
    open_page(page, app, "views/6_Library.py")
    select_option(page, re.compile(r"^Open a set"), f"🎓 {shipped.name}")
    page.get_by_role("heading", name=shipped.name).wait_for()
    open_tab(page, "Export")
    wait_ready(page)
    assert page_problems(page) == []

    stem = re.sub(r"[^A-Za-z0-9_-]+", "_", shipped.name).strip("_")
    name, data = download(page, "⬇ JSON (the set)")
    assert name == f"{stem}.json"
    assert loads(data, "json", source=name).to_dict() == shipped.to_dict()
    name, data = download(page, "⬇ YAML (the set)")
    assert name == f"{stem}.yaml"
    assert loads(data, "yaml", source=name).to_dict() == shipped.to_dict()

    name, data = download(page, "⬇ JSONL (raw)")
    assert name == f"{stem}.raw.jsonl"
    lines = [json.loads(line) for line in data.decode().splitlines()]
    assert len(lines) == len(shipped.steps) * len(shipped.tests)
    assert lines == [json.loads(line) for line in render_jsonl(shipped).splitlines()]
    few_shot = lines[len(shipped.tests)]["prompt"]  # step 2, first input: six demonstrations, then the review
    assert few_shot.count("Sentiment:") == 7 and few_shot.rstrip().endswith(
        f"Review: {shipped.tests[0].input}\nSentiment:")


def test_an_imported_sets_notes_load_nothing_from_other_hosts(page, app):
    beacon = "http://beacon.invalid"  # never resolves; the browser's request for it is what counts
    base = classroom_sets()[SET]
    step = dataclasses.replace(base.steps[0], notes=f"Step notes ![step]({beacon}/step.png)")
    shared = dataclasses.replace(base.renamed("Beacon notes"), steps=(step,), description=f"![d]({beacon}/d.png)",
                                 notes=f"Look ![pixel]({beacon}/notes.png) <img src=\"{beacon}/raw.png\">\n\n"
                                       f"![ref][r]\n\n[r]: {beacon}/ref.png")
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    open_page(page, app, "views/6_Library.py")
    upload(page, "A prompt-set file someone shared", "shared.yaml", to_yaml(shared).encode(), "application/x-yaml")
    with rerun(page):
        click_button(page, "Import")
    page.get_by_role("heading", name="Beacon notes").wait_for()
    wait_ready(page)
    assert [url for url in requested if url.startswith(beacon)] == []
    assert page.locator(f'img[src^="{beacon}"]').count() == 0
    assert page_problems(page) == []
    wait_for_text(page, f"Step notes ![step]({beacon}/step.png)", timeout_ms=30_000)  # the notes, as text
