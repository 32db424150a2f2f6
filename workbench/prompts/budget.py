"""The token budget: fit a prompt and its generation into the model's context window.

:func:`reserved_tokens` says how many tokens to keep free after the prompt (the reasoning mode
decides: Zero-shot-CoT also keeps room for its answer step); :func:`fit_to_window` drops
demonstrations until the prompt and that budget fit.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from functools import cache
from typing import TYPE_CHECKING

from workbench.data import Example
from workbench.decoding import DecodingConfig
from workbench.errors import PromptError
from workbench.prompts.rendering import ChatFormatter, RenderedPrompt, render
from workbench.prompts.spec import PromptSpec

if TYPE_CHECKING:
    from workbench.backends import Backend


def reserved_tokens(spec: PromptSpec, cfg: DecodingConfig, backend: ChatFormatter,
                    query: str | Example | None = None) -> int:
    """Tokens to keep free after the prompt: the generation budget, plus what the reasoning mode's later
    stages need (Zero-shot-CoT: the reasoning, the answer trigger and the answer step)."""
    return spec.mode.reserved_tokens(spec, cfg, backend, query)


def fit_to_window(
    spec: PromptSpec,
    demos: Sequence[Example],
    query: str | Example,
    backend: Backend | ChatFormatter,
    max_new_tokens: int,
    scores: Sequence[float] | None = None,
    as_chat: bool | None = None,
) -> RenderedPrompt:
    """Render, dropping demonstrations until prompt + ``max_new_tokens`` fits the context window.

    Drops the lowest-scored demonstrations first when ``scores`` (one per demo, higher =
    more relevant) are given, else from the front; the rest keep their order.
    ``dropped`` says how many went. Raises PromptError when even no demonstrations fit.
    """
    demos = tuple(demos)
    window = backend.context_window
    if max_new_tokens >= window:
        raise PromptError(f"max_new_tokens={max_new_tokens} leaves no room in the {window}-token context window; "
                          f"set it below {window}.")
    if scores is not None and len(scores) != len(demos):
        raise PromptError(f"Got {len(scores)} relevance scores for {len(demos)} demonstrations; give one per demo.")
    order = (sorted(range(len(demos)), key=lambda i: scores[i]) if scores is not None
             else list(range(len(demos))))
    budget = window - max_new_tokens

    @cache
    def attempt(n_dropped: int) -> RenderedPrompt:
        gone = set(order[:n_dropped])
        kept = [d for i, d in enumerate(demos) if i not in gone]
        return dataclasses.replace(render(spec, kept, query, backend, as_chat), dropped=n_dropped)

    if attempt(0).tokens <= budget:
        return attempt(0)
    if attempt(len(demos)).tokens > budget:
        raise PromptError(
            f"The prompt without demonstrations takes {attempt(len(demos)).tokens} tokens; with "
            f"max_new_tokens={max_new_tokens} it exceeds the {window}-token context window; "
            "shorten the query or the instruction, or lower max_new_tokens."
        )
    lo, hi = 0, len(demos)  # attempt(lo) overflows, attempt(hi) fits
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if attempt(mid).tokens <= budget:
            hi = mid
        else:
            lo = mid
    return attempt(hi)
