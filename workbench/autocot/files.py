"""Demo files: the reference's JSON shape (``{"demo": [...]}``) written and read; a demo file is untrusted
input (bounded size and shape, strict types, no control characters), every problem one DataError line."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from pathlib import Path

from workbench.autocot.demo import Demo
from workbench.autocot.filters import asked, question_text
from workbench.errors import DataError
from workbench.prompts.rendering import choices_text
from workbench.safeload import Bounds, check_tree, parse_json, validation_error

#: Most bytes a demo file may have (demo files are untrusted input).
MAX_DEMO_FILE_BYTES = 2_000_000
#: A demo file's shape: nesting {"demo": [{"choices": {...}}]}, characters of one text, demonstrations.
DEMO_FILE_BOUNDS = Bounds(max_depth=4, max_string=20_000, max_items=256)
MAX_DEMOS_IN_FILE, MAX_DEMO_TEXT, MAX_DEMO_FILE_DEPTH = (DEMO_FILE_BOUNDS.max_items, DEMO_FILE_BOUNDS.max_string,
                                                         DEMO_FILE_BOUNDS.max_depth)
#: Characters a demo file's text may not hold: control characters but tab and newline, and line/paragraph
#: separators (they would reach a terminal raw through ``autocot show``).
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029]")


def demos_to_json(demos: Sequence[Demo]) -> str:
    """The reference's demo-file shape, ``{"demo": [{"question": "Q: …\\nA:", "rationale", "pred_ans", "gold_ans"}]}``,
    plus ``cluster``, ``distance``, ``fallback`` and (multiple choice) ``choices``."""
    rows = []
    for d in demos:
        row = {"question": asked(question_text(d.question, d.choices)),
               "rationale": d.rationale, "pred_ans": d.pred_ans, "gold_ans": d.gold_ans,
               "cluster": d.cluster, "distance": d.distance, "fallback": d.fallback}
        if d.choices:
            row["choices"] = d.choices
        rows.append(row)
    return json.dumps({"demo": rows}, indent=2, ensure_ascii=False)


def _file_model():
    """Pydantic models of a demo file (extra keys forbidden, strict types, bounded sizes)."""
    from pydantic import BaseModel, ConfigDict, Field

    text = Field(max_length=MAX_DEMO_TEXT)
    config = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False)

    class Row(BaseModel):
        model_config = config
        question: str = text
        rationale: str = text
        pred_ans: str = text
        gold_ans: str | None = Field(None, max_length=MAX_DEMO_TEXT)
        cluster: int | None = Field(None, ge=0, le=10_000)
        distance: float | None = None
        fallback: bool = False
        choices: dict[str, str] | None = Field(None, max_length=26)

    class File(BaseModel):
        model_config = config
        demo: list[Row] = Field(max_length=MAX_DEMOS_IN_FILE)

    return File


def demos_from_json(text: str | bytes, source: str = "The demo file") -> tuple[Demo, ...]:
    """Read a demo file (ours or the reference's); a one-line DataError says what is wrong."""
    from pydantic import ValidationError

    if len(text) > MAX_DEMO_FILE_BYTES:
        raise DataError(f"{source} is larger than {MAX_DEMO_FILE_BYTES:,} bytes; it is refused.")
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8-sig")
        except UnicodeDecodeError as err:
            raise DataError(f"{source} is not UTF-8 text (byte {err.start}); save it as UTF-8.") from None
    try:
        data = parse_json(text, source, MAX_DEMO_FILE_DEPTH)  # deep nesting, huge integers, repeated keys
    except json.JSONDecodeError as err:
        raise DataError(f"{source} is not valid JSON ({str(err).splitlines()[0][:120]}).") from None
    if not isinstance(data, dict) or not isinstance(data.get("demo"), list):
        raise DataError(f'{source} must be a JSON object with a "demo" list.')
    check_tree(data, source, DEMO_FILE_BOUNDS, holder="a demo file")
    try:
        model = _file_model().model_validate(data)
    except ValidationError as err:
        raise validation_error(source, err) from None
    for i, row in enumerate(model.demo):
        choices = [("choices", text) for pair in (row.choices or {}).items() for text in pair]
        for name, value in [*row, *choices]:
            bad = _CONTROL.search(value) if isinstance(value, str) else None
            if bad:
                raise DataError(f"{source}: demo.{i}.{name}: control character U+{ord(bad[0]):04X}; remove it.")
    demos = []
    for row in model.demo:
        question = row.question.removeprefix("Q: ").removesuffix("\nA:")  # the reference writes "Q: …\nA:"
        if row.choices:
            question = question.removesuffix(f" Answer Choices: {choices_text(row.choices)}")
        demos.append(Demo(question, row.rationale, row.pred_ans, row.gold_ans, row.cluster, row.distance,
                          row.fallback, row.choices))
    return tuple(demos)


def save_demos(demos: Sequence[Demo], path: str | Path) -> None:
    """Write atomically: a crash never leaves half a file."""
    from workbench.atomic import write_text_atomic

    write_text_atomic(path, demos_to_json(demos))


def load_demos(path: str | Path) -> tuple[Demo, ...]:
    from workbench.safeload import read_file

    hint = "give an Auto-CoT demo file (.json)."
    data = read_file(path, missing=hint, folder=hint, max_bytes=MAX_DEMO_FILE_BYTES,
                     too_big=lambda name, size: f"{path} is larger than {MAX_DEMO_FILE_BYTES:,} bytes; it is refused.")
    return demos_from_json(data, str(path))
