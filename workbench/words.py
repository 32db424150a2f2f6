"""Words the pages and the library show: counts with the right plural ("1 demonstration", "2 demonstrations")."""

from __future__ import annotations


def plural(n: int, word: str, many: str | None = None) -> str:
    """``n`` and the noun, singular for exactly one.

    >>> plural(1, "demonstration"), plural(2, "demonstration"), plural(0, "token"), plural(1, "query", "queries")
    ('1 demonstration', '2 demonstrations', '0 tokens', '1 query')
    """
    return f"{n} {word if n == 1 else (many or word + 's')}"
