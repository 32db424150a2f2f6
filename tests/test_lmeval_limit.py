"""lm-eval tasks render only the documents a run uses (review #27, finding 9): ``load_plan(path, limit)``
renders the first ``limit`` documents, with the few-shot examples lm-eval draws for them on the whole split,
and all template work before a run stops at RENDER_BUDGET_S in one line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from workbench.errors import ConfigError
from workbench.interop.lmeval import load_plan
from workbench.interop.lmeval import plan as plan_module

SENTIMENT = Path(__file__).resolve().parents[1] / "examples" / "lm-eval" / "sentiment.yaml"
TASK = """task: tiny
dataset_path: json
dataset_kwargs: {data_files: {test: docs.jsonl}}
output_type: generate_until
test_split: test
doc_to_text: "Q: {{ 12 // n }}"
doc_to_target: a
"""


def test_limit_renders_only_the_documents_the_run_uses(tmp_path):
    docs = [{"n": 1, "a": "12"}, {"n": 2, "a": "6"}, {"n": 0, "a": "its template cannot render"}]
    (tmp_path / "docs.jsonl").write_text("".join(json.dumps(d) + "\n" for d in docs), encoding="utf-8")
    (tmp_path / "task.yaml").write_text(TASK, encoding="utf-8")
    plan = load_plan(tmp_path / "task.yaml", limit=2)
    assert [ex.input for ex in plan.dataset] == ["Q: 12", "Q: 6"]
    with pytest.raises(ConfigError, match=r"^tiny: The doc_to_text template .*integer division or modulo by zero"):
        load_plan(tmp_path / "task.yaml")  # the third document is rendered only when the run uses it


def test_limit_keeps_lm_evals_few_shot_draw():
    whole, first = load_plan(SENTIMENT), load_plan(SENTIMENT, limit=3)
    assert len(first.dataset) == 3 and len(whole.dataset) == 30
    assert list(first.dataset) == list(whole.dataset)[:3]
    assert first.dataset[2].vars["lm_eval_prefix"] == whole.dataset[2].vars["lm_eval_prefix"] != \
        whole.dataset[1].vars["lm_eval_prefix"]


def test_template_work_past_the_budget_is_one_line(monkeypatch):
    monkeypatch.setattr(plan_module, "RENDER_BUDGET_S", -1.0)
    with pytest.raises(ConfigError) as err:
        load_plan(SENTIMENT, limit=5)
    assert str(err.value) == ("sentiment.yaml: rendering the prompts took over -1 s by document 1 of 5; run fewer "
                              "documents (--limit).")
