"""CSV the workbench writes, safe to open in a spreadsheet: the one home of the CSV (formula) injection rule.

A spreadsheet (Excel, LibreOffice Calc, Google Sheets) runs a cell that starts with ``=``, ``+``, ``-`` or
``@`` as a formula (``=HYPERLINK(...)``, ``+cmd|' /c calc'!A1``), and tab, carriage return and line feed
before one of them are skipped. As OWASP recommends, every **text** cell that starts with one of
:data:`TRIGGERS` is written with a single quote in front (``'=1+2``), which a spreadsheet reads as "this is
text" and shows without it. Two kinds of cell are left as they are, since no formula can be in them:

* numbers the workbench writes as numbers (``-3.5``, ``-2``, ``True``): a CSV reader gets the number back;
* text that is exactly a plain decimal number (``"-3"``, ``"+2.5"``, ``"-1e-3"``, e.g. a gold answer or an
  extracted answer), which a spreadsheet reads as that number.

A text cell that holds ``;`` or a tab is quoted as well as one that holds ``,``, ``"`` or a line break, so a
spreadsheet that splits on ``;`` or tabs (a locale's list separator) cannot start a new cell inside it.

    >>> neutral("=1+2"), neutral("@SUM(A1)"), neutral("-3.5"), neutral(-3.5), neutral("- item"), neutral(None)
    ("'=1+2", "'@SUM(A1)", '-3.5', -3.5, "'- item", '')
    >>> rows_to_csv(["a", "b"], [{"a": "=cmd", "b": "x;=y"}, {"a": 2}])
    'a,b\\n\\'=cmd,"x;=y"\\n2,\\n'
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

#: First characters that make a spreadsheet read a cell as a formula (OWASP's list, NUL from ASVS 1.2.10, and
#: the full-width forms some spreadsheets also take): such a text cell gets a leading ``'``.
TRIGGERS = ("=", "+", "-", "@", "\t", "\r", "\n", "\0", "\uff1d", "\uff0b", "\uff0d", "\uff20")
#: Text that is only a plain decimal number: left as it is (a spreadsheet reads the number; no formula fits).
_PLAIN_NUMBER = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?", re.ASCII)
#: Characters that make a text cell quoted: the separator, the quote, line breaks, and the other separators a
#: spreadsheet may split on (``;`` in many locales, tab).
_QUOTE_IF = re.compile(r'[,"\r\n;\t]')


def neutral(value: Any) -> Any:
    """The cell ``value`` as it is safe to write: None as ``""``, a dict or list as JSON text, a number as it is,
    text starting with a formula trigger with ``'`` in front (unless it is a plain decimal number)."""
    if value is None:
        return ""
    if isinstance(value, bool | int | float):
        return value
    if isinstance(value, dict | list | tuple):
        value = json.dumps(value, ensure_ascii=False)
    text = str(value)
    if text.startswith(TRIGGERS) and not _PLAIN_NUMBER.fullmatch(text):
        return "'" + text
    return text


def _field(value: Any) -> str:
    value = neutral(value)
    if not isinstance(value, str):
        return str(value)  # int, float (repr), bool: as the csv module writes them
    return '"' + value.replace('"', '""') + '"' if _QUOTE_IF.search(value) else value


def rows_to_csv(fieldnames: Sequence[str], rows: Iterable[Mapping[str, Any]], lineterminator: str = "\n") -> str:
    """CSV text (RFC 4180 quoting): the header, then one line per row (a missing field is empty, others are
    ignored), every cell through :func:`neutral`."""
    lines = [",".join(_field(name) for name in fieldnames)]
    lines += [",".join(_field(row.get(name)) for name in fieldnames) for row in rows]
    return lineterminator.join(lines) + lineterminator
