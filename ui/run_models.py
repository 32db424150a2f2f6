"""The models of one Evaluate run on the page: a prompt x model run (a promptfoo config's providers, an lm-eval
task on several models) names its models by reference, and each loads through the page's cached model factory
(:func:`ui.common.cached_backend`: once per server, only the models this server allows).

The CLI's counterpart is ``workbench.cli.plan_args.run_models``: the run's own model is the first one named; every
other loads when its first strategy starts.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import streamlit as st

from ui import common
from workbench.backends import SERVER_BACKEND
from workbench.backends.kinds import is_server


def backend_for(ref: str) -> str:
    """The backend a model reference loads with: the sidebar's choice for a local model (llama.cpp,
    transformers, auto), ``auto`` for a server reference (it names its own kind) or when the sidebar is set to a
    server (whose URL is the sidebar's, not this reference's)."""
    choice = st.session_state.get("backend_choice") or "auto"
    return "auto" if is_server(ref, "auto") or choice == SERVER_BACKEND else choice


def check_allowed(refs: Sequence[str]) -> None:
    """One line (a ModelError) for the first model this server does not allow, before anything loads."""
    policy = common.model_policy()
    for ref in refs:
        policy.check(ref, backend_for(ref))


def factory(ref: str) -> Callable[[], object]:
    """A model as the runner takes it: loaded when first asked, through the page's cache (looked up when called,
    so that a test's stand-in applies)."""
    return lambda: common.cached_backend(ref, backend_for(ref))


def strategy_models(strategies: Sequence) -> dict[str, Callable[[], object]]:
    """``evaluate(models=...)``: each model reference the strategies name, as a factory, in order."""
    refs = dict.fromkeys(s.model for s in strategies if s.model is not None)
    return {ref: factory(ref) for ref in refs}


def run_backend(strategies: Sequence, own: str | None, sidebar):
    """The run's own model: the first a strategy names (as the CLI's ``--model`` first), else ``own`` (a
    one-model import's chosen model), else the sidebar's."""
    first = next((s.model for s in strategies if s.model is not None), own)
    return sidebar if first is None else factory(first)()
