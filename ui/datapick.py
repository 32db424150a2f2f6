"""The data picker every page shares (Demonstrations, Auto-CoT, Evaluate): a shipped sample, or an upload with a
preview, its column mapping (input column or template, answer column) and names for its label values (0/1 ->
negative/positive). The mapping itself is :class:`workbench.data.ColumnMapping`; this module only draws it.
"""

from __future__ import annotations

import dataclasses

import pandas as pd
import streamlit as st

from ui.common import user_errors
from ui.fields import keep_widgets, unless_set
from workbench.data import ColumnMapping, Pool, RawTable, load_pool, load_sample, read_rows, sample_pools
from workbench.errors import ConfigError

#: Rows shown in an upload's preview.
PREVIEW_ROWS = 5
#: Most distinct answer values offered in the label-value table (more: not a label column).
MAX_LABEL_VALUES = 50
#: Column names tried, in order, as the default input and answer columns of an upload.
INPUT_GUESSES = ("question", "text", "input", "sentence", "review", "content")
ANSWER_GUESSES = ("answer", "label", "target", "gold", "class", "output")
#: File types an upload may have.
UPLOAD_TYPES = ["csv", "tsv", "json", "jsonl", "parquet"]


def _guess(columns: list[str], guesses: tuple[str, ...], fallback: int) -> int:
    lower = [c.lower() for c in columns]
    return next((lower.index(g) for g in guesses if g in lower), min(fallback, len(columns) - 1))


def mapping_controls(key: str, table: RawTable) -> ColumnMapping:
    """Preview of the first rows, the input column (or a template joining columns), the answer column and
    the answer values' names (numeric labels -> names)."""
    columns = list(table.columns)
    st.caption(f"{table.filename}: {len(table.rows)} rows · columns {', '.join(columns)}")
    preview = pd.DataFrame([{c: row.get(c) for c in columns} for row in table.rows[:PREVIEW_ROWS]])
    preview = preview.astype("string")
    st.dataframe(preview, hide_index=True, key=f"{key}_preview")
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
    mapping = _mapping(columns, input_column, template, answer)
    label_map = label_map_editor(f"{key}_labels_{answer}", table.values(answer, limit=MAX_LABEL_VALUES + 1))
    return dataclasses.replace(mapping, label_map=tuple(label_map.items()))


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
    """A shipped sample, or an upload with preview, column mapping and label-value names. None until ready (a
    problem is one red line). The choice of sample survives a visit to another page (an upload cannot: a browser
    cannot be handed a file back)."""
    names = list(sample_pools())
    keep_widgets((f"{key}_src", f"{key}_sample"))
    source = st.radio(what, ["Sample", "Upload"], horizontal=True, key=f"{key}_src")
    if source == "Sample":
        with user_errors(f"Loading the {what.lower()}"):
            index = names.index(default) if default in names else 0
            return load_sample(st.selectbox("Sample pool", names, key=f"{key}_sample",
                                            **unless_set(f"{key}_sample", index=index)))
        return None
    upload = st.file_uploader(f"{what}: {', '.join(t.upper() for t in UPLOAD_TYPES)}", type=UPLOAD_TYPES,
                              key=f"{key}_upload")
    if upload is None:
        st.info("Upload a file; then pick its input and answer columns.")
        return None
    with user_errors(f"Reading {upload.name}"):
        mapping = mapping_controls(key, read_rows((upload.name, upload.getvalue())))
        return load_pool((upload.name, upload.getvalue()), mapping=mapping)
    return None
