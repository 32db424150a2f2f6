"""Prompt-set names: one short line of printable text; tags.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable

from workbench.errors import DataError

#: Longest prompt-set name accepted (names are shown in lists and file names).
MAX_NAME_LENGTH = 120
#: Unicode categories a name may not hold: controls (NUL, ESC, BEL, ...), format characters (bidi overrides,
#: zero-width), surrogates and the line/paragraph separators U+2028/U+2029 -- a terminal or a list would act on them.
UNPRINTABLE_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})


def unprintable(char: str) -> bool:
    """True for a character a name may not hold and a terminal must not be sent raw (see UNPRINTABLE_CATEGORIES)."""
    return unicodedata.category(char) in UNPRINTABLE_CATEGORIES


def check_name(name: str) -> str:
    """A prompt-set name as stored (stripped); DataError unless it is one short line of printable text."""
    name = _lookup_name(name)
    if len(name) > MAX_NAME_LENGTH or "\n" in name or "\r" in name:
        raise DataError(f"Prompt set names are one line of at most {MAX_NAME_LENGTH} characters.")
    bad = next((c for c in name if unprintable(c)), None)
    if bad is not None:
        raise DataError(f"Prompt set names may not hold control characters (found U+{ord(bad):04X} at position "
                        f"{name.index(bad) + 1}); remove it.")
    return name


def _lookup_name(name: str) -> str:
    """A name to look a set up by: any stored name is found, even one saved before names were checked."""
    if not isinstance(name, str) or not name.strip():
        raise DataError("A prompt set needs a non-empty name.")
    return name.strip()


def _tags(tags: Iterable[str]) -> tuple[str, ...]:
    if isinstance(tags, str):
        tags = [tags]
    out: list[str] = []
    for tag in tags:
        tag = str(tag).strip()
        if tag and tag not in out:
            out.append(tag)
    return tuple(out)
