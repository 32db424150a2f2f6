"""lm-evaluation-harness task YAMLs (issue 27, item 4): parsing, every refusal in one line, the prompt lm-eval
itself builds from the same file (its ConfigurableTask, byte for byte, few-shot sampling included), its filters
and exact_match against lm-eval's own functions, and the runner scoring each document's own choices."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tests.conftest import ROOT
from workbench.errors import ConfigError, DataError
from workbench.interop.lmeval import load_plan
from workbench.interop.lmeval.config import FilterSpec, FilterStep, MetricSpec
from workbench.interop.lmeval.scoring import apply_filter, exact_match
from workbench.prompts.rendering import render

EXAMPLES = ROOT / "examples" / "lm-eval"

MC = """task: tiny
dataset_path: json
dataset_kwargs:
  data_files:
    test: docs.jsonl
output_type: multiple_choice
test_split: test
doc_to_text: "Q: {{q}}\\nA:"
doc_to_choice: "{{options}}"
doc_to_target: gold
"""

DOCS = [{"q": "2+2?", "options": ["3", "four", "5"], "gold": 1},
        {"q": "Sky?", "options": ["blue", "green"], "gold": 0}]


def task_dir(tmp_path: Path, text: str = MC, docs=DOCS, name: str = "task.yaml") -> Path:
    (tmp_path / "docs.jsonl").write_text("".join(json.dumps(d) + "\n" for d in docs))
    (tmp_path / name).write_text(text)
    return tmp_path / name


def one_line(err: pytest.ExceptionInfo) -> str:
    text = str(err.value)
    assert "\n" not in text and "Traceback" not in text
    return text


# --------------------------------------------------------------------------- parsing and the plan

def test_a_multiple_choice_task_becomes_items_with_their_own_choices_and_two_strategies(tmp_path):
    plan = load_plan(task_dir(tmp_path))
    assert plan.source == "task.yaml" and plan.models == () and plan.notes == ()
    assert [s.name for s in plan.strategies] == ["tiny/acc", "tiny/acc_norm"]
    assert [(s.answer, s.score_norm) for s in plan.strategies] == [("choices", "sum"), ("choices", "char")]
    first, second = plan.dataset
    assert (first.id, first.input, first.answer) == ("0", "Q: 2+2?\nA:", "1")
    assert first.choices == {"0": "3", "1": "four", "2": "5"} and second.choices == {"0": "blue", "1": "green"}
    spec = plan.strategies[0].spec
    assert spec.syntax == "jinja" and spec.query_template == "{{ lm_eval_prefix }}Q: {{q}}\nA:"
    assert render(spec, (), first, as_chat=False).text == "Q: 2+2?\nA: "  # the target delimiter ends the prompt


def test_includes_merge_with_the_files_own_keys_winning_and_harmless_keys_noted_once(tmp_path):
    (tmp_path / "_base.yaml").write_text(MC.replace("task: tiny", "task: base") + "should_decontaminate: true\n")
    path = task_dir(tmp_path, "include: _base.yaml\ntask: child\ntag: [demo]\nmetadata: {version: 2}\n",
                    name="child.yaml")
    plan = load_plan(path)
    assert [s.name for s in plan.strategies] == ["child/acc", "child/acc_norm"]
    assert plan.notes == ("child.yaml: should_decontaminate is noted: the workbench does not check documents "
                          "against training data.",)


def test_a_gsm8k_style_task_generates_until_its_stop_strings_and_keeps_one_strategy_per_filter():
    plan = load_plan(EXAMPLES / "arithmetic.yaml")
    assert [s.name for s in plan.strategies] == ["arithmetic_words/exact_match,strict-match",
                                                 "arithmetic_words/exact_match,flexible-extract"]
    s = plan.strategies[0]
    assert s.answer == "generate" and s.decoding.greedy and s.decoding.max_new_tokens == 48
    assert s.spec.stop == ("Question:", "</s>", "<|im_end|>")
    assert plan.dataset[0].answer == "12 - 5 = 7.\n#### 7"
    assert [c.kind.name for c in s.checks] == ["lm-eval-exact-match"]


@pytest.mark.parametrize(("change", "message"), [
    ("process_docs: x\n", "task.yaml: the lm-eval key 'process_docs' is not supported (it runs Python code)"),
    ("doc_to_image: img\n", "the lm-eval key 'doc_to_image' is not supported (images)"),
    ("wibble: 1\n", "task.yaml: the lm-eval key 'wibble' is not supported; the workbench runs text tasks"),
    ("process_results: !function utils.process\n", "task.yaml line 11: '!function' loads Python code from the "
                                                   "task's folder, and the workbench runs no code from files"),
    ("include: ../../etc/passwd\n", "include ../../etc/passwd is outside the config's folder"),
    ("include: nothere.yaml\n", "nothere.yaml does not exist; the include nothere.yaml names no file in the task"),
    ("include: task.yaml\n", "task.yaml: it includes itself"),
    ("output_type: loglikelihood\n", "output_type: Input should be 'multiple_choice' or 'generate_until'"),
    ("target_delimiter: ' => '\n", "target_delimiter ' => ' is not whitespace"),
    ("metric_list: [{metric: exact_match}]\n", "metric 'exact_match' does not apply to output_type multiple_choice"),
    ("metric_list: [{metric: f1}]\n", "metric_list.0.metric: Input should be 'acc', 'acc_norm' or 'exact_match'"),
    ("repeats: 3\n", "repeats: Input should be 1"),
    ("fewshot_config: {sampler: balanced}\n", "fewshot_config.sampler: Input should be 'default' or 'first_n'"),
    ("fewshot_config: {process_docs: x}\n", "unknown key 'fewshot_config.process_docs'"),
    ("dataset_kwargs: {data_files: {test: ../docs.jsonl}}\n", "data_files ../docs.jsonl is outside the config's"),
    ("dataset_kwargs: {data_files: {test: docs.jsonl}, trust_remote_code: true}\n",
     "dataset_kwargs key 'trust_remote_code' is not supported"),
    ("test_split: dev\n", "the task names split 'dev', and data_files has test"),
    ("num_fewshot: 5\nfewshot_split: test\n", "num_fewshot 5 asks for more examples than the few-shot split has (2)"),
    ("doc_to_choice: '{{q}}'\n", "doc_to_choice renders '2+2?', not a list of choices"),
    ("doc_to_target: '[{{gold}}]'\n", "doc_to_target gives a list ([1]); several gold answers"),
    ("doc_to_text: '{{nope}}'\n", "tiny: The doc_to_text template uses a value it was not given: 'nope' is undefined"),
    ("doc_to_text: \"{{ ''.__class__ }}\"\n", "tried an unsafe operation"),
])
def test_each_refusal_is_one_line_naming_what_to_change(tmp_path, change, message):
    key = change.split(":")[0]
    kept = "".join(line + "\n" for line in MC.splitlines() if not line.startswith(key + ":")
                   and not (key == "dataset_kwargs" and line.startswith(("  data_files", "    test"))))
    with pytest.raises((ConfigError, DataError)) as err:
        load_plan(task_dir(tmp_path, kept + change))
    assert message in one_line(err)


def test_generate_until_refusals_are_one_line(tmp_path):
    gen = MC.replace("output_type: multiple_choice", "output_type: generate_until").replace(
        'doc_to_choice: "{{options}}"\n', "")
    bad_regex = gen + "filter_list: [{name: f, filter: [{function: regex, regex_pattern: '(unclosed'}]}]\n"
    with pytest.raises(ConfigError) as err:
        load_plan(task_dir(tmp_path, bad_regex))
    assert "filter f: regex_pattern '(unclosed' does not compile" in one_line(err)
    other = gen + "filter_list: [{name: f, filter: [{function: majority_vote}]}]\n"
    with pytest.raises(ConfigError) as err:
        load_plan(task_dir(tmp_path, other))
    assert "filter_list.0.filter.0.function: Input should be 'regex' or 'take_first'" in one_line(err)
    with pytest.raises(ConfigError) as err:
        load_plan(task_dir(tmp_path, gen.replace("dataset_path: json", "dataset_path: json\nnum_fewshot: -1")))
    assert "num_fewshot: Input should be greater than or equal to 0" in one_line(err)


def test_a_missing_task_file_is_one_line(tmp_path):
    with pytest.raises(DataError) as err:
        load_plan(tmp_path / "none.yaml")
    assert one_line(err) == f"{tmp_path / 'none.yaml'} does not exist; give the path of an lm-eval task YAML"


# --------------------------------------------------------------------------- lm-eval's own prompt

def lm_eval_task(yaml_path: Path, tmp_path: Path, monkeypatch):
    """lm-eval's ConfigurableTask for the same file (data_files resolve from the working directory there)."""
    import yaml
    from lm_eval.api.task import ConfigurableTask

    monkeypatch.chdir(yaml_path.parent)
    config = yaml.safe_load(yaml_path.read_text())
    config["dataset_kwargs"] = {**config["dataset_kwargs"], "cache_dir": str(tmp_path / "hf-datasets")}
    task = ConfigurableTask(config=config)
    task.set_fewshot_seed(1234)  # simple_evaluate's default fewshot_random_seed
    task.build_all_requests(limit=8, rank=0, world_size=1)
    return task


@pytest.mark.parametrize("name", ["sentiment", "arithmetic", "same_split"])
def test_the_prompts_equal_lm_evals_own_byte_for_byte_with_its_few_shot_draws(name, tmp_path, monkeypatch):
    folder = tmp_path / "task"
    shutil.copytree(EXAMPLES, folder)
    # Examples drawn from the evaluated split itself: lm-eval draws one more and drops the document.
    (folder / "same_split.yaml").write_text((folder / "sentiment.yaml").read_text().replace(
        "fewshot_split: train", "fewshot_split: test").replace("num_fewshot: 2", "num_fewshot: 3"))
    plan = load_plan(folder / f"{name}.yaml")
    task = lm_eval_task(folder / f"{name}.yaml", tmp_path, monkeypatch)
    spec = plan.strategies[0].spec
    checked = 0
    for inst in task.instances:
        ex = plan.dataset[inst.doc_id]
        ours = render(spec, (), ex, as_chat=False).text
        context, rest = inst.arguments
        if isinstance(rest, str):  # multiple_choice: (context, delimiter + choice)
            assert context + rest == ours + ex.choices[str(inst.idx)]
            assert (ours[:len(context)], ours[len(context):]) == (context, " ")
            assert task.doc_to_target(inst.doc) == int(ex.answer)
        else:
            assert context == ours and rest["until"] == list(spec.stop)
        checked += 1
    assert checked == (8 if name == "arithmetic" else 16)


# --------------------------------------------------------------------------- filters and exact_match

def test_the_regex_filter_and_take_first_equal_lm_evals_own():
    from lm_eval.filters.extraction import RegexFilter

    outputs = ["so 3 + 4 = 7.\n#### 7", "#### -1,200 and #### 5", "no number here", "$1,000 or 12 or 3",
               " I think 42. ", "answer: (a) or (b)", ""]
    for kwargs in ({}, {"regex_pattern": r"(-?[$0-9.,]{2,})|(-?[0-9]+)", "group_select": -1},
                   {"regex_pattern": r"\((a|b)\)", "group_select": 1, "fallback": "none"}):
        theirs = [r[0] for r in RegexFilter(**kwargs).apply([[o] for o in outputs], [{}] * len(outputs))]
        spec = FilterSpec(name="f", filter=[FilterStep(function="regex", **kwargs), FilterStep(function="take_first")])
        assert [apply_filter(spec, o) for o in outputs] == theirs


def test_exact_match_equals_lm_evals_own_with_each_option():
    from lm_eval.api.metrics import exact_match_hf_evaluate

    pairs = [("7", "7"), ("The Answer.", "the answer"), ("1,200", "1200"), ("$5", "5"), ("12 - 5 = 7.\n#### 7", "7"),
             ("42.", "42"), ("abc123", "abc"), ("Paris", "paris!")]
    options = [{}, {"ignore_case": True}, {"ignore_punctuation": True}, {"ignore_numbers": True},
               {"ignore_case": True, "regexes_to_ignore": [",", "\\$", "(?s).*#### ", "\\.$"]}]
    for opts in options:
        metric = MetricSpec(metric="exact_match", **opts)
        for pred, ref in pairs:
            theirs = exact_match_hf_evaluate(predictions=[pred], references=[ref], **opts)["exact_match"]
            assert exact_match(pred, ref, metric) == bool(theirs), (pred, ref, opts)


# --------------------------------------------------------------------------- the runner

def test_the_runner_scores_each_documents_own_choices_acc_and_acc_norm(tmp_path, fake_backend):
    from workbench.evaluate.runner import evaluate
    from workbench.store import open_store

    # "four" is less likely in total (-6 < -3) but more per character (-1.5 > -3): acc and acc_norm disagree.
    fake_backend.scores = {"3": -3.0, "four": -6.0, "5": -4.0, "blue": -2.0, "green": -1.0}
    plan = load_plan(task_dir(tmp_path))
    with open_store(tmp_path / "wb.db") as store:
        run = evaluate(plan.dataset, plan.pool, list(plan.strategies), fake_backend, store)
        records = {(r["strategy"], r["id"]): r for r in store.results(run.run_id)}
    assert fake_backend.scored == ["Q: 2+2?\nA:", "Q: Sky?\nA:"]  # once each: acc_norm is cached
    acc, norm = records[("tiny/acc", "0")], records[("tiny/acc_norm", "0")]
    assert (acc["extracted"], acc["correct"], acc["rule"]) == ("0", False, "choices")
    assert (norm["extracted"], norm["correct"], norm["rule"]) == ("1", True, "choices_per_char")
    assert acc["logliks"] == {"0": -3.0, "1": -6.0, "2": -4.0} and acc["prompt"] == "Q: 2+2?\nA: "
    assert records[("tiny/acc", "1")]["extracted"] == "1" and records[("tiny/acc_norm", "1")]["correct"] is False
    assert [(s.strategy, s.correct) for s in run.summaries] == [("tiny/acc", 0), ("tiny/acc_norm", 1)]


# --------------------------------------------------------------------------- Hugging Face datasets, offline

GLUE_SST2 = """task: sst2_mc
dataset_path: glue
dataset_name: sst2
output_type: multiple_choice
training_split: train
validation_split: validation
num_fewshot: 1
doc_to_text: "{{sentence}}\\nQuestion: Is this sentence positive or negative?\\nAnswer:"
doc_to_choice: ["negative", "positive"]
doc_to_target: label
"""


def test_a_hub_dataset_is_read_from_the_local_cache_offline(tmp_path, monkeypatch):
    from tests.hf_caches import add_glue, cut_network, use_hf_home

    cut_network(monkeypatch)
    add_glue(use_hf_home(tmp_path, monkeypatch))
    (tmp_path / "task").mkdir()
    (tmp_path / "task" / "sst2.yaml").write_text(GLUE_SST2)
    plan = load_plan(tmp_path / "task" / "sst2.yaml")
    assert [(ex.vars["sentence"], ex.answer) for ex in plan.dataset] == [("it's a charming journey", "1"),
                                                                        ("unflinchingly bleak", "0")]
    text = render(plan.strategies[0].spec, (), plan.dataset[0], as_chat=False).text
    assert text.count("Question: Is this sentence positive or negative?\nAnswer: ") == 2  # one example, the doc


def test_a_hub_dataset_not_cached_or_a_folder_outside_the_task_is_one_line(tmp_path, monkeypatch):
    from tests.hf_caches import cut_network, use_hf_home

    cut_network(monkeypatch)
    use_hf_home(tmp_path, monkeypatch)
    (tmp_path / "task").mkdir()
    (tmp_path / "task" / "sst2.yaml").write_text(GLUE_SST2)
    with pytest.raises(DataError) as err:
        load_plan(tmp_path / "task" / "sst2.yaml")
    assert one_line(err).startswith("hf:glue:sst2:validation: not in this machine's datasets cache")
    (tmp_path / "task" / "out.yaml").write_text(GLUE_SST2.replace("dataset_path: glue", "dataset_path: ../elsewhere"))
    with pytest.raises(ConfigError) as err:
        load_plan(tmp_path / "task" / "out.yaml")
    assert "dataset_path ../elsewhere is outside the config's folder" in one_line(err)


def test_label_scoring_per_character_is_lm_evals_acc_norm_and_choices_refuse_reasoning(tmp_path, fake_backend):
    from workbench.data import Example, Pool
    from workbench.evaluate.runner import evaluate
    from workbench.evaluate.strategies import Strategy, parse_strategies
    from workbench.prompts import PromptSpec
    from workbench.store import open_store

    pool = Pool("p", (Example("1", "Is it?", "maybe"),))
    spec = PromptSpec(answer_format="label", labels=("yes", "maybe"))
    fake_backend.scores = {"yes": -3.0, "maybe": -4.0}  # in sum "yes" wins; per character (-1.0 < -0.8) "maybe"
    strategies = parse_strategies(["zero+score", "zero+norm_char"], spec, pool)
    assert [(s.answer, s.score_norm) for s in strategies] == [("score", "sum"), ("score", "char")]
    with open_store(tmp_path / "wb.db") as store:
        run = evaluate(pool, None, strategies, fake_backend, store)
        got = {r["strategy"]: (r["extracted"], r["rule"], r["logliks"]) for r in store.results(run.run_id)}
    assert got == {"zero+score": ("yes", "label_score", {"yes": -3.0, "maybe": -4.0}),
                   "zero+norm_char": ("maybe", "label_score_per_char", {"yes": -1.0, "maybe": -0.8})}
    with pytest.raises(ConfigError) as err:
        Strategy(name="x", spec=PromptSpec(reasoning="zero_shot_cot"), answer="choices")
    assert one_line(err) == ("x: scoring an item's own choices reads one answer after the prompt; chain-of-thought, "
                             "self-consistency and calibration do not apply.")
