"""Decoding Lab comparisons: one or two prompts × several decoding configs, side by side.

:func:`run_grid` runs every config on every prompt and records each output with its seed and
timing. Configs that share a prompt run back-to-back so the backend's prompt cache is hit
(llama.cpp keeps the KV cache of the common prefix between calls), and the N samples of one
config are one ``generate`` call (``n=N``, seeds ``seed .. seed+N-1``), so any cell can be
reproduced from the seed it shows. :func:`diverge` finds where outputs part ways;
:func:`grid_to_json` / :func:`grid_to_csv` export a grid; :func:`self_consistency` samples
reasoning paths and takes a majority vote over their answers (Wang et al. 2022)::

    >>> diverge(["The cat sat", "The cat ran", "The dog"]).prefix
    'The '
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from workbench import consistency
from workbench.answers import AnswerFormat
from workbench.backends.base import Backend, Generation, Timer
from workbench.consistency import SelfConsistency
from workbench.csvsafe import rows_to_csv
from workbench.decoding import DecodingConfig
from workbench.errors import ConfigError
from workbench.prompts import PromptSpec
from workbench.reasoning.modes import MANUAL_COT, ZERO_SHOT_COT

#: Most configs the Decoding Lab compares at once (columns on one screen).
MAX_CONFIGS = 8
#: Most prompts compared at once (prompt A vs prompt B).
MAX_PROMPTS = 2


@dataclass(frozen=True)
class Cell:
    """The outputs of one config on one prompt (one per run; a greedy config runs once)."""

    prompt: str  # prompt label ("A", "B")
    config: str  # config label
    generations: tuple[Generation, ...]


@dataclass(frozen=True)
class Grid:
    """A finished comparison: the prompts, the configs and one cell per (prompt, config)."""

    prompts: tuple[tuple[str, str], ...]  # (label, exact text sent)
    configs: tuple[tuple[str, DecodingConfig], ...]  # (label, config as run, n = runs)
    cells: tuple[Cell, ...]  # prompt-major: all configs of prompt A, then of prompt B
    seconds: float  # wall time of the whole grid

    def cell(self, prompt: str, config: str) -> Cell:
        """The cell of one prompt label and one config label."""
        for c in self.cells:
            if c.prompt == prompt and c.config == config:
                return c
        raise KeyError((prompt, config))


@dataclass(frozen=True)
class Divergence:
    """Where several outputs part ways: the text they all start with, and what each has after it."""

    prefix: str
    tails: tuple[str, ...]

    @property
    def identical(self) -> bool:
        """True when every output is the same text."""
        return all(t == self.tails[0] for t in self.tails)


def diverge(texts: Sequence[str]) -> Divergence:
    """Split texts into their longest common (character) prefix and the rest of each."""
    texts = list(texts)
    if not texts:
        return Divergence("", ())
    shortest = min(texts, key=len)
    end = len(shortest)
    for i, ch in enumerate(shortest):
        if any(t[i] != ch for t in texts):
            end = i
            break
    return Divergence(shortest[:end], tuple(t[end:] for t in texts))


def runs_config(cfg: DecodingConfig, runs: int) -> DecodingConfig:
    """The config one grid cell runs: ``n=runs`` samples when sampling; greedy output is the same
    every time, so a greedy config runs once whatever ``runs`` says."""
    if runs < 1:
        raise ConfigError(f"Run each config at least once (got {runs}).")
    return cfg.replace(n=runs if cfg.do_sample else 1)


def _labelled_prompts(prompts: Mapping[str, str] | Sequence[str]) -> list[tuple[str, str]]:
    items = list(prompts.items()) if isinstance(prompts, Mapping) else [(chr(65 + i), p) for i, p in enumerate(prompts)]
    if not 1 <= len(items) <= MAX_PROMPTS:
        raise ConfigError(f"Compare 1 or {MAX_PROMPTS} prompts at a time (got {len(items)}).")
    return items


def _labelled_configs(configs: Sequence[tuple[str, DecodingConfig]]) -> list[tuple[str, DecodingConfig]]:
    configs = list(configs)
    if not 1 <= len(configs) <= MAX_CONFIGS:
        raise ConfigError(f"Compare between 1 and {MAX_CONFIGS} decoding configs (got {len(configs)}).")
    labels = [label for label, _ in configs]
    if len(set(labels)) != len(labels):
        raise ConfigError(f"Config names must be distinct; rename the duplicates in {labels}.")
    return configs


def run_grid(
    backend: Backend,
    prompts: Mapping[str, str] | Sequence[str],
    configs: Sequence[tuple[str, DecodingConfig]],
    runs: int = 1,
    on_cell: Callable[[Cell, int, int], None] | None = None,
    on_wait: Callable[[int], None] | None = None,
) -> Grid:
    """Run every config on every prompt; ``on_cell(cell, done, total)`` reports each finished cell.

    Prompt-major order: all configs of one prompt run back-to-back, so the prompt is evaluated
    once and reused from the backend's KV cache; the samples of a config are one call. A batching
    backend (``batch_size`` > 1) decodes all configs of a prompt together (:meth:`Backend.generate_configs`);
    its cells then arrive together.
    """
    prompt_items = _labelled_prompts(prompts)
    # The sampler order as run is written into each config, so the grid and its exports show it.
    config_items = [(label, runs_config(cfg, runs).replace(sampler_order=cfg.order_on(backend.sampler_order)))
                    for label, cfg in _labelled_configs(configs)]
    timer = Timer()
    cells: list[Cell] = []
    total = len(prompt_items) * len(config_items)
    batched = getattr(backend, "batch_size", 1) > 1
    for plabel, text in prompt_items:
        if batched:  # every config of this prompt in one call: decoded together, the prompt read once
            rows = backend.generate_configs(text, [cfg for _, cfg in config_items], on_wait=on_wait)
        for j, (clabel, cfg) in enumerate(config_items):
            gens = rows[j] if batched else backend.generate([text], cfg, on_wait=on_wait)[0]
            cell = Cell(plabel, clabel, tuple(gens))
            cells.append(cell)
            if on_cell is not None:
                on_cell(cell, len(cells), total)
    return Grid(tuple(prompt_items), tuple(config_items), tuple(cells), timer.seconds())


# --------------------------------------------------------------------------- export

#: CSV columns, one row per output; decoding settings follow these.
CSV_FIELDS = ("prompt", "config", "run", "seed", "text", "prompt_tokens", "completion_tokens",
              "seconds", "tokens_per_second", "finish_reason")
_CONFIG_FIELDS = tuple(k for k in DecodingConfig().to_dict() if k != "seed")


def _output_record(cell: Cell, run: int, gen: Generation) -> dict:
    return {
        "prompt": cell.prompt, "config": cell.config, "run": run, "seed": gen.seed, "text": gen.text,
        "prompt_tokens": gen.prompt_tokens, "completion_tokens": gen.completion_tokens,
        "seconds": round(gen.seconds, 4), "tokens_per_second": round(gen.tokens_per_second, 2),
        "finish_reason": gen.finish_reason,
    }


def grid_to_dict(grid: Grid) -> dict:
    """A JSON-able dict: prompts, every config, every output with its seed and timing."""
    return {
        "prompts": [{"label": label, "text": text} for label, text in grid.prompts],
        "configs": [{"label": label, **cfg.to_dict()} for label, cfg in grid.configs],
        "outputs": [_output_record(c, i, g) for c in grid.cells for i, g in enumerate(c.generations)],
        "seconds": round(grid.seconds, 4),
    }


def grid_to_json(grid: Grid) -> str:
    """The grid as indented JSON text (for a download button or a file)."""
    return json.dumps(grid_to_dict(grid), indent=2, ensure_ascii=False)


def grid_to_csv(grid: Grid) -> str:
    """One CSV row per output: the CSV_FIELDS, then every decoding setting of its config, then the prompt text."""
    configs = dict(grid.configs)
    prompts = dict(grid.prompts)
    rows = []
    for cell in grid.cells:
        settings = configs[cell.config].to_dict()
        settings["stop"] = json.dumps(settings["stop"], ensure_ascii=False)
        settings["sampler_order"] = " > ".join(settings["sampler_order"])
        for i, gen in enumerate(cell.generations):
            rows.append({**_output_record(cell, i, gen), **{k: settings[k] for k in _CONFIG_FIELDS},
                         "prompt_text": prompts[cell.prompt]})
    return rows_to_csv([*CSV_FIELDS, *_CONFIG_FIELDS, "prompt_text"], rows)  # formula cells neutralised


# --------------------------------------------------------------------------- self-consistency

def self_consistency(
    backend: Backend,
    prompt: str,
    cfg: DecodingConfig,
    n: int,
    fmt: AnswerFormat | str,
    labels: Sequence[str] | str | None = None,
    answer_step: bool = False,
    on_path: Callable[[int, int], None] | None = None,
) -> SelfConsistency:
    """The Decoding Lab's vote on a prompt as typed (``labels``: the label set, or choice letters "ABC"):
    ``n`` sampled paths (seeds ``cfg.seed ..``), each
    one's answer, the majority (:func:`workbench.consistency.self_consistency`, the one implementation).

    ``answer_step=False``: few-shot CoT, the answer follows "The answer is" in each path.
    ``answer_step=True``: Zero-shot-CoT's greedy answer step after each path (Kojima et al.).
    """
    spec = PromptSpec(answer_format=AnswerFormat(fmt).value, labels=tuple(labels or ()),  # "ABC" -> A, B, C
                      reasoning=(ZERO_SHOT_COT if answer_step else MANUAL_COT).name)
    return consistency.self_consistency(spec, prompt, backend, cfg.replace(n=n), on_path=on_path)
