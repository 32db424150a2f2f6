"""How a data file's rows become examples: a :class:`ColumnMapping` says which column holds the input (or an input
template joining several columns, ``"{title}. {description}"``) and the answer, and a label map turns stored values
into label names (``1=world,2=sports``); :func:`to_examples` applies it to parsed rows, refusing a row without an
input or a gold answer with one line naming the file, the row and the column.
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

from workbench.data.examples import Example
from workbench.data.rowchecks import carries_checks, check_columns, flatten_vars, input_column, read_row_checks
from workbench.data.shapes import AUTO, DatasetShape, check_name, resolve
from workbench.errors import ConfigError, DataError
from workbench.safeload import Bounds, check_tree, parse_json

#: Bounds on each row (and on a CSV cell's JSON ``choices``): rows nest a few levels (row -> choices -> text),
#: a text longer than 100,000 characters fits no context window, and no row has 1,000 columns.
#: Whole numbers are kept as text of any printable length (a gold answer may be 25! = 15511210043330985984000000).
ROW_BOUNDS = Bounds(max_depth=10, max_string=100_000, max_items=1_000, max_int=None)
#: A pool without a label column is treated as classification (label = answer) when it
#: has at most this many distinct answers ...
MAX_LABEL_CLASSES = 20
#: ... and each answer is shared by at least this many examples on average.
MIN_EXAMPLES_PER_LABEL = 2
#: A ``{column}`` placeholder of an input template; ``{{`` and ``}}`` are literal braces.
_PLACEHOLDER = re.compile(r"\{\{|\}\}|\{([^{}]*)\}")
#: A stored number that is a whole float ("1.0", as Parquet and pandas write integer labels with gaps).
_WHOLE_FLOAT = re.compile(r"^(-?\d+)\.0+$")
#: A parsed row: (line number for messages, {column: value}).
Row = tuple[int, dict[str, Any]]


@dataclass(frozen=True)
class ColumnMapping:
    """Which column of the file holds each field. Defaults follow the shared schema.

    ``input`` and ``answer`` must exist. ``id``, ``rationale``, ``label`` and ``choices``
    are optional while they keep their default names; a column the user names
    explicitly must exist. ``None`` switches an optional field off.

    ``input_template`` (e.g. ``"{title}. {description}"``) builds the input from several
    columns instead of ``input``; every column it names must exist. ``label_map`` turns the
    values stored in the answer (and label) column into label names, e.g. ``(("1", "world"),
    ("2", "sports"))``; with a map, a value it does not name is an error naming file, row and column.
    """

    id: str | None = "id"  # missing ids become "row-1", "row-2", ... (1-based row number)
    input: str = "question"  # the text a demonstration shows and a query is matched against
    answer: str = "answer"  # what the model should produce
    rationale: str | None = "rationale"  # optional chain-of-thought text
    label: str | None = "label"  # optional class; without it, label = answer for classification pools
    choices: str | None = "choices"  # optional dict (or JSON object text in CSV) of label -> choice text
    input_template: str | None = None  # None: the input is the ``input`` column; else "{col}" placeholders
    label_map: tuple[tuple[str, str], ...] = ()  # (stored value, label name); () keeps values as they are
    shape: str | None = AUTO  # the published file shape (workbench.data.shapes) rows are read in: "auto" detects
    # it (not with a label map: the map says how values read), a shape's name forces it, None reads as written

    def __post_init__(self) -> None:
        object.__setattr__(self, "label_map", tuple((str(a), str(b)) for a, b in dict(self.label_map).items()))
        object.__setattr__(self, "shape", check_name(self.shape))  # an unknown shape is refused here
        if self.input_template is not None:
            template_columns(self.input_template)  # a template without a placeholder is refused here

    def required(self) -> dict[str, str]:
        """Field name -> column for every column that must be present in the file."""
        defaults = ColumnMapping.__dataclass_fields__
        if self.input_template is not None:
            out = {f"input template's {{{c}}}": c for c in template_columns(self.input_template)}
            out["answer"] = self.answer
        else:
            out = {"input": self.input, "answer": self.answer}
        for name in ("id", "rationale", "label", "choices"):
            column = getattr(self, name)
            if column is not None and column != defaults[name].default:
                out[name] = column
        return out


#: The shared schema's own columns (frozen, so one instance serves as every default).
DEFAULT_MAPPING = ColumnMapping()


def template_columns(template: str) -> tuple[str, ...]:
    """The columns an input template names, in order: ``"{title}. {description}"`` -> ("title", "description")."""
    names = tuple(dict.fromkeys(m.group(1).strip() for m in _PLACEHOLDER.finditer(template)
                                if m.group(1) is not None))
    if "" in names:
        raise ConfigError(f"Input template {template!r} has an empty {{}}; name a column inside the braces.")
    if not names:
        raise ConfigError(f"Input template {template!r} names no column; write columns in braces, e.g. "
                          "'{title}. {description}'.")
    return names


def render_template(template: str, row: Mapping[str, Any]) -> str:
    """The template with each ``{column}`` replaced by the row's value (``{{``/``}}``: literal braces)."""

    def sub(m: re.Match) -> str:
        if m.group(1) is None:
            return m.group(0)[0]
        return cell_text(row.get(m.group(1).strip()))

    return _PLACEHOLDER.sub(sub, template)


def parse_label_map(text: str) -> tuple[tuple[str, str], ...]:
    """``"1=world, 2=sports"`` -> (("1", "world"), ("2", "sports")); empty text -> () (no map)."""
    pairs: dict[str, str] = {}
    for part in text.split(","):
        if not part.strip():
            continue
        value, sep, label = part.partition("=")
        if not sep or not value.strip() or not label.strip():
            raise ConfigError(f"Label map entry {part.strip()!r} needs the form value=label, e.g. '1=world,2=sports'.")
        if value.strip() in pairs:
            raise ConfigError(f"Label map names the value {value.strip()!r} twice; give each value once.")
        pairs[value.strip()] = label.strip()
    return tuple(pairs.items())


def to_examples(filename: str, rows: list[Row], mapping: ColumnMapping, where: str
                ) -> tuple[list[Example], str | None]:
    """Map parsed rows onto examples (all or nothing): each row within :data:`ROW_BOUNDS`, read in its dataset
    shape (:mod:`workbench.data.shapes`), with an input and a gold answer (or, in a file of test cases, its own
    assertions); label values through the map; a pool of few distinct answers gets label = answer.

    Returns the examples and the name of the shape they were read in (None: the columns as written)."""
    rows = [(lineno, flatten_vars(row)) for lineno, row in rows]
    for lineno, row in rows:
        check_tree(row, f"{filename} {where} {lineno}", ROW_BOUNDS, holder="a row")
    shape = _shape(filename, rows, mapping)
    if shape is not None:
        rows = _converted(filename, rows, shape, where)
    columns = list(dict.fromkeys(k for _, row in rows for k in row))
    check_columns(filename, columns)
    cases = carries_checks(columns)  # promptfoo test cases: rows with assertions judge themselves
    if cases and mapping.input_template is None and mapping.input == DEFAULT_MAPPING.input \
            and mapping.input not in columns and input_column(columns) is not None:
        mapping = dataclasses.replace(mapping, input=input_column(columns))
    no_gold = cases and mapping.answer == DEFAULT_MAPPING.answer and mapping.answer not in columns
    required = {k: v for k, v in mapping.required().items() if not (no_gold and k == "answer")}
    for fname, column in required.items():
        if column not in columns:
            raise DataError(
                f"{filename} has no column {column!r} for the {fname}; available columns: {', '.join(columns)}"
            )
    examples: list[Example] = []
    first_line: dict[str, int] = {}
    for n, (lineno, row) in enumerate(rows, start=1):
        at = f"{filename} {where} {lineno}"
        own = read_row_checks(row, at) if cases else None
        for fname, column in required.items():
            if column not in row and not (fname == "answer" and own and own.checks):
                raise DataError(f"{at} has no column {column!r} for the {fname}")
        if mapping.input_template is not None:
            text = render_template(mapping.input_template, row)
            if not any(cell_text(row.get(c)).strip() for c in template_columns(mapping.input_template)):
                raise DataError(f"{at}: empty input (columns "
                                f"{', '.join(map(repr, template_columns(mapping.input_template)))} are all empty)")
        else:
            text = cell_text(row.get(mapping.input))
            if not text.strip():
                raise DataError(f"{at}: empty input in column {mapping.input!r}")
        ex_id = cell_text(row.get(mapping.id)) if mapping.id else ""
        ex_id = ex_id.strip() or f"row-{n}"
        if ex_id in first_line:
            raise DataError(f"{at}: duplicate id {ex_id!r} (first on {where} {first_line[ex_id]})")
        first_line[ex_id] = lineno
        answer = "" if no_gold else cell_text(row.get(mapping.answer)).strip()
        if not answer and not (own and own.checks):
            if no_gold:
                raise DataError(f"{at}: no gold answer (the file has no {mapping.answer!r} column) and no assertion "
                                "in __expected or assert; add one, or an answer column")
            raise DataError(f"{at}: empty answer in column {mapping.answer!r}; "
                            "fill in the gold answer or remove the row")
        if answer:
            answer = _mapped(filename, where, lineno, mapping.answer, answer, mapping.label_map)
        label = _optional(row, mapping.label)
        if label is not None and mapping.label != mapping.answer:
            label = _mapped(filename, where, lineno, mapping.label, label, mapping.label_map)
        elif label is not None:
            label = answer
        examples.append(
            Example(
                id=ex_id,
                input=text,
                answer=answer,
                rationale=_optional(row, mapping.rationale),
                label=label,
                choices=_choices(filename, where, lineno, row, mapping.choices),
                checks=own.checks or None if own else None,
                threshold=own.threshold if own else None,
                human=own.human if own else None,
            )
        )
    if not any(ex.label is not None for ex in examples) and _looks_like_classification(examples):
        examples = [_with_label(ex, ex.answer) for ex in examples]
    return examples, shape.name if shape is not None else None


def _shape(filename: str, rows: list[Row], mapping: ColumnMapping) -> DatasetShape | None:
    """The shape the mapping picks for these rows; a forced shape's columns must be there."""
    if mapping.shape == AUTO and mapping.label_map:
        return None  # the user's label map says how the stored values read
    columns = list(dict.fromkeys(k for _, row in rows for k in row))
    shape = resolve(mapping.shape, columns, [row for _, row in rows])
    if shape is not None and mapping.shape != AUTO:
        missing = [c for c in shape.columns if c not in columns]
        if missing:
            raise DataError(f"{filename} has no column {missing[0]!r} for the {shape.name} shape; available "
                            f"columns: {', '.join(columns)}")
    return shape


def _converted(filename: str, rows: list[Row], shape: DatasetShape, where: str) -> list[Row]:
    survey = shape.survey([row for _, row in rows])
    out: list[Row] = []
    for lineno, row in rows:
        try:
            out.append((lineno, shape.convert(row, survey)))
        except DataError as err:
            raise DataError(f"{filename} {where} {lineno}: {err} (read as {shape.name}; set the shape to none to "
                            "read the columns as written)") from None
    return out


def cell_text(value: Any) -> str:
    """A cell as text: None is empty, booleans lower-case, numbers as written, anything else as JSON."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, int | float):
        return str(value)
    return json.dumps(value, ensure_ascii=False)


def _mapped(filename: str, where: str, lineno: int, column: str, value: str,
            label_map: tuple[tuple[str, str], ...]) -> str:
    """``value`` through the label map (a whole float "2.0" matches "2"); unchanged without a map."""
    if not label_map:
        return value
    names = dict(label_map)
    whole = _WHOLE_FLOAT.match(value)
    key = value if value in names or whole is None else whole.group(1)
    if key not in names:
        shown = ", ".join(list(names)[:10]) + (", ..." if len(names) > 10 else "")
        raise DataError(f"{filename} {where} {lineno}: value {value[:40]!r} in column {column!r} is not in the "
                        f"label map ({shown}); add it to the map as {value[:40]!r}=NAME")
    return names[key]


def _optional(row: Mapping[str, Any], column: str | None) -> str | None:
    if column is None:
        return None
    value = cell_text(row.get(column)).strip()
    return value or None


def _choices(filename: str, where: str, lineno: int, row: Mapping[str, Any], column: str | None) -> dict[str, str] | None:
    if column is None or row.get(column) in (None, ""):
        return None
    value = row[column]
    if isinstance(value, str):  # CSV/TSV: JSON object text in the cell, read as untrusted JSON
        source = f"{filename} {where} {lineno} column {column!r}"
        try:
            value = parse_json(value, source, ROW_BOUNDS.max_depth)
        except json.JSONDecodeError:
            value = None
        check_tree(value, source, ROW_BOUNDS, holder="a row")
    if not isinstance(value, dict):
        raise DataError(
            f'{filename} {where} {lineno}: column {column!r} must be an object of label -> text, e.g. {{"A": "yes"}}'
        )
    return {str(k): cell_text(v) for k, v in value.items()}


def _looks_like_classification(examples: list[Example]) -> bool:
    answers = {ex.answer for ex in examples}
    return (
        "" not in answers  # a file of test cases without gold answers is not classification
        and len(answers) <= MAX_LABEL_CLASSES
        and len(examples) >= MIN_EXAMPLES_PER_LABEL * len(answers)
    )


def _with_label(ex: Example, label: str) -> Example:
    values = {f.name: getattr(ex, f.name) for f in fields(ex)}
    values["label"] = label
    return Example(**values)
