"""Number fields and inputs that outlive a page switch: the input widgets every page's forms are made of.

:func:`number_field` never refuses or changes a value silently (a problem is one red line under the field);
:func:`keep_widgets` puts back the values Streamlit drops when another page runs; :func:`unless_set` gives a
widget its default only while the session holds no value for it.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable

import streamlit as st

from workbench.errors import WorkbenchError

#: Session key of the widget values a page keeps across page switches: widget key -> last value.
KEPT = "_kept_widgets"


def keep_widgets(keys: Iterable[str]) -> None:
    """Call at the top of a page, before its widgets: its inputs survive a visit to another page.

    Streamlit forgets the value of every widget a run did not draw, so after another page the inputs would be
    back at their defaults. Each run of the page copies the current values of ``keys`` aside (into session
    state under :data:`KEPT`, which Streamlit keeps), and puts back any that Streamlit has dropped. Only value
    widgets belong in ``keys`` (not buttons, uploads or data editors, whose values cannot be set).
    """
    ss = st.session_state
    kept = ss.setdefault(KEPT, {})
    for key in keys:
        if key in ss:
            kept[key] = ss[key]
        elif key in kept:
            ss[key] = kept[key]


def unless_set(key: str, **default) -> dict:
    """A widget's default (``value=…``, ``index=…``) only while the session holds no value for its key.

    A key set through session state (a page putting back its kept inputs, :func:`keep_widgets`) and a default
    together make Streamlit log "created with a default value but also had its value set via the Session State
    API"; the session's value wins anyway. Use as ``st.toggle(label, key=k, **unless_set(k, value=True))``.
    """
    return {} if key in st.session_state else default


def number_field(where, label: str, value: float | None, *, key: str, step: float = 1, lo: float | None = None,
                 hi: float | None = None, check: Callable[[float], None] | None = None, whole: bool | None = None,
                 optional: bool = False, **kwargs) -> tuple[float | None, str | None]:
    """A number input that never refuses or changes a value silently: the value as typed, and why it is invalid
    (or None).

    Streamlit's own bounds make the browser keep the old value and hide the reason in a tooltip, and its
    whole-number input reads ``1e3`` as 1 (JavaScript's parseInt). Here the input takes any number as the
    browser reads it (``1e3`` is 1000, ``2.5`` is 2.5), and a value out of range, not whole where a whole number
    is wanted (``whole``; default: ``value`` and ``step`` are ints) or refused by ``check`` is one red line
    right under the field; the page disables its action while any field has a problem (a disabled field has none:
    it gives ``value`` back and says nothing, as it does not apply). ``check(value)`` raises
    a WorkbenchError whose message says why (e.g. a DecodingConfig of that field). Returns an int for a valid
    whole-number field; an empty or infinite entry gives ``value`` back with its problem.
    """
    if whole is None:
        whole = isinstance(value, int) and isinstance(step, int)
    got = where.number_input(label, step=float(step), key=key, format="%g",
                             **unless_set(key, value=None if value is None else float(value)), **kwargs)
    problem = None
    if got is None and optional:  # ``optional``: an empty field is a choice (None), not a problem
        return None, None
    if got is None or not math.isfinite(got):
        problem = f"{label}: type a number."
        got = value
    elif whole and got != int(got):
        problem = f"{label} must be a whole number (got {_num(got)})."
    elif (lo is not None and got < lo) or (hi is not None and got > hi):
        problem = (f"{label} must be at least {_num(lo)} (got {_num(got)})." if hi is None else
                   f"{label} must be at most {_num(hi)} (got {_num(got)})." if lo is None else
                   f"{label} must be between {_num(lo)} and {_num(hi)} (got {_num(got)}).")
    if whole and problem is None:
        got = int(got)
    if problem is None and check is not None:
        try:
            check(got)
        except WorkbenchError as err:
            problem = str(err)
    if problem and kwargs.get("disabled"):  # a field that does not apply now (a preset's, K for zero-shot): its
        return value, None  # stale entry is neither said nor used, and it holds no action back
    if problem:
        where.error(problem, icon="⚠️")
    return got, problem


def _num(x: float) -> str:
    """A number as a user would write it: 2147483647, 0.05, 1e+21 (never 2.14748e+09).

    >>> _num(2**31 - 1), _num(0.05), _num(-3.0), _num(1e21)
    ('2147483647', '0.05', '-3', '1e+21')
    """
    return str(int(x)) if float(x).is_integer() and abs(x) < 1e16 else f"{x:g}"
