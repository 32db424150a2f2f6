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
:class:`~workbench.promptsets.model.Limits`; templates only ever go through :mod:`workbench.templates` (plain
``{name}`` substitution, nothing evaluated). Every problem is one :class:`~workbench.errors.DataError`
line naming the field, e.g. ``steps[0].decoding.top_p: must be in (0, 1] (got 1.5)``.

Exports are canonical (every field written, fixed key order), so export -> import ->
export is byte-identical, in YAML and in JSON.

A package of one concept per module; import each name from its module (this package exports nothing):
:mod:`~workbench.promptsets.model` (the set: ``PromptSet``, ``Step``, ``TestCase``, ``Limits``),
:mod:`~workbench.promptsets.files` (untrusted files in and out: ``load``, ``loads``, ``dumps``, ``classroom_sets``),
:mod:`~workbench.promptsets.running` (demonstrations, rendering, runs: ``render_step``, ``run_step``, ``run_set``),
:mod:`~workbench.promptsets.exports` (JSONL and CSV), :mod:`~workbench.promptsets.library` (versions in the
store: ``save``, ``get``, ``import_set``, ``find_set``), :mod:`~workbench.promptsets.folder` (the prompts folder:
sets and specs as files, ``list_folder``, ``with_versions``, ``save_file``) and :mod:`~workbench.promptsets.schema`
(the JSON Schema of prompt files, ``json_schema``).
"""
