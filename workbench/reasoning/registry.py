"""The registry of reasoning modes: the one list the spec parser, the CLI help, the pages and the docs read.

A spec's ``reasoning`` field names one entry; :func:`get` turns the name into the object that owns
the behaviour. Adding a mode is one new module with a :class:`~workbench.reasoning.base.ReasoningMode`
subclass and one line in :data:`MODES` below::

    >>> names()
    ('none', 'manual_cot', 'zero_shot_cot', 'auto_cot')
    >>> get("none") is NONE, get("auto_cot").rationale_demos
    (True, True)
"""

from __future__ import annotations

from workbench.errors import PromptError
from workbench.reasoning.base import ReasoningMode
from workbench.reasoning.modes import AUTO_COT, MANUAL_COT, NONE, ZERO_SHOT_COT
from workbench.reasoning.wrapper import SELF_CONSISTENCY, SelfConsistencyWrapper

#: Every reasoning mode a spec may name, in the order pickers and help texts list them.
MODES: tuple[ReasoningMode, ...] = (
    NONE,
    MANUAL_COT,
    ZERO_SHOT_COT,
    AUTO_COT,
)
#: Wrappers that run any mode several times (not a spec's ``reasoning`` value).
WRAPPERS: tuple[SelfConsistencyWrapper, ...] = (SELF_CONSISTENCY,)

_BY_NAME = {m.name: m for m in MODES}
if len(_BY_NAME) != len(MODES):  # pragma: no cover - a registration mistake, caught on import
    raise RuntimeError("Two reasoning modes share a name.")


def names() -> tuple[str, ...]:
    """The names a spec's ``reasoning`` may take, in registry order."""
    return tuple(_BY_NAME)


def get(name: str) -> ReasoningMode:
    """The mode named ``name``; an unknown name is one PromptError line listing the known ones."""
    try:
        return _BY_NAME[name]
    except (KeyError, TypeError):
        raise PromptError(f"Unknown reasoning mode {name!r}; choose one of {', '.join(names())}.") from None


def labels() -> dict[str, str]:
    """Name -> label, for pickers (``format_func``)."""
    return {m.name: m.label for m in _BY_NAME.values()}


def help_text() -> str:
    """One indented line per mode, name then description: for CLI help and the docs."""
    return "\n".join(f"  {m.name}: {m.description}" for m in _BY_NAME.values())
