"""The reference's settings: its tasks, their presets (clusters, rationale steps, answer-at-end check), and
:class:`AutoCoTConfig`, the parameters of one build."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from workbench.errors import ConfigError

#: Rationales generated per cluster at most (the reference tries every member; we generate live, so bound it).
MAX_TRIES_PER_CLUSTER = 8
#: The reference's tasks (``run_demo.py --task``).
REFERENCE_TASKS = ("aqua", "gsm8k", "commonsensqa", "addsub", "multiarith", "strategyqa", "svamp", "singleeq",
                   "coin_flip", "last_letters")
#: Tasks on which the reference checks that the answer is at the end of the rationale.
ARITHMETIC_TASKS = ("gsm8k", "multiarith", "singleeq", "addsub", "svamp")
#: The reference's per-task settings (``num_clusters``, ``max_ra_len``); other tasks: 8 clusters, 5 steps.
TASK_PRESETS: dict[str, dict[str, int]] = {
    "aqua": {"k": 4},
    "last_letters": {"k": 4, "max_rationale_steps": 7},
    "commonsensqa": {"k": 7},
    "strategyqa": {"k": 6},
}
#: Dataset-name spellings of the reference's tasks (letters and digits only, lower case).
_TASK_ALIASES = {"commonsenseqa": "commonsensqa", "csqa": "commonsensqa", "coinflip": "coin_flip",
                 "lastletters": "last_letters", "lastletter": "last_letters"}


@dataclass(frozen=True)
class AutoCoTConfig:
    """Auto-CoT parameters; defaults are the reference's for its arithmetic sets (see :meth:`for_task`)."""

    k: int = 8  # demonstrations = k-means clusters (the reference: 8 unless its task preset says otherwise)
    max_question_words: int = 60  # the question "Q: …\nA:" has at most 60 words (the reference's filter)
    max_rationale_steps: int = 5  # the rationale has at most 5 lines (the reference's --max_ra_len; 7 for last letters)
    answer_at_end: bool | None = None  # check the answer is at the end; None: only when answers are numbers
    max_tries_per_cluster: int = MAX_TRIES_PER_CLUSTER  # rationales generated per cluster at most (bounds time)
    fallback: bool = False  # a cluster with no passing member gives its nearest candidate, flagged (the reference drops it)
    seed: int = 0  # k-means++ seed (deterministic clusters)

    def __post_init__(self) -> None:
        if self.k < 1:
            raise ConfigError(f"k must be at least 1 (got {self.k}).")
        if self.max_question_words < 1 or self.max_rationale_steps < 1:
            raise ConfigError("Heuristic limits must be at least 1.")
        if self.max_tries_per_cluster < 1:
            raise ConfigError(f"max_tries_per_cluster must be at least 1 (got {self.max_tries_per_cluster}).")

    @classmethod
    def for_task(cls, task: str | None, **changes: Any) -> AutoCoTConfig:
        """The reference's settings for one of its tasks (None: the defaults), then ``changes``.

        >>> AutoCoTConfig.for_task("commonsensqa").k, AutoCoTConfig.for_task("multiarith").answer_at_end
        (7, True)
        """
        if task is None:
            return cls(**changes)
        if task not in REFERENCE_TASKS:
            raise ConfigError(f"Unknown Auto-CoT task {task!r}; choose one of {', '.join(REFERENCE_TASKS)}.")
        return cls(**{**TASK_PRESETS.get(task, {}), "answer_at_end": task in ARITHMETIC_TASKS, **changes})

    def checks_answer_at_end(self, answer_format: str) -> bool:
        """Whether the answer-at-end filter applies (the reference applies it to its arithmetic sets)."""
        return self.answer_at_end if self.answer_at_end is not None else answer_format == "number"


#: The defaults: the reference's settings for its arithmetic sets.
DEFAULT_CONFIG = AutoCoTConfig()


def task_for(name: str) -> str | None:
    """The reference task a dataset name stands for ("commonsenseqa_dev.jsonl" -> "commonsensqa"), or None.

    >>> task_for("MultiArith.jsonl"), task_for("sst2_dev")
    ('multiarith', None)
    """
    key = re.sub(r"[^a-z0-9]", "", Path(name).stem.lower())
    names = {t.replace("_", ""): t for t in REFERENCE_TASKS} | _TASK_ALIASES
    return next((names[n] for n in sorted(names, key=len, reverse=True) if key.startswith(n)), None)


def preset_k(dataset_name: str) -> int:
    """Demonstrations (clusters) the reference builds for a dataset: its task's ``num_clusters``, else 8.

    >>> preset_k("commonsenseqa_dev.jsonl"), preset_k("StrategyQA"), preset_k("last_letters"), preset_k("sst2_dev")
    (7, 6, 4, 8)
    """
    return AutoCoTConfig.for_task(task_for(dataset_name)).k
