"""Self-consistency as a wrapper around a reasoning mode (Wang et al. 2022).

It is not a spec's ``reasoning`` value: it wraps whatever mode the spec has. Each of ``n`` paths runs
the mode's stages; only the mode's first stage is sampled (the ``n`` paths, seeds ``seed .. seed+n-1``),
every later stage runs as the mode says (Zero-shot-CoT's answer step greedy), and the answers are voted
on. :func:`workbench.consistency.self_consistency` runs it::

    >>> from workbench.reasoning.modes import ZERO_SHOT_COT
    >>> SELF_CONSISTENCY.sampled_stage(ZERO_SHOT_COT), SELF_CONSISTENCY.min_paths
    ('reasoning', 2)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from workbench.errors import ConfigError
from workbench.reasoning.base import ReasoningMode

if TYPE_CHECKING:
    from workbench.decoding import DecodingConfig
    from workbench.prompts.spec import PromptSpec


@dataclass(frozen=True)
class SelfConsistencyWrapper:
    """Sample several paths of a mode's stages and take the majority answer."""

    name: str  # how strategies and docs name it ("scN" in Evaluate)
    label: str  # what pickers show
    description: str  # one line for help texts and the docs
    min_paths: int = 2  # fewer paths is no vote

    def sampled_stage(self, mode: ReasoningMode) -> str:
        """The stage whose output is sampled once per path: the mode's first."""
        return mode.stages[0]

    def stage_config(self, mode: ReasoningMode, spec: PromptSpec, cfg: DecodingConfig, stage: str,
                     paths: int) -> DecodingConfig:
        """Decoding of ``stage`` for ``paths`` paths: the sampled stage takes ``n=paths`` in one call (seeds
        ``cfg.seed ..``), every later stage the mode's own settings for one path."""
        if not cfg.do_sample:
            raise ConfigError("Self-consistency samples several reasoning paths; turn sampling on.")
        one = mode.stage_config(spec, cfg.replace(n=1), stage)
        return one.replace(n=paths) if stage == self.sampled_stage(mode) else one


SELF_CONSISTENCY = SelfConsistencyWrapper(
    "self_consistency", "Self-consistency (majority vote)",
    "sample several reasoning paths and take the majority answer (Wang et al. 2022)")
