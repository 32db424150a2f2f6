"""Agreement with the peer itself (issue 27, item 4): lm-evaluation-harness's ``simple_evaluate`` with its ``hf``
model (HFLM) and ``workbench eval --task``'s runner on our transformers backend, on the same weights (the embedded
gemma-3-270m GGUF, dequantised by transformers) and the same task file, give the same acc and acc_norm and the
same per-document log-likelihoods.

HFLM is handed the model object our backend loaded (``HFLM(pretrained=<PreTrainedModel>, tokenizer=...)``): that
is lm-eval's own way to evaluate a loaded model, and it spares a second load of the GGUF (20-130 s on 2 cores).
Both load it as ``from_pretrained(folder, gguf_file=name)`` (our ``workbench.backends.hf``, lm-eval's
``gguf_file`` argument)."""

from __future__ import annotations

import json

import pytest

from tests.conftest import ROOT, real_backend
from workbench.interop.lmeval import load_plan

pytestmark = pytest.mark.slow  # loads the transformers backend

LABELS = ["abbreviation", "entity", "description", "human", "location", "number"]

TASK = """task: trec_types
dataset_path: json
dataset_kwargs:
  data_files:
    train: train.jsonl
    test: test.jsonl
output_type: multiple_choice
training_split: train
fewshot_split: train
test_split: test
num_fewshot: 1
description: "Classify each question by the type of its answer.\\n\\n"
doc_to_text: "Question: {{question}}\\nType:"
doc_to_choice: LABELS
doc_to_target: answer
metric_list:
  - metric: acc
  - metric: acc_norm
""".replace("LABELS", json.dumps(LABELS))


def test_acc_acc_norm_and_loglikelihoods_equal_lm_evals_simple_evaluate(tmp_path, monkeypatch):
    from lm_eval import simple_evaluate
    from lm_eval.models.huggingface import HFLM
    from lm_eval.tasks import TaskManager

    from workbench.evaluate.runner import evaluate
    from workbench.store import open_store

    rows = [json.loads(line) for line in (ROOT / "workbench" / "samples" / "trec_questions.jsonl").open()]
    assert len(rows) == 30 and {r["answer"] for r in rows} == set(LABELS)
    (tmp_path / "test.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows[:20]))
    (tmp_path / "train.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows[20:]))
    (tmp_path / "trec_types.yaml").write_text(TASK)
    backend = real_backend("gemma-3-270m", "transformers")

    plan = load_plan(tmp_path / "trec_types.yaml")
    with open_store(tmp_path / "wb.db") as store:
        run = evaluate(plan.dataset, plan.pool, list(plan.strategies), backend, store, limit=20)
        ours = {(r["strategy"], r["id"]): r for r in store.results(run.run_id)}
    acc = {s.strategy: s.correct / s.n for s in run.summaries}

    monkeypatch.chdir(tmp_path)  # lm-eval reads data_files from the working directory
    monkeypatch.setenv("HF_DATASETS_CACHE", str(tmp_path / "hf-datasets"))
    lm = HFLM(pretrained=backend.model, tokenizer=backend.tokenizer, batch_size=8)
    out = simple_evaluate(model=lm, tasks=["trec_types"], limit=20, log_samples=True,
                          task_manager=TaskManager(include_path=str(tmp_path), include_defaults=False))
    theirs = out["results"]["trec_types"]
    assert acc["trec_types/acc"] == theirs["acc,none"]
    assert acc["trec_types/acc_norm"] == theirs["acc_norm,none"]
    samples = out["samples"]["trec_types"]
    assert sorted(s["doc_id"] for s in samples) == list(range(20))
    worst = 0.0
    for s in samples:
        mine = ours[("trec_types/acc", str(s["doc_id"]))]
        assert mine["prompt"] == s["arguments"][0][0] + " "  # the same context (the delimiter ends ours)
        lls = [ll for ll, _ in (r[0] if isinstance(r[0], (list, tuple)) else r for r in s["resps"])]
        ll_ours = [mine["logliks"][str(i)] for i in range(len(LABELS))]
        worst = max(worst, *(abs(a - b) for a, b in zip(ll_ours, lls, strict=True)))
        assert s["acc"] == float(mine["correct"])
        assert s["acc_norm"] == float(ours[("trec_types/acc_norm", str(s["doc_id"]))]["correct"])
    assert worst < 1e-4, worst
    print(f"\nlm-eval agreement on 20 documents x 6 choices: acc {acc['trec_types/acc']:.2f}, acc_norm "
          f"{acc['trec_types/acc_norm']:.2f} (equal); largest log-likelihood difference {worst:.2e}")
