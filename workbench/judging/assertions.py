"""Text assertions with promptfoo's names and meaning: ``equals``, ``contains``, ``icontains`` (more kinds
land here; each is a :class:`~workbench.judging.base.JudgeKind` and one :func:`register_judge` line).

    >>> from workbench.data import Example
    >>> from workbench.judging.base import Case
    >>> from workbench.judging.registry import build_check
    >>> build_check("icontains: PARIS").run(Case(output="paris, France", item=Example("1", "q", "a"))).passed
    True
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from workbench.errors import ConfigError
from workbench.judging.base import Case, Finding, JudgeKind
from workbench.judging.registry import register_judge


def _text(value: Any, name: str) -> str:
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise ConfigError(f"the value must be text, not {type(value).__name__}.")
    return str(value)


@dataclass(frozen=True)
class Equals(JudgeKind):
    """The whole output equals the value (promptfoo: exact, after trimming nothing)."""

    def prepare(self, value, threshold, options):
        return _text(value, self.name)

    def evaluate(self, params, case: Case, threshold, tools) -> Finding:
        ok = case.output == params
        return Finding(ok, float(ok), "output equals the value" if ok else "output differs from the value")


@dataclass(frozen=True)
class Contains(JudgeKind):
    """The output contains the value (``ignore_case``: casefolded)."""

    ignore_case: bool = False  # icontains

    def prepare(self, value, threshold, options):
        return _text(value, self.name)

    def evaluate(self, params, case: Case, threshold, tools) -> Finding:
        out, val = (case.output.casefold(), params.casefold()) if self.ignore_case else (case.output, params)
        ok = val in out
        return Finding(ok, float(ok), f"{'contains' if ok else 'does not contain'} {params[:80]!r}")


register_judge(Equals("equals", "the output is exactly the value"))
register_judge(Contains("contains", "the output contains the value (case matters)"))
register_judge(Contains("icontains", "the output contains the value, ignoring case", ignore_case=True))
