"""A run as JUnit XML, the test report CI systems read (GitHub Actions' test reporters, GitLab, Jenkins).

The shape of Ant's JUnit report and Jenkins' junit-4.xsd: ``<testsuites>`` holding one ``<testsuite>`` per
strategy (``<properties>`` first: run id, model, status), one ``<testcase>`` per item record (name: the item id;
classname: the strategy) with a ``<failure>`` (the failed checks' reasons, or expected vs got) when the item
failed, or an ``<error>`` when one of its checks could not run; then, when the gate ran, a ``gate`` suite with
one testcase per rule and strategy, so its verdict shows in CI. Text from models and files is untrusted: the
XML writer escapes markup, and characters XML cannot hold (controls but tab and newlines, lone surrogates,
U+FFFE/U+FFFF) are stripped.

    >>> rows = [{"strategy": "zero", "item_index": 0, "id": "q<1>", "gold": "4", "extracted": "5", "output": " 5\\x1b",
    ...          "correct": False, "seconds": 0.25}]
    >>> xml = junit_xml(rows, run_id=3, status="finished", models={"zero": "gemma-3-270m"})
    >>> 'name="q&lt;1&gt;"' in xml, "\\x1b" in xml, '<failure message="expected \\'4\\', got \\'5\\'"' in xml
    (True, False, True)
"""

from __future__ import annotations

import os
import re
import xml.etree.ElementTree as ET
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

#: Characters XML 1.0 cannot hold, and the C0/C1 controls (but tab, newline, carriage return) a report should not.
_STRIPPED = re.compile("[^\t\n\r\x20-\x7e\xa0-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
#: At most this many characters of a failure's message attribute (the whole text is in its body).
MESSAGE_CHARS = 1000
#: At most this many characters of a failure's body (an output can be a whole context window).
BODY_CHARS = 20_000
#: The root element's name attribute.
SUITES_NAME = "workbench eval"
#: The name of the gate's testsuite (and its testcases' classname).
GATE_SUITE = "gate"


def clean(text: Any, limit: int | None = None) -> str:
    """``text`` as a string XML can hold: characters it cannot (and control characters) stripped, cut at
    ``limit`` characters with an ellipsis.

    >>> clean("a\\x00b\\x1b[31mc\\ud800"), clean("abcdef", 3)
    ('ab[31mc', 'abc…')
    """
    out = _STRIPPED.sub("", str(text))
    return out if limit is None or len(out) <= limit else out[:limit] + "…"


def _item_name(record: Mapping[str, Any]) -> str:
    name = str(record.get("id") if record.get("id") is not None else record.get("item_index"))
    return name if record.get("repeat") is None else f"{name} (repeat {int(record['repeat']) + 1})"


def failure_reason(record: Mapping[str, Any]) -> str:
    """Why an item failed, in one line: its failed checks' reasons, else expected vs got.

    >>> failure_reason({"checks": [{"type": "contains", "passed": False, "score": 0, "reason": "no 'Paris'"},
    ...                            {"type": "is-json", "passed": True, "score": 1, "reason": "ok"}]})
    "contains: no 'Paris'"
    >>> failure_reason({"gold": "positive", "extracted": None})
    "expected 'positive', got no answer"
    """
    checks = [c for c in record.get("checks") or () if isinstance(c, Mapping)]
    reasons = [f"{c.get('type')}: {c.get('reason')}" for c in checks if not c.get("passed") and not c.get("error")]
    if reasons:
        return "; ".join(reasons)
    if checks and isinstance(record.get("score"), int | float):
        return f"weighted score {record['score']:.2f} is below the pass threshold"
    got = record.get("extracted")
    return f"expected {str(record.get('gold'))!r}, got {'no answer' if got is None else repr(str(got))}"


def _errors(record: Mapping[str, Any]) -> list[str]:
    return [f"{c.get('type')}: {c.get('error')}" for c in record.get("checks") or ()
            if isinstance(c, Mapping) and c.get("error")]


def _details(record: Mapping[str, Any]) -> str:
    """The body of a failure: what was expected, the answer read and the model's whole output."""
    lines = [f"expected: {record.get('gold')}", f"answer: {record.get('extracted')}"]
    lines += [f"check {c.get('type')}: {'pass' if c.get('passed') else 'FAIL'} {c.get('reason') or ''}".rstrip()
              for c in record.get("checks") or () if isinstance(c, Mapping)]
    lines.append(f"output: {record.get('output')}")
    return clean("\n".join(lines), BODY_CHARS)


def _testcase(suite: ET.Element, record: Mapping[str, Any], classname: str) -> str:
    """One item's testcase; returns "failure", "error" or "" (passed)."""
    seconds = record.get("seconds")
    case = ET.SubElement(suite, "testcase", name=clean(_item_name(record)), classname=clean(classname),
                         time=f"{float(seconds) if isinstance(seconds, int | float) else 0.0:.3f}")
    if errors := _errors(record):
        ET.SubElement(case, "error", message=clean("; ".join(errors), MESSAGE_CHARS),
                      type="check-error").text = _details(record)
        return "error"
    if not record.get("correct"):
        ET.SubElement(case, "failure", message=clean(failure_reason(record), MESSAGE_CHARS),
                      type="failed").text = _details(record)
        return "failure"
    return ""


def _suite(root: ET.Element, name: str, properties: Mapping[str, Any]) -> ET.Element:
    suite = ET.SubElement(root, "testsuite", name=clean(name))
    props = ET.SubElement(suite, "properties")
    for key, value in properties.items():
        if value is not None:
            ET.SubElement(props, "property", name=key, value=clean(value))
    return suite


#: A suite's count attributes and the testcase child each counts.
_COUNTED = {"failures": "failure", "errors": "error", "skipped": "skipped"}


def _count(element: ET.Element, time: float) -> dict[str, int]:
    """Set a suite's tests/failures/errors/skipped and time from its testcases; returns the counts."""
    cases = element.findall("testcase")
    counts = {"tests": len(cases), **{k: sum(c.find(tag) is not None for c in cases) for k, tag in _COUNTED.items()}}
    element.attrib.update({k: str(v) for k, v in counts.items()}, time=f"{time:.3f}")
    return counts


def junit_xml(records: Sequence[Mapping[str, Any]], *, run_id: int | None, status: str,
              models: Mapping[str, str], verdicts: Sequence[Any] = ()) -> str:
    """The run's records (and the gate's verdicts, :class:`workbench.evaluate.gate.Verdict`) as JUnit XML.
    ``models``: each strategy's model, for its suite's properties."""
    root = ET.Element("testsuites", name=SUITES_NAME)
    by: dict[str, list[Mapping[str, Any]]] = {}
    for r in records:
        by.setdefault(str(r.get("strategy")), []).append(r)
    totals = {"tests": 0, "failures": 0, "errors": 0}
    seconds = 0.0
    for name, rows in by.items():
        suite = _suite(root, name, {"run_id": run_id, "model": models.get(name), "status": status})
        for r in rows:
            _testcase(suite, r, name)
        time = sum(float(r["seconds"]) for r in rows if isinstance(r.get("seconds"), int | float))
        seconds += time
        counts = _count(suite, time)
        for k in totals:
            totals[k] += counts[k]
    if verdicts:
        suite = _suite(root, GATE_SUITE, {"run_id": run_id, "status": status})
        for v in verdicts:
            case = ET.SubElement(suite, "testcase", name=clean(f"{v.rule} {v.strategy or 'run'}"),
                                 classname=GATE_SUITE, time="0.000")
            if v.skipped:
                ET.SubElement(case, "skipped", message=clean(v.line, MESSAGE_CHARS))
            elif not v.passed:
                ET.SubElement(case, "failure", message=clean(v.line, MESSAGE_CHARS), type="gate").text = clean(v.line)
        counts = _count(suite, 0.0)
        for k in totals:
            totals[k] += counts[k]
    root.attrib.update({k: str(v) for k, v in totals.items()}, time=f"{seconds:.3f}")
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def write_junit(path: str | os.PathLike, xml: str) -> Path:
    """Write the report atomically (a crash never leaves half a file for CI to read); a place no file can be
    written is one line."""
    from workbench.atomic import write_text_atomic
    from workbench.errors import DataError

    path = Path(path)
    try:
        write_text_atomic(path, xml)
    except OSError as err:
        raise DataError(f"cannot write {path}: {err.strerror}") from None
    return path
