"""Prompt sets: a versioned, validated file format bundling prompt specs to keep, share and hand out.

A *prompt set* holds one or more **steps**; each step is a prompt spec
(:class:`~workbench.prompts.PromptSpec`) with its demonstrations -- written inline, or
chosen per query by a selector over a shipped pool -- a decoding config and a model
id. The set adds notes, tags and optional test inputs with expected answers::

    schema_version: 1
    name: Zero vs few-shot
    notes: Why demonstrations matter on a base model.
    steps:
      - title: Zero-shot
        model: gemma-3-270m
        spec: {query_template: "Review: {input}\\nSentiment:", ...}
        demos: []                 # or  select: {name: knn, k: 4, order: similar_last, pool: sentiment}
        decoding: {max_new_tokens: 4, ...}
    tests:
      - {input: "A joy from start to finish.", expected: positive}

A shared file is **untrusted**: YAML is read with the safe loader only, after an event
scan that refuses ``!!python/...`` and other custom tags, anchors/aliases (exponential
"billion laughs" expansion) and deep nesting; files, strings and lists are bounded by
:class:`Limits`; templates only ever go through :mod:`workbench.templates` (plain
``{name}`` substitution, nothing evaluated). Every problem is one :class:`DataError`
line naming the field, e.g. ``steps[0].decoding.top_p: must be in (0, 1] (got 1.5)``.

Exports are canonical (every field written, fixed key order), so export -> import ->
export is byte-identical, in YAML and in JSON.

A package of one concept per module, importable as ``workbench.promptsets`` as before:
:mod:`~workbench.promptsets.model` (the set), :mod:`~workbench.promptsets.files` (untrusted files in and out),
:mod:`~workbench.promptsets.running` (demonstrations, rendering, runs), :mod:`~workbench.promptsets.exports`
(JSONL and CSV) and :mod:`~workbench.promptsets.library` (versions in the store).
"""

from workbench.promptsets.exports import (
    JSONL_SHAPES,
    RESULT_COLUMNS,
    chat_messages,
    render_jsonl,
    result_row,
    results_csv,
)
from workbench.promptsets.files import (
    CLASSROOM_DIR,
    FORMATS,
    MIGRATIONS,
    classroom_sets,
    dumps,
    from_dict,
    load,
    loads,
    migrate,
    to_json,
    to_yaml,
)
from workbench.promptsets.library import (
    diff_versions,
    find_set,
    free_name,
    get,
    import_set,
    library_entries,
    matches,
    save,
    step_models,
)
from workbench.promptsets.model import (
    DEFAULT_LIMITS,
    MAX_SELECT_K,
    SCHEMA_VERSION,
    Limits,
    PromptSet,
    SelectorSpec,
    Step,
    TestCase,
)
from workbench.promptsets.running import (
    StepRun,
    accuracy_by_step,
    capped,
    default_index_factory,
    describe_decoding,
    describe_demos,
    pool_by_name,
    render_step,
    run_set,
    run_step,
    run_steps,
    step_demos,
)

__all__ = [
    "CLASSROOM_DIR",
    "DEFAULT_LIMITS",
    "FORMATS",
    "JSONL_SHAPES",
    "MAX_SELECT_K",
    "MIGRATIONS",
    "RESULT_COLUMNS",
    "SCHEMA_VERSION",
    "Limits",
    "PromptSet",
    "SelectorSpec",
    "Step",
    "StepRun",
    "TestCase",
    "accuracy_by_step",
    "capped",
    "chat_messages",
    "classroom_sets",
    "default_index_factory",
    "describe_decoding",
    "describe_demos",
    "diff_versions",
    "dumps",
    "find_set",
    "free_name",
    "from_dict",
    "get",
    "import_set",
    "library_entries",
    "load",
    "loads",
    "matches",
    "migrate",
    "pool_by_name",
    "render_jsonl",
    "render_step",
    "result_row",
    "results_csv",
    "run_set",
    "run_step",
    "run_steps",
    "save",
    "step_demos",
    "step_models",
    "to_json",
    "to_yaml",
]
