"""A workbench prompt spec as an lm-evaluation-harness task YAML (``workbench export lm-eval SPEC --dataset
DATA``): lm-eval (and ``workbench eval --task``) then builds the same prompt the spec builds.

The spec's raw prompt is ``instruction + separator + demo + separator + ... + query + answer_prefix``; lm-eval's
is ``description + (text + target_delimiter + answer + fewshot_delimiter) * n + text``. So the description is the
instruction and the separator, the few-shot delimiter is the separator, ``doc_to_text`` is the query template in
Jinja (``{input}`` -> ``{{question}}``), and the demonstration template must be the query template, a whitespace
delimiter, then ``{answer}``. The spec's demonstrations are the examples, in order (``fewshot_config: {sampler:
first_n, samples: [...]}``). A spec with labels becomes a ``multiple_choice`` task over its labels (acc,
acc_norm: our label scoring); any other a ``generate_until`` task stopping at the spec's stop strings, judged by
exact_match (a number format reads the first number, as the workbench's extraction does).

The documents are the dataset's rows in the shared schema (``question``, ``answer``): ``data_files`` names the
file, which must sit beside the task YAML (lm-eval reads it from the working directory, the workbench from the
task's folder).

    >>> jinja_template("Q: {input}\\nA:")
    'Q: {{question}}\\nA:'
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from workbench.errors import ConfigError
from workbench.prompts.spec import PromptSpec
from workbench.templates import _parse

#: The fields a brace template may use here, and the document field each becomes.
FIELDS = {"input": "question", "question": "question", "answer": "answer"}
#: Data file suffixes -> lm-eval's ``dataset_path``.
DATASET_PATHS = {".jsonl": "json", ".json": "json", ".csv": "csv", ".parquet": "parquet"}
#: A number as the workbench's "number" format reads it (the first one; thousands commas dropped by exact_match).
NUMBER_PATTERN = r"(-?[0-9][0-9,]*(?:\.[0-9]+)?)"


def jinja_template(template: str, what: str = "query template") -> str:
    """A ``{name}`` template written in Jinja (literal braces kept as literals)."""
    out = []
    for is_name, text in _parse(template, what):
        if is_name:
            if text not in FIELDS or (text == "answer" and what == "query template"):
                raise ConfigError(f"The {what} uses {{{text}}}, which an lm-eval document here does not have; use "
                                  "{input} (and {answer} in the demonstration template).")
            out.append("{{" + FIELDS[text] + "}}")
        else:
            out.append(text.replace("{", "{{ '{' }}"))
    return "".join(out)


def _delimiter(spec: PromptSpec) -> str:
    """The target delimiter: what the demonstration template has between the query template and {answer}."""
    query, demo = spec.query_template, spec.demo_template
    rest = demo[len(query):] if demo.startswith(query) else None
    if rest is None or not rest.endswith("{answer}") or rest[: -len("{answer}")].strip():
        raise ConfigError("lm-eval writes an example as its text, a delimiter, then its answer: the demonstration "
                          "template must be the query template, whitespace, then {answer} (e.g. 'Q: {input}\\nA:' "
                          "and 'Q: {input}\\nA: {answer}').")
    return rest[: -len("{answer}")]


def _dataset(dataset: str) -> str:
    """The data file's name (a sample name: its JSONL file)."""
    from workbench.data import sample_pools

    samples = sample_pools()
    if dataset in samples:
        return Path(samples[dataset]).name
    suffix = Path(dataset).suffix.lower()
    if suffix not in DATASET_PATHS:
        raise ConfigError(f"--dataset {dataset}: give a sample name ({', '.join(samples)}) or a .jsonl, .json, .csv "
                          "or .parquet file.")
    return Path(dataset).name


def task_dict(spec_path: str, dataset: str, name: str | None = None) -> dict[str, Any]:
    """The task as a mapping (what :func:`task_yaml` writes)."""
    from workbench.prompts.files import load_spec

    loaded = load_spec(spec_path)
    spec = loaded.spec
    if spec.syntax != "braces":
        raise ConfigError(f"{Path(spec_path).name}: its templates are Jinja already; lm-eval's doc_to_text would read "
                          "the dataset's own fields -- write the task by hand.")
    if spec.reasoning != "none" or spec.answer_prefix:
        raise ConfigError(f"{Path(spec_path).name}: lm-eval tasks answer right after the question; a spec with "
                          "reasoning stages or an answer prefix has no lm-eval task (set reasoning: none).")
    file = _dataset(dataset)
    task = name or re.sub(r"[^A-Za-z0-9_]+", "_", Path(spec_path).stem).strip("_") or "workbench_task"
    out: dict[str, Any] = {"task": task, "dataset_path": DATASET_PATHS[Path(file).suffix.lower()],
                           "dataset_kwargs": {"data_files": {"test": file}}, "test_split": "test"}
    labelled = bool(spec.labels) and spec.answer_format in ("label", "choice")
    out["output_type"] = "multiple_choice" if labelled else "generate_until"
    if spec.instruction:
        out["description"] = spec.instruction + spec.separator
    out["doc_to_text"] = jinja_template(spec.query_template)
    out["doc_to_target"] = "{{answer}}"
    if labelled:
        out["doc_to_choice"] = list(spec.labels)
    delimiter = _delimiter(spec) if loaded.demos or labelled else " "
    out["target_delimiter"] = delimiter
    out["fewshot_delimiter"] = spec.separator
    if loaded.demos:
        out["num_fewshot"] = len(loaded.demos)
        out["fewshot_config"] = {"sampler": "first_n", "samples": [{"question": d.input, "answer": d.answer}
                                                                   for d in loaded.demos]}
    if labelled:
        out["metric_list"] = [{"metric": "acc", "aggregation": "mean", "higher_is_better": True},
                              {"metric": "acc_norm", "aggregation": "mean", "higher_is_better": True}]
    else:
        until = list(spec.stop) or [spec.separator]
        out["generation_kwargs"] = {"until": until, "do_sample": False, "temperature": 0.0, "max_gen_toks": 64}
        metric: dict[str, Any] = {"metric": "exact_match", "aggregation": "mean", "higher_is_better": True,
                                  "ignore_case": True}
        if spec.answer_format == "number":
            metric["regexes_to_ignore"] = [","]
            out["filter_list"] = [{"name": "first-number", "filter": [
                {"function": "regex", "regex_pattern": NUMBER_PATTERN}, {"function": "take_first"}]}]
        else:
            metric["regexes_to_ignore"] = ["^\\s+", "\\s+$"]
        out["metric_list"] = [metric]
    out["metadata"] = {"version": 1.0, "exported_from": Path(spec_path).name}
    return out


def task_yaml(spec_path: str, dataset: str, name: str | None = None) -> str:
    """The task YAML for the spec at ``spec_path`` over ``dataset`` (a sample name or a data file)."""
    import yaml

    data = task_dict(spec_path, dataset, name)
    file = data["dataset_kwargs"]["data_files"]["test"]
    head = (f"# lm-evaluation-harness task exported by the workbench from {Path(spec_path).name}.\n"
            f"# Put {file} (rows with question and answer) beside this file; run it with\n"
            f"#   workbench eval --task THIS.yaml      or, from this folder,\n"
            f"#   lm_eval --model hf --model_args pretrained=... --include_path . --tasks {data['task']}\n")
    return head + yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=120)
