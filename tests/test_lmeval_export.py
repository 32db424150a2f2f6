"""``workbench export lm-eval SPEC --dataset DATA`` (issue 27, item 4): a spec written as an lm-eval task YAML
that lm-eval itself reads into the same prompt, and that ``workbench eval --task`` reads back into it."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest
import yaml

from tests.conftest import ROOT
from workbench.errors import ConfigError
from workbench.interop.lmeval import load_plan
from workbench.interop.lmeval.export import task_dict, task_yaml
from workbench.prompts.files import load_spec
from workbench.prompts.rendering import render

SPECS = ROOT / "prompts" / "specs"
SAMPLES = ROOT / "workbench" / "samples"


def exported(tmp_path, spec: str, sample: str):
    (tmp_path / "task.yaml").write_text(task_yaml(str(SPECS / spec), sample))
    shutil.copy(SAMPLES / f"{sample}.jsonl", tmp_path)
    return tmp_path / "task.yaml"


def test_a_label_spec_round_trips_into_the_same_prompt_for_every_document(tmp_path):
    path = exported(tmp_path, "sentiment.yaml", "sentiment")
    assert path.read_text().startswith("# lm-evaluation-harness task exported by the workbench from sentiment.yaml")
    plan = load_plan(path)
    assert [s.name for s in plan.strategies] == ["sentiment/acc", "sentiment/acc_norm"]
    spec_file = load_spec(SPECS / "sentiment.yaml")
    assert len(plan.dataset) == 40
    for ex in plan.dataset:
        ours = render(spec_file.spec, spec_file.demos, ex.vars["question"], as_chat=False).text
        assert render(plan.strategies[0].spec, (), ex, as_chat=False).text == ours + " "  # + the target delimiter
        assert ex.choices == {"0": "positive", "1": "negative"}
        assert ex.answer == {"positive": "0", "negative": "1"}[ex.vars["answer"]]


def test_lm_eval_reads_the_exported_task_into_the_same_context(tmp_path, monkeypatch):
    from lm_eval.api.task import ConfigurableTask

    path = exported(tmp_path, "sentiment.yaml", "sentiment")
    plan = load_plan(path)
    monkeypatch.chdir(tmp_path)
    config = yaml.safe_load(path.read_text())
    config["dataset_kwargs"]["cache_dir"] = str(tmp_path / "hf-datasets")
    task = ConfigurableTask(config=config)
    task.set_fewshot_seed(1234)
    task.build_all_requests(limit=3, rank=0, world_size=1)
    assert len(task.instances) == 6
    for inst in task.instances:
        ex = plan.dataset[inst.doc_id]
        context, continuation = inst.arguments
        assert context + continuation == render(plan.strategies[0].spec, (), ex, as_chat=False).text + \
            ex.choices[str(inst.idx)]


def test_a_free_text_spec_becomes_a_generate_until_task_stopping_where_the_spec_stops(tmp_path):
    data = task_dict(str(SPECS / "translation_en_fr.yaml"), "translation_en_fr")
    spec = load_spec(SPECS / "translation_en_fr.yaml").spec
    assert data["output_type"] == "generate_until" and "doc_to_choice" not in data
    assert data["generation_kwargs"]["until"] == list(spec.stop or [spec.separator])
    assert data["metric_list"][0]["metric"] == "exact_match"
    plan = load_plan(exported(tmp_path, "translation_en_fr.yaml", "translation_en_fr"))
    assert [s.name for s in plan.strategies] == ["translation_en_fr/exact_match"]


def test_what_has_no_lm_eval_task_is_one_line(tmp_path):
    with pytest.raises(ConfigError, match=r"^arithmetic_cot.yaml: lm-eval tasks answer right after the question"):
        task_yaml(str(SPECS / "arithmetic_cot.yaml"), "arithmetic")
    with pytest.raises(ConfigError, match=r"^--dataset notes.txt: give a sample name .* or a .jsonl"):
        task_yaml(str(SPECS / "sentiment.yaml"), "notes.txt")
    odd = tmp_path / "odd.yaml"
    odd.write_text("name: odd\nspec:\n  demo_template: 'Q: {input} => {answer}'\n  query_template: 'Q: {input}'\n"
                   "demos: [{question: a, answer: b}]\n")
    with pytest.raises(ConfigError, match="the demonstration template must be the query template, whitespace, then"):
        task_yaml(str(odd), "sentiment")


def test_the_export_command_writes_the_task(tmp_path):
    out = tmp_path / "task.yaml"
    res = subprocess.run([sys.executable, "-m", "workbench", "export", "lm-eval", str(SPECS / "sentiment.yaml"),
                          "--dataset", "sentiment", "--out", str(out)], cwd=ROOT, capture_output=True, text=True,
                         timeout=120, env=os.environ.copy())
    assert res.returncode == 0, res.stderr
    assert res.stderr.strip() == f"wrote {out}"
    assert out.read_text() == task_yaml(str(SPECS / "sentiment.yaml"), "sentiment")
