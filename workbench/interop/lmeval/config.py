"""An lm-evaluation-harness task YAML read as untrusted data: the keys the workbench runs, validated.

lm-eval's own loader (``lm_eval.tasks._yaml_loader.load_yaml``) builds Python functions from ``!function
module.name`` tags and merges ``include:``-d sibling files under the task's keys (the task's own keys win).
Here the file goes through the one bounded loader (:func:`workbench.safeload.load_document`); a ``!function``
tag is refused in one line (it is code from the task's folder), and an ``include`` is read from inside the
task's folder only (:func:`workbench.interop.paths.read_inside`). Every key we do not run is refused in one
line naming it; keys that change nothing here are noted once.

    >>> check_keys({"task": "t", "doc_to_image": "img"}, "t.yaml")
    Traceback (most recent call last):
    ...
    workbench.errors.ConfigError: t.yaml: the lm-eval key 'doc_to_image' is not supported (images); the workbench runs text tasks with the keys listed in the README.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from workbench.errors import ConfigError, DataError
from workbench.interop.paths import inside
from workbench.safeload import load_document, read_text, validation_error

#: Includes followed at most (lm-eval's tasks nest two or three).
MAX_INCLUDE_DEPTH = 8
#: The most files one task reads, itself and its includes together (lm-eval has no bound).
MAX_INCLUDES = 64
#: What messages call these files.
WHAT = "lm-eval task files"
#: Keys that run here.
SUPPORTED = frozenset({
    "task", "output_type", "doc_to_text", "doc_to_choice", "doc_to_target", "target_delimiter",
    "fewshot_delimiter", "num_fewshot", "fewshot_split", "description", "generation_kwargs", "filter_list",
    "metric_list", "dataset_path", "dataset_name", "dataset_kwargs", "test_split", "validation_split",
    "training_split", "repeats", "fewshot_config"})
#: Keys that change nothing here: honoured by being read (a label, a version), no note.
HARMLESS = frozenset({"tag", "metadata", "task_alias"})
#: Keys read and noted once: they change nothing in a run here.
NOTED = {
    "should_decontaminate": "should_decontaminate is noted: the workbench does not check documents against "
                            "training data.",
    "doc_to_decontamination_query": "doc_to_decontamination_query is noted: the workbench does not check documents "
                                    "against training data.",
}
#: Keys refused, with why (the rest of lm-eval's keys are refused as "not supported").
REFUSED = {
    "process_docs": "it runs Python code", "process_results": "it runs Python code",
    "custom_dataset": "it runs Python code", "unsafe_code": "it runs code", "doc_to_image": "images",
    "doc_to_audio": "audio", "use_prompt": "promptsource prompts",
    "gen_prefix": "an answer prefix", "group": "a task group; give one task file",
    "multiple_input": "several contexts per document",
}
#: Output types that run here.
OUTPUT_TYPES = ("multiple_choice", "generate_until")


def check_keys(data: dict[str, Any], source: str) -> list[str]:
    """The notes for ``data``'s keys; a key not run here is one ConfigError line naming it."""
    notes = []
    for key in data:
        if key in SUPPORTED or key in HARMLESS:
            continue
        if key in NOTED:
            notes.append(f"{source}: {NOTED[key]}")
            continue
        why = REFUSED.get(str(key), "")
        raise ConfigError(f"{source}: the lm-eval key {key!r} is not supported{f' ({why})' if why else ''}; the "
                          "workbench runs text tasks with the keys listed in the README.")
    return notes


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class FilterStep(_Model):
    """One function of a filter pipeline: lm-eval's ``regex`` (RegexFilter) or ``take_first``."""

    function: Literal["regex", "take_first"]  # the two filters a task may name here
    regex_pattern: str = r"#### (\-?[0-9\.\,]+)"  # RegexFilter's default (gsm8k's answer line)
    group_select: int = 0  # which match of findall (negative: from the end)
    fallback: str = "[invalid]"  # the text when nothing matches


class FilterSpec(_Model):
    """A named filter pipeline (``filter_list`` entry); exact_match is reported per pipeline."""

    name: str = Field(min_length=1, max_length=100)  # shown in the strategy's name
    filter: list[FilterStep] = Field(min_length=1, max_length=10)  # applied in order

    @field_validator("filter")
    @classmethod
    def _take_first_last(cls, steps: list[FilterStep]) -> list[FilterStep]:
        if any(s.function == "take_first" for s in steps[:-1]):
            raise ValueError("take_first must be the last function of a filter")
        return steps


class FewshotSpec(_Model):
    """``fewshot_config``: lm-eval's sampler by name and, optionally, the examples themselves."""

    sampler: Literal["default", "first_n"] = "default"  # seeded random draws, or the first n in order
    samples: list[dict[str, Any]] | None = Field(default=None, max_length=10_000)  # examples (else from a split)


class MetricSpec(_Model):
    """A ``metric_list`` entry: acc, acc_norm (multiple_choice) or exact_match with its options."""

    metric: Literal["acc", "acc_norm", "exact_match"]  # the metrics lm-eval defines that run here
    aggregation: Literal["mean"] = "mean"  # the only aggregation of these metrics
    higher_is_better: Literal[True] = True  # all three are
    ignore_case: bool = False  # exact_match: compare lower-cased
    ignore_punctuation: bool = False  # exact_match: string.punctuation removed first
    ignore_numbers: bool = False  # exact_match: digits removed first
    regexes_to_ignore: list[str] | None = Field(default=None, max_length=20)  # exact_match: re.sub(r, "") first


class GenerationKwargs(_Model):
    """``generation_kwargs`` of a generate_until task."""

    until: list[str] | str | None = None  # stop strings; None: the fewshot_delimiter (lm-eval's TaskConfig)
    max_gen_toks: int = Field(default=256, ge=1, le=32_768)  # lm-eval's DEFAULT_MAX_GEN_TOKS
    do_sample: bool = False  # greedy unless sampling is asked for
    temperature: float = Field(default=0.0, ge=0.0, le=10.0)  # used when sampling


class TaskFile(_Model):
    """The keys of a task YAML that run here, with lm-eval's defaults (``lm_eval.config.task.TaskConfig``)."""

    task: str = Field(min_length=1, max_length=200)  # the task's name: strategies are TASK/acc, ...
    output_type: Literal["multiple_choice", "generate_until"] = "generate_until"  # TaskConfig's default
    doc_to_text: str | int | None = None  # a field name or a Jinja template (rendered in the sandbox)
    doc_to_choice: str | list[str] | dict[str, str] | None = None  # a field, a template of a list, or the list
    doc_to_target: str | int | None = None  # a field, a template, or a choice index
    target_delimiter: str = " "  # between a context and its answer
    fewshot_delimiter: str = "\n\n"  # after each few-shot example
    num_fewshot: int = Field(default=0, ge=0, le=64)  # examples before each document (None in lm-eval = 0)
    fewshot_split: str | None = None  # where few-shot examples come from (else training, validation, test)
    fewshot_config: FewshotSpec | None = None  # the sampler, and examples given in the file
    description: str = ""  # text (or a field, or a template) before the examples
    generation_kwargs: GenerationKwargs | None = None  # generate_until's decoding
    filter_list: list[FilterSpec] | None = Field(default=None, max_length=10)  # None: take_first only
    metric_list: list[MetricSpec] | None = Field(default=None, max_length=10)  # None: the type's defaults
    dataset_path: str = Field(min_length=1, max_length=500)  # json|csv|parquet, or a Hugging Face dataset id
    dataset_name: str | None = None  # the dataset's configuration
    dataset_kwargs: dict[str, Any] | None = None  # data_files for json|csv|parquet
    training_split: str | None = None  # the splits by name
    validation_split: str | None = None
    test_split: str | None = None
    repeats: Literal[1] = 1  # one answer per document
    tag: Any = None  # a label lm-eval groups tasks by (nothing here)
    metadata: Any = None  # the task's version and notes (nothing here)
    task_alias: Any = None  # a display name (nothing here)
    should_decontaminate: Any = None  # noted
    doc_to_decontamination_query: Any = None  # noted

    @property
    def metrics(self) -> tuple[MetricSpec, ...]:
        """The metrics that score it (lm-eval's defaults: acc and acc_norm; exact_match)."""
        if self.metric_list is not None:
            return tuple(self.metric_list)
        names = ("acc", "acc_norm") if self.output_type == "multiple_choice" else ("exact_match",)
        return tuple(MetricSpec(metric=n) for n in names)  # type: ignore[arg-type]


def _function_tag(err: DataError, source: str) -> ConfigError | None:
    found = re.match(r"(.*?) line (\d+): the YAML tag '!function'", str(err))
    if found is None:
        return None
    return ConfigError(f"{source} line {found[2]}: '!function' loads Python code from the task's folder, and the "
                       "workbench runs no code from files; write it as a field name or a Jinja template.")


def read_task(path: Path, folder: Path | None = None, depth: int = 0,
              seen: dict[Path, tuple[Path, ...]] | None = None) -> dict[str, Any]:
    """The task file's mapping with its includes merged (lm-eval's order: includes first, the file's keys win).

    As lm-eval's ``load_yaml``: an include is relative to the including file's folder, and each file is read
    once per task (a second read is an include cycle there; here a loop ``a.yaml -> b.yaml -> a.yaml`` is one
    line naming it). ``folder`` is the task's own folder, which every include must stay inside; at most
    ``MAX_INCLUDES`` files are read per task and they nest at most ``MAX_INCLUDE_DEPTH`` deep. ``seen`` maps
    each file read so far to the chain of files that included it, the task file first."""
    source = path.name
    seen = {} if seen is None else seen
    resolved = Path(os.path.realpath(path))
    seen.setdefault(resolved, (resolved,))
    text = read_text(path, missing="give the path of an lm-eval task YAML" if folder is None else
                     f"the include {source} names no file in the task's folder")
    try:
        data = load_document(text, source, what=WHAT)
    except DataError as err:
        raise _function_tag(err, source) or err from None
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: an lm-eval task file is a mapping of keys (task, dataset_path, ...).")
    includes = data.pop("include", None)
    if includes is None:
        return data
    root = folder or path.parent
    if depth >= MAX_INCLUDE_DEPTH:
        raise ConfigError(f"{source}: includes nest deeper than {MAX_INCLUDE_DEPTH} files; flatten them.")
    here = os.path.relpath(resolved.parent, os.path.realpath(root))  # "." or the sub-folder, inside root
    merged: dict[str, Any] = {}
    for inc in includes if isinstance(includes, list) else [includes]:
        if not isinstance(inc, str):
            raise ConfigError(f"{source}: include names a file, not {inc!r}.")
        target = inside(inc if Path(inc).is_absolute() else str(Path(here) / inc), root, "include")
        if target == resolved:
            raise ConfigError(f"{source}: it includes itself.")
        if target in seen:
            chain = " -> ".join(p.name for p in (*seen[resolved], target))
            if target in seen[resolved]:
                raise ConfigError(f"{source}: the includes loop ({chain}); drop one of them.")
            raise ConfigError(f"{source}: includes {target.name} a second time ({chain}); lm-eval reads each file "
                              "of a task once, so include it in one place.")
        if len(seen) >= MAX_INCLUDES:
            raise ConfigError(f"{source}: the task includes more than {MAX_INCLUDES} files; merge them.")
        seen[target] = (*seen[resolved], target)
        inner = read_task(target, root, depth + 1, seen)
        inner.pop("task_list", None)
        merged.update(inner)
    merged.update(data)
    return merged


def load_task(path: str | Path) -> tuple[TaskFile, list[str], Path]:
    """The validated task of the YAML at ``path``, its notes, and its folder (where its data files are)."""
    path = Path(path)
    data = read_task(path)
    source = path.name
    notes = check_keys(data, source)
    try:
        task = TaskFile.model_validate(data)
    except ValidationError as err:
        raise ConfigError(str(validation_error(source, err))) from None
    if task.dataset_kwargs is not None:
        unknown = sorted(set(task.dataset_kwargs) - {"data_files"})
        if unknown:
            raise ConfigError(f"{source}: dataset_kwargs key {unknown[0]!r} is not supported; give data_files only.")
    if task.doc_to_text is None:
        raise ConfigError(f"{source}: doc_to_text is missing; give a field name or a Jinja template.")
    if task.doc_to_target is None:
        raise ConfigError(f"{source}: doc_to_target is missing; give a field name, a template or a choice index.")
    if task.output_type == "multiple_choice":
        if task.doc_to_choice is None:
            raise ConfigError(f"{source}: a multiple_choice task needs doc_to_choice.")
        if task.target_delimiter.strip():
            raise ConfigError(f"{source}: target_delimiter {task.target_delimiter!r} is not whitespace; a "
                              "multiple_choice task here scores choices after a whitespace delimiter (' ', '' or "
                              "'\\n').")
        if task.generation_kwargs is not None or task.filter_list is not None:
            raise ConfigError(f"{source}: generation_kwargs and filter_list apply to generate_until, not "
                              "multiple_choice.")
    bad = [m.metric for m in task.metrics
           if (m.metric == "exact_match") != (task.output_type == "generate_until")]
    if bad:
        raise ConfigError(f"{source}: metric {bad[0]!r} does not apply to output_type {task.output_type}; "
                          "use acc/acc_norm for multiple_choice, exact_match for generate_until.")
    return task, notes, path.parent
