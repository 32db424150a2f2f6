"""A :class:`Plan`: an evaluation read from another tool's file (a promptfoo config, an lm-eval task), in the
workbench's own terms -- the items, the strategies (prompt x model, each with its checks and decoding) and the
models they name -- so that the CLI and the Evaluate page run it through :func:`workbench.evaluate.runner.evaluate`
like a run of their own."""

from __future__ import annotations

from dataclasses import dataclass

from workbench.data import Pool
from workbench.errors import ConfigError
from workbench.evaluate.strategies import Strategy


@dataclass(frozen=True)
class Plan:
    """An evaluation another tool's file describes."""

    source: str  # what it was read from, as messages name it ("promptfooconfig.yaml")
    dataset: Pool  # the tests (promptfoo) or documents (lm-eval), each with its own vars and assertions
    strategies: tuple[Strategy, ...]  # prompt x model; a strategy's ``model`` names one of ``models``
    models: tuple[str, ...] = ()  # model references (what --model takes), in order; () = the run's --model
    notes: tuple[str, ...] = ()  # keys read that change nothing here, one line each, shown once
    pool: Pool | None = None  # where demonstrations come from (lm-eval's fewshot_split); None: the dataset

    def __post_init__(self) -> None:
        object.__setattr__(self, "strategies", tuple(self.strategies))
        object.__setattr__(self, "models", tuple(self.models))
        object.__setattr__(self, "notes", tuple(self.notes))
        if not self.strategies:
            raise ConfigError(f"{self.source}: nothing to run (no prompts).")
        unknown = sorted({s.model for s in self.strategies if s.model is not None} - set(self.models))
        if unknown:
            raise ConfigError(f"{self.source}: a strategy names model {unknown[0]!r}, which the plan does not list.")
