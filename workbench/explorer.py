"""Probability explorer: step through generation one token at a time and see each next-token distribution.

The state is a small frozen value (prompt ids + the tokens chosen so far) so a page can keep it
in its session and a test can build it by hand. At each step :func:`next_token` asks the backend
for the raw logits and shows them before and after the config's warpers (``warpers.explain``, the
same pure functions tested against Hugging Face's logits processors); :func:`pick` chooses the
next token greedily, by sampling with a local RNG, or as clicked::

    >>> state = ExplorerState(prompt_ids=(2, 10, 11))
    >>> state.choose(42, "clicked").ids
    (2, 10, 11, 42)
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from workbench.backends.base import Backend
from workbench.decoding import SAMPLER_ORDERS, DecodingConfig, describe_order
from workbench.errors import ConfigError, PromptError
from workbench.warpers import TokenView, explain, sample_next, warp

#: How a token was chosen.
HOW = ("greedy", "sampled", "clicked")
#: Bars in the explorer chart (most likely tokens under the raw logits).
DEFAULT_TOP = 20


@dataclass(frozen=True)
class ExplorerState:
    """The prompt's token ids and the tokens chosen after it, with how each was chosen."""

    prompt_ids: tuple[int, ...]
    chosen: tuple[int, ...] = ()
    how: tuple[str, ...] = ()  # one of HOW per chosen token

    def __post_init__(self) -> None:
        if len(self.chosen) != len(self.how):
            raise ValueError(f"{len(self.chosen)} chosen tokens but {len(self.how)} 'how' entries")

    @property
    def ids(self) -> tuple[int, ...]:
        """Everything the model has seen: prompt then chosen tokens."""
        return self.prompt_ids + self.chosen

    @property
    def step(self) -> int:
        """How many tokens have been chosen (0 at the start)."""
        return len(self.chosen)

    def choose(self, token_id: int, how: str) -> ExplorerState:
        """A new state with ``token_id`` appended."""
        if how not in HOW:
            raise ValueError(f"how must be one of {HOW}, got {how!r}")
        return ExplorerState(self.prompt_ids, (*self.chosen, int(token_id)), (*self.how, how))

    def undo(self) -> ExplorerState:
        """A new state without the last chosen token (unchanged at the start)."""
        if not self.chosen:
            return self
        return ExplorerState(self.prompt_ids, self.chosen[:-1], self.how[:-1])


@dataclass(frozen=True, eq=False)
class NextToken:
    """The next-token distribution at one step: raw logits and the top tokens before/after warping."""

    state: ExplorerState
    cfg: DecodingConfig
    logits: np.ndarray = field(repr=False)  # raw logits (float32, vocabulary-sized)
    views: tuple[TokenView, ...]  # most likely first under the raw logits
    order: tuple[str, ...] = SAMPLER_ORDERS["transformers"]  # the warper order applied (the backend's, unless set)
    native: tuple[str, ...] | None = None  # the backend's own order, to say whether ``order`` is it

    @property
    def kept(self) -> int:
        """How many tokens in the whole vocabulary survive the warpers."""
        return int(np.isfinite(warp(self.logits, self.cfg, self.state.ids, self.order)).sum())

    @property
    def order_text(self) -> str:
        """The warper order as a page shows it, e.g. ``top_k → … → temperature (llama.cpp order, native)``."""
        return describe_order(self.order, self.native)


def start(backend: Backend, prompt: str) -> ExplorerState:
    """The explorer's first state: the prompt tokenised as the model sees it."""
    if not prompt.strip():
        raise PromptError("The prompt is empty; type some text to explore.")
    return ExplorerState(prompt_ids=tuple(backend.tokenize(prompt)))


def next_token(backend: Backend, state: ExplorerState, cfg: DecodingConfig, top: int = DEFAULT_TOP) -> NextToken:
    """The model's next-token distribution after ``state`` and what ``cfg``'s warpers leave of it."""
    if len(state.ids) >= backend.context_window:
        raise PromptError(f"The text fills the context window of {backend.context_window} tokens; undo or restart.")
    logits = backend.next_token_logits(list(state.ids))
    order = cfg.order_on(backend.sampler_order)
    views = explain(logits, cfg, previous_ids=state.ids, token_texts=backend.token_text, top=top, order=order)
    return NextToken(state, cfg, logits, tuple(views), order, backend.sampler_order)


def step_rng(seed: int | None, step: int) -> np.random.Generator:
    """The RNG of one sampled step: seeded by (seed, step) so a walk replays exactly; fresh when seed is None."""
    return np.random.default_rng(None if seed is None else [seed, step])


def pick(nxt: NextToken, how: str, token_id: int | None = None) -> int:
    """The next token: ``greedy`` = argmax after penalties, ``sampled`` = a draw from the warped
    distribution (seed ``cfg.seed`` and the step number), ``clicked`` = ``token_id`` as given."""
    if how == "clicked":
        if token_id is None or not 0 <= int(token_id) < nxt.logits.size:
            raise ConfigError(f"Pick a token id between 0 and {nxt.logits.size - 1}.")
        return int(token_id)
    if how == "greedy":
        return sample_next(nxt.logits, nxt.cfg.replace(do_sample=False, n=1), rng=step_rng(0, 0),
                           previous_ids=nxt.state.ids, order=nxt.order)
    if how == "sampled":
        if not nxt.cfg.do_sample:
            raise ConfigError("Sampling a token needs sampling on in the decoding settings; or step greedily.")
        return sample_next(nxt.logits, nxt.cfg, step_rng(nxt.cfg.seed, nxt.state.step), previous_ids=nxt.state.ids,
                           order=nxt.order)
    raise ValueError(f"how must be one of {HOW}, got {how!r}")


def advance(backend: Backend, state: ExplorerState, cfg: DecodingConfig, how: str,
            token_id: int | None = None) -> ExplorerState:
    """One step: compute the distribution, choose a token ``how``, return the new state."""
    return state.choose(pick(next_token(backend, state, cfg, top=0), how, token_id), how)


def chosen_text(backend: Backend, state: ExplorerState) -> str:
    """The text of the chosen tokens, token by token."""
    return "".join(backend.token_text(t) for t in state.chosen)
