"""What a run is, and whether a stored run may be resumed: :func:`run_meta` (model, backend, dataset, pool,
strategies and the manifest that makes the run reproducible) and :func:`check_resumable` (one line naming what
differs between a stored run and the setup that would continue it).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from workbench.data import Pool
from workbench.errors import ConfigError
from workbench.evaluate.answer_modes import mode_for
from workbench.evaluate.strategies import Strategy, needs_index

if TYPE_CHECKING:
    from workbench.backends import Backend
    from workbench.store import Store


def run_meta(dataset: Pool, pool: Pool, strategies: Sequence[Strategy], backend: Backend,
             limit: int | None, embedder: str | None = None, store: Store | None = None,
             batch: int = 1) -> dict[str, Any]:
    """What a run is: model, backend, dataset and pool (name, size, hash), strategies, versions, and the
    manifest that makes it reproducible (package versions, model file sha256, embedder, index kind, seeds,
    ``batch``: the sequences decoded together at most, 1 = one at a time).

    ``embedder`` names the embedder used; by default the workbench's own when a strategy needs one.
    The model's sha256 is :func:`workbench.cache.model_identity`'s (remembered in ``store`` when given).
    """
    import os
    import platform

    import workbench
    from workbench.backends.kinds import is_server
    from workbench.cache import model_identity
    from workbench.report import package_versions

    indexed = needs_index(strategies)
    if indexed:
        from workbench.retrieval.embedder import DEFAULT_EMBEDDER
        from workbench.retrieval.index import index_kind
    model_path = getattr(getattr(backend, "spec", None), "path", None)
    # Only a real file, folder or server is hashed (a test double's empty path would mean the current folder).
    known = is_server(backend.spec.id, backend.name) or bool(model_path and os.path.exists(model_path))
    identity = model_identity(backend, store) if known else None
    seeds = sorted({s.seed for s in strategies} | {s.decoding.seed for s in strategies if s.decoding.seed is not None})
    return {
        "kind": "evaluate", "model": backend.spec.id, "backend": backend.name,
        "dataset": {"name": dataset.name, "size": len(dataset), "hash": dataset.content_hash},
        "pool": {"name": pool.name, "size": len(pool), "hash": pool.content_hash},
        "limit": limit, "strategies": [s.to_dict() for s in strategies],
        "batch": batch,  # sequences decoded together at most; 1 = one at a time (the exact unbatched text)
        "context_window": getattr(backend, "context_window", None),  # a resume with another window is refused
        "versions": {"workbench": workbench.__version__, "python": platform.python_version()},
        "manifest": {
            "packages": {"workbench": workbench.__version__, **package_versions()},
            "python": platform.python_version(),
            "model_file": os.path.basename(model_path) if model_path else None,  # no home folder in a shared file
            "model_sha256": identity.removeprefix("sha256:") if identity and identity.startswith("sha256:") else None,
            "model_identity": identity,  # sha256:<hex>, server:<url>#<model>, or id:<id>@<path>
            "embedder": (embedder or DEFAULT_EMBEDDER) if indexed else None,
            "index_kind": index_kind(len(pool)) if indexed else None,
            "dataset_hash": dataset.content_hash, "pool_hash": pool.content_hash,
            "seeds": seeds,
            # the answer-extraction style(s) of the strategies (workbench.answers.EXTRACTION_STYLES)
            "extract": ", ".join(dict.fromkeys(s.spec.extract for s in strategies)),
        },
    }


#: Strategy fields that must match for a run to be resumed (Auto-CoT's demonstrations are filled in later).
_RESUME_FIELDS = ("spec", "selector", "k", "order", "decoding", "answer", "label_words", "calibrate", "score_norm",
                  "samples", "seed", "checks", "threshold", "repeat", "model")


def check_resumable(run_id: int, meta: Mapping[str, Any], strategies: Sequence[Strategy], backend: Backend,
                    batch: int = 1) -> None:
    """Refuse to continue a stored run with another model, backend, context window, prompt, decoding or batching: one line
    naming what differs (resuming would silently mix two setups' results into one run)."""
    for what, stored, now in (("model", meta.get("model"), backend.spec.id),
                              ("backend", meta.get("backend"), backend.name)):
        if stored is not None and stored != now:
            raise ConfigError(f"Run {run_id} was made with {what} {stored!r}, not {now!r}; resume it with the same "
                              f"{what} or start a new run.")
    window = meta.get("context_window")  # runs before it was recorded: not compared
    if isinstance(window, int) and window != backend.context_window:
        raise ConfigError(f"Run {run_id} was made with a context window of {window:,} tokens, not "
                          f"{backend.context_window:,} (the prompts that fit differ); resume it with the same window "
                          "or start a new run.")
    stored_batch = meta.get("batch")
    if stored_batch is not None and stored_batch != batch and any(mode_for(s).generates for s in strategies):
        def how(n: int) -> str:
            return "one sequence at a time" if n == 1 else f"up to {n} sequences decoded together"

        raise ConfigError(f"Run {run_id} was generated {how(stored_batch)}, not {how(batch)}; resume it with the "
                          "same batching (Reproducible / WORKBENCH_BATCH) or start a new run.")
    stored = {d.get("name"): d for d in meta.get("strategies", [])}
    for s in strategies:
        if s.name not in stored:
            raise ConfigError(f"Run {run_id} has no strategy {s.name!r}; resume it with its own strategies "
                              f"({', '.join(map(str, stored))}).")
        mine = s.to_dict()
        for key in _RESUME_FIELDS:
            # (a key a stored run lacks is not compared; "model" is written only when a strategy has its own)
            if (key in stored[s.name] or key == "model") and stored[s.name].get(key) != mine.get(key):
                what = {"spec": "prompt", "decoding": "decoding settings", "checks": "assertions",
                        "threshold": "pass threshold", "repeat": "repeat count", "model": "model"}.get(key, key.replace("_", " "))
                raise ConfigError(f"Run {run_id}: strategy {s.name!r} was run with other {what}; resume it with "
                                  "the same settings or start a new run.")
