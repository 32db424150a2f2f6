"""The data picker every page shares (Demonstrations, Auto-CoT, Evaluate): a shipped sample, a Hugging Face dataset
from the server's ``datasets`` cache (an id and a split, read offline by :mod:`workbench.data.hub`), or an upload with
a preview, its dataset shape (detected, forced or none: :mod:`workbench.data.shapes`), its column mapping (input column
or template, answer column) and names for its label values (0/1 -> negative/positive). The mapping itself is
:class:`workbench.data.ColumnMapping`; this module only draws it.
"""

from __future__ import annotations

import dataclasses

import pandas as pd
import streamlit as st
from streamlit.delta_generator import DeltaGenerator

from ui.common import user_errors
from ui.fields import keep_widgets, unless_set
from workbench.data import ColumnMapping, Pool, RawTable, load_pool, load_sample, read_rows, sample_pools
from workbench.data.hub import PREFIX, hf_splits, parse_id
from workbench.data.shapes import AUTO, SHAPES, DatasetShape, check_name, describe, detect
from workbench.errors import ConfigError, DataError

#: Rows shown in an upload's preview.
PREVIEW_ROWS = 5
#: Most distinct answer values offered in the label-value table (more: not a label column).
MAX_LABEL_VALUES = 50
#: Column names tried, in order, as the default input and answer columns of an upload.
INPUT_GUESSES = ("question", "text", "input", "sentence", "review", "content")
ANSWER_GUESSES = ("answer", "label", "target", "gold", "class", "output")
#: File types an upload may have.
UPLOAD_TYPES = ["csv", "tsv", "json", "jsonl", "parquet"]
#: The "Dataset shape" select's options (what ``ColumnMapping.shape`` takes): detect, each shape, none.
NO_SHAPE = "none"
SHAPE_OPTIONS = (AUTO, *SHAPES, NO_SHAPE)
#: The picker's sources, in the order the radio shows them.
SOURCES = ("Sample", "Upload", "Hugging Face dataset")


def shape_label(option: str) -> str:
    """An option of the "Dataset shape" select as the user reads it.

    >>> shape_label("auto"), shape_label("gsm8k"), shape_label("none")
    ('Detect (auto)', 'gsm8k', 'None: read the columns as written')
    """
    return {AUTO: "Detect (auto)", NO_SHAPE: "None: read the columns as written"}.get(option, option)


def shape_help() -> str:
    """The select's help: what each option does, one line per registered shape (its description)."""
    lines = [f"- **{name}**: {s.description} (gold: {s.gold})" for name, s in SHAPES.items()]
    return ("How the rows of a published benchmark file are read. **Detect** takes the first shape the rows fit; "
            "a shape's name forces it; **None** reads the input and answer columns you pick as written.\n\n"
            + "\n".join(lines))


def shape_note(setting: str | None, pool: Pool) -> str:
    """The line beside the select: which shape the rows were read in and what it found (``shapes.describe``).

    >>> pool = load_pool(("g.jsonl", b'{"question": "2+3?", "answer": "2+3=5\\\\n#### 5"}'))
    >>> shape_note("auto", pool)
    'detected: gsm8k — gold = the number after ####; the solution before it is the rationale; 1 rationale found'
    >>> shape_note(None, load_pool(("g.jsonl", b'{"question": "2+3?", "answer": "5"}'), ColumnMapping(shape=None)))
    'no shape — gold as written in the answer column; 0 rationales found'
    """
    said = describe(pool)
    if pool.shape is not None:
        said = said.removeprefix(f"{pool.shape}: ")
    if setting is None:
        return f"no shape — {said}"
    if setting == AUTO:
        return f"detected: {pool.shape or 'no shape'} — {said}"
    return f"forced: {setting} — {said}"


def _shape_in_effect(setting: str | None, table: RawTable) -> DatasetShape | None:
    """The shape the setting picks for the uploaded rows (detected, forced) or None (columns as written)."""
    if setting is None:
        return None
    return detect(table.columns, table.rows) if setting == AUTO else SHAPES[setting]


def _guess(columns: list[str], guesses: tuple[str, ...], fallback: int) -> int:
    lower = [c.lower() for c in columns]
    return next((lower.index(g) for g in guesses if g in lower), min(fallback, len(columns) - 1))


def mapping_controls(key: str, table: RawTable) -> tuple[ColumnMapping, DeltaGenerator]:
    """Preview of the first rows, the dataset shape, then (unless a shape reads the rows) the input column (or a
    template joining columns), the answer column and the answer values' names (numeric labels -> names).

    Returns the mapping and the place beside the shape select where :func:`shape_note` goes once the rows are read.
    """
    columns = list(table.columns)
    st.caption(f"{table.filename}: {len(table.rows)} rows · columns {', '.join(columns)}")
    preview = pd.DataFrame([{c: row.get(c) for c in columns} for row in table.rows[:PREVIEW_ROWS]])
    preview = preview.astype("string")
    st.dataframe(preview, hide_index=True, key=f"{key}_preview")
    s1, s2 = st.columns([2, 3], vertical_alignment="bottom")
    choice = s1.selectbox("Dataset shape", SHAPE_OPTIONS, format_func=shape_label, key=f"{key}_shape",
                          help=shape_help(), **unless_set(f"{key}_shape", index=0))
    setting = check_name(choice)
    note = s2.empty()
    shape = _shape_in_effect(setting, table)
    if shape is not None:  # the shape reads the question, the gold answer (and rationale, choices) from the rows
        return ColumnMapping(shape=setting), note
    c1, c2, c3 = st.columns([1, 2, 2])
    joined = c1.radio("Input from", ["one column", "a template"], key=f"{key}_input_mode",
                      help="A template joins several columns, e.g. {title}. {description}")
    if joined == "a template":
        template = c2.text_input("Input template", key=f"{key}_input_template",
                                 placeholder="{title}. {description}",
                                 help="Column names in braces; {{ and }} for literal braces.")
        input_column = None
    else:
        input_column = c2.selectbox("Input column", columns, index=_guess(columns, INPUT_GUESSES, 0),
                                    key=f"{key}_input")
        template = ""
    answer = c3.selectbox("Answer column", columns, index=_guess(columns, ANSWER_GUESSES, len(columns) - 1),
                          key=f"{key}_answer")
    mapping = dataclasses.replace(_mapping(columns, input_column, template, answer), shape=setting)
    label_map = label_map_editor(f"{key}_labels_{answer}", table.values(answer, limit=MAX_LABEL_VALUES + 1))
    return dataclasses.replace(mapping, label_map=tuple(label_map.items())), note


def _mapping(columns: list[str], input_column: str | None, template: str, answer: str) -> ColumnMapping:
    if input_column is None and not template.strip():
        raise ConfigError("Type an input template naming columns in braces, e.g. {title}. {description}")
    used = (input_column, answer) if input_column is not None else (answer,)
    # The answer column is the gold label; a separate default "label" column is used only if it is another one.
    label = "label" if "label" in columns and answer != "label" else None
    return ColumnMapping(input=input_column or "question", answer=answer, label=label,
                         id="id" if "id" in columns and "id" not in used else None,
                         input_template=template if input_column is None else None)


def label_map_editor(key: str, distinct: tuple[str, ...]) -> dict[str, str]:
    """Distinct answer values in a small editable table: type a name beside a value (e.g. 1 -> world).

    Returns value -> name for every value once any name is typed (an empty name keeps the value); {} for none.
    """
    if not distinct:
        return {}
    if len(distinct) > MAX_LABEL_VALUES:
        st.caption(f"Over {MAX_LABEL_VALUES} distinct answer values: answers are compared as they are.")
        return {}
    st.caption("Label values → names (leave a name empty to keep the value as it is; e.g. 0 → negative).")
    frame = pd.DataFrame({"value": list(distinct), "name": [""] * len(distinct)}).astype("string")
    edited = st.data_editor(frame, hide_index=True, disabled=["value"], key=key,
                            column_config={"name": st.column_config.TextColumn("name")})
    names = {row["value"]: row["name"].strip() if isinstance(row.get("name"), str) else ""
             for row in edited.to_dict("records")}
    if not any(names.values()):
        return {}
    return {value: name or value for value, name in names.items()}


def data_picker(key: str, what: str = "Pool", default: str | None = None) -> Pool | None:
    """A shipped sample, a Hugging Face dataset from the server's cache, or an upload; the last two with preview,
    dataset shape, column mapping and label-value names. None until ready (a problem, such as a forced shape the
    rows do not fit, is one red line). The choice of sample, dataset and shape survive a visit to another page (an
    upload cannot: a browser cannot be handed a file back)."""
    names = list(sample_pools())
    keep_widgets((f"{key}_src", f"{key}_sample", f"{key}_shape", f"{key}_hf_id", f"{key}_hf_split"))
    source = st.radio(what, SOURCES, horizontal=True, key=f"{key}_src")
    if source == "Sample":
        with user_errors(f"Loading the {what.lower()}"):
            index = names.index(default) if default in names else 0
            return load_sample(st.selectbox("Sample pool", names, key=f"{key}_sample",
                                            **unless_set(f"{key}_sample", index=index)))
        return None
    if source == "Hugging Face dataset":
        return hub_picker(key, what)
    upload = st.file_uploader(f"{what}: {', '.join(t.upper() for t in UPLOAD_TYPES)}", type=UPLOAD_TYPES,
                              key=f"{key}_upload")
    if upload is None:
        st.info("Upload a file; then pick its input and answer columns.")
        return None
    with user_errors(f"Reading {upload.name}"):
        mapping, note = mapping_controls(key, read_rows((upload.name, upload.getvalue())))
        pool = load_pool((upload.name, upload.getvalue()), mapping=mapping)
        note.caption(shape_note(mapping.shape, pool))
        return pool
    return None


def hub_picker(key: str, what: str) -> Pool | None:
    """A dataset id (``glue:sst2``, ``stanfordnlp/imdb``) and one of its splits, read offline from the server's
    ``datasets`` or hub cache, then the same mapping as an upload. Folders on the server are not offered (a browser
    user would read the server's files); a dataset not cached is one red line naming the command that fetches it."""
    c1, c2 = st.columns([3, 2], vertical_alignment="bottom")
    text = c1.text_input("Dataset id", key=f"{key}_hf_id", placeholder="glue:sst2 or stanfordnlp/imdb",
                         help="A Hugging Face dataset in this server's cache (HF_HOME): NAME, OWNER/NAME, or "
                              "NAME:CONFIG (glue:sst2). Read offline; nothing is downloaded.")
    if not text.strip():
        st.info("Type the id of a dataset in the server's Hugging Face cache; then pick a split and its columns.")
        return None
    with user_errors(f"Reading {PREFIX}{text.strip()}"):
        ref = parse_id(text)
        if ref.local:
            raise DataError(f"{PREFIX}{ref.path}: folders on the server are not offered here; type a dataset id "
                            "(NAME, OWNER/NAME or NAME:CONFIG) or upload the file")
        split = c2.selectbox("Split", hf_splits(ref.path, ref.name), key=f"{key}_hf_split")
        source = f"{PREFIX}{text.strip().removeprefix(PREFIX)}:{split}"
        mapping, note = mapping_controls(key, read_rows(source))
        pool = load_pool(source, mapping=mapping, name=source)
        note.caption(shape_note(mapping.shape, pool))
        return pool
    return None
