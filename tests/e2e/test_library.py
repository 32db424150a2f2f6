"""Library in a real browser: open a classroom demo set and download it as JSON, YAML and rendered JSONL.

Each downloaded file is parsed and must be the shipped set (or its rendered prompts) exactly.
"""

from __future__ import annotations

import json
import re

import pytest

from tests.e2e.harness import download, open_page, open_tab, page_problems, select_option, wait_ready
from workbench import promptsets as ps

pytestmark = pytest.mark.e2e

SET = "zero_vs_few_shot"  # prompts/classroom/zero_vs_few_shot.yaml: two steps, four test inputs


def test_open_a_classroom_set_and_export_it(page, app):
    shipped = ps.classroom_sets()[SET]
    open_page(page, app, "pages/6_Library.py")
    select_option(page, re.compile(r"^Open a set"), f"🎓 {shipped.name}")
    page.get_by_role("heading", name=shipped.name).wait_for()
    open_tab(page, "Export")
    wait_ready(page)
    assert page_problems(page) == []

    stem = re.sub(r"[^A-Za-z0-9_-]+", "_", shipped.name).strip("_")
    name, data = download(page, "⬇ JSON (the set)")
    assert name == f"{stem}.json"
    assert ps.loads(data, "json", source=name).to_dict() == shipped.to_dict()
    name, data = download(page, "⬇ YAML (the set)")
    assert name == f"{stem}.yaml"
    assert ps.loads(data, "yaml", source=name).to_dict() == shipped.to_dict()

    name, data = download(page, "⬇ JSONL (raw)")
    assert name == f"{stem}.raw.jsonl"
    lines = [json.loads(line) for line in data.decode().splitlines()]
    assert len(lines) == len(shipped.steps) * len(shipped.tests)
    assert lines == [json.loads(line) for line in ps.render_jsonl(shipped).splitlines()]
    few_shot = lines[len(shipped.tests)]["prompt"]  # step 2, first input: six demonstrations, then the review
    assert few_shot.count("Sentiment:") == 7 and few_shot.rstrip().endswith(
        f"Review: {shipped.tests[0].input}\nSentiment:")
