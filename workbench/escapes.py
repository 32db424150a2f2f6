"""Text typed into one-line boxes and flags: ``\\n`` and ``\\t`` stand for a newline and a tab, ``\\\\`` for a
backslash. The one home of this rule for the pages, the CLI and label words.

    >>> unescape("Q:\\\\nA:")
    'Q:\\nA:'
    >>> escape("a\\tb\\n") == "a\\\\tb\\\\n"
    True
    >>> unescape(escape("C:\\\\path\\nnext")) == "C:\\\\path\\nnext"
    True
    >>> split_escaped("\\\\n, Q:,")
    ('\\n', ' Q:')
"""

from __future__ import annotations

_UNESCAPED = {"n": "\n", "t": "\t", "\\": "\\"}


def escape(text: str) -> str:
    """Newlines and tabs as ``\\n`` and ``\\t`` (backslashes doubled), so a one-line box can hold them."""
    return text.replace("\\", "\\\\").replace("\n", "\\n").replace("\t", "\\t")


def unescape(text: str) -> str:
    """The inverse of :func:`escape`; any other backslash stays as typed."""
    out, i = [], 0
    while i < len(text):
        if text[i] == "\\" and i + 1 < len(text):
            out.append(_UNESCAPED.get(text[i + 1], "\\" + text[i + 1]))
            i += 2
        else:
            out.append(text[i])
            i += 1
    return "".join(out)


def split_escaped(text: str) -> tuple[str, ...]:
    """A comma-separated list of escaped items (stop strings): each unescaped, blank items left out; spaces
    inside an item are kept (a stop string may start with one)."""
    return tuple(unescape(item) for item in text.split(",") if item.strip())
