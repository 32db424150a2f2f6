"""Reasoning modes as objects: each owns how its prompt is written, its stages and their decoding.

Public surface (submodules hold the rest): the registry (:func:`get`, :func:`names`, :func:`labels`,
:data:`MODES`), the base class :class:`ReasoningMode`, the built-in entries ``NONE``, ``MANUAL_COT``,
``ZERO_SHOT_COT``, ``AUTO_COT`` and the ``SELF_CONSISTENCY`` wrapper.

* :mod:`~workbench.reasoning.base` -- the base class and its hooks;
* :mod:`~workbench.reasoning.modes` -- the four built-in modes;
* :mod:`~workbench.reasoning.wrapper` -- self-consistency, which wraps any mode;
* :mod:`~workbench.reasoning.registry` -- the list every reader uses.
"""

from workbench.reasoning.base import ReasoningMode
from workbench.reasoning.modes import AUTO_COT, MANUAL_COT, NONE, ZERO_SHOT_COT
from workbench.reasoning.registry import MODES, get, labels, names
from workbench.reasoning.wrapper import SELF_CONSISTENCY

__all__ = ["AUTO_COT", "MANUAL_COT", "MODES", "NONE", "SELF_CONSISTENCY", "ZERO_SHOT_COT", "ReasoningMode", "get",
           "labels", "names"]
