"""The pool index: a pool's vectors and a FAISS inner-product index over them, cached on disk.

:func:`build_index` embeds a pool once and keeps the vectors and the FAISS index in a cache folder keyed by the
pool's content and the embedder, so reopening a pool (renamed or not) does not re-embed it. The folder is an
argument; when none is given it is the ``WORKBENCH_CACHE_DIR`` setting's ``index`` folder (read once, here).
Pools of :data:`HNSW_THRESHOLD` vectors or more get an approximate HNSW index, smaller ones an exact flat one.

    >>> index_kind(10), index_kind(HNSW_THRESHOLD)
    ('flat', 'hnsw')
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from workbench import settings
from workbench.data import Pool
from workbench.retrieval.embedder import Embedder, ProgressFn

#: Pools with at least this many vectors get an approximate HNSW index instead of an
#: exact flat one: below it a flat search over 384-d vectors takes well under 10 ms.
HNSW_THRESHOLD = 50_000
#: HNSW graph degree (faiss / hnswlib default 32).
HNSW_M = 32
#: HNSW build-time beam width (faiss default 40).
HNSW_EF_CONSTRUCTION = 40
#: HNSW search-time beam width (faiss default 16; raised for recall near 0.99 at k <= 16).
HNSW_EF_SEARCH = 64
#: Query embeddings kept in memory per index (one MiniLM vector is 1.5 kB).
QUERY_CACHE_SIZE = 10_000


def default_cache_dir() -> Path:
    """The ``WORKBENCH_CACHE_DIR`` setting's ``index`` folder, else the user cache dir ``prompt-workbench/index``."""
    root = settings.get("WORKBENCH_CACHE_DIR")
    if root:
        return Path(root).expanduser() / "index"
    import platformdirs

    return Path(platformdirs.user_cache_dir("prompt-workbench")) / "index"


class PoolIndex:
    """A pool with its vectors and a FAISS inner-product index (cosine on unit vectors)."""

    def __init__(self, pool: Pool, embedder: Embedder, vectors: np.ndarray, faiss_index=None):
        if vectors.shape[0] != len(pool):
            raise ValueError(f"{vectors.shape[0]} vectors for {len(pool)} examples")
        self.pool = pool
        self.embedder = embedder
        self.vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        self.faiss = faiss_index if faiss_index is not None else make_faiss_index(self.vectors)
        self.kind = "hnsw" if hasattr(self.faiss, "hnsw") else "flat"
        self._by_input: dict[str, list[int]] = {}
        for i, ex in enumerate(pool):
            self._by_input.setdefault(_key(ex.input), []).append(i)
        self._queries: OrderedDict[str, np.ndarray] = OrderedDict()
        self._queries_lock = threading.Lock()
        #: Selectors built over this index, least recently used first (kept by
        #: :func:`workbench.retrieval.selectors.registry.make_selector`; values are ``Selector`` objects).
        self.selectors: OrderedDict[tuple, Any] = OrderedDict()
        self.selectors_lock = threading.Lock()

    def __len__(self) -> int:
        return len(self.pool)

    @property
    def labels(self) -> list[str | None]:
        return [ex.label for ex in self.pool]

    def positions_of(self, query: str) -> tuple[int, ...]:
        """Pool positions whose input is the query (whitespace and case ignored)."""
        return tuple(self._by_input.get(_key(query), ()))

    def embed(self, query: str) -> np.ndarray:
        """The query's unit vector (cached)."""
        with self._queries_lock:
            vec = self._queries.get(query)
            if vec is not None:
                self._queries.move_to_end(query)
                return vec
        return self.embed_many([query])[0]

    def embed_many(self, queries: Sequence[str], progress: ProgressFn | None = None) -> np.ndarray:
        """Unit vectors of many queries in batches; remembered for later :meth:`embed` calls."""
        vecs = self.embedder.encode(list(queries), progress=progress)
        with self._queries_lock:
            for q, v in zip(queries, vecs, strict=True):
                self._queries[q] = v
                self._queries.move_to_end(q)
            while len(self._queries) > QUERY_CACHE_SIZE:
                self._queries.popitem(last=False)
        return vecs

    def search(self, query_vec: np.ndarray, k: int, exclude: Sequence[int] = ()) -> tuple[np.ndarray, np.ndarray]:
        """Top-``k`` pool positions by inner product with FAISS, leaving out ``exclude``."""
        n = len(self)
        k = min(k, n - len(set(exclude)))
        if k <= 0:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        skip = set(exclude)
        scores, ids = self.faiss.search(np.asarray(query_vec, dtype=np.float32).reshape(1, -1), min(n, k + len(skip)))
        keep = [(int(i), float(s)) for i, s in zip(ids[0], scores[0], strict=True) if i >= 0 and i not in skip][:k]
        return np.array([i for i, _ in keep], dtype=np.int64), np.array([s for _, s in keep], dtype=np.float32)


def index_kind(n: int) -> str:
    """``"flat"`` (exact) below :data:`HNSW_THRESHOLD` vectors, ``"hnsw"`` (approximate) from it on."""
    return "hnsw" if n >= HNSW_THRESHOLD else "flat"


def make_faiss_index(vectors: np.ndarray):
    """An ``IndexFlatIP``, or an inner-product ``IndexHNSWFlat`` for large pools."""
    import faiss

    dim = vectors.shape[1]
    if index_kind(len(vectors)) == "hnsw":
        index = faiss.IndexHNSWFlat(dim, HNSW_M, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = HNSW_EF_CONSTRUCTION
        index.hnsw.efSearch = HNSW_EF_SEARCH
    else:
        index = faiss.IndexFlatIP(dim)
    if len(vectors):
        index.add(np.ascontiguousarray(vectors, dtype=np.float32))
    return index


def build_index(
    pool: Pool,
    embedder: Embedder,
    cache_dir: str | os.PathLike | None = None,
    progress: ProgressFn | None = None,
) -> PoolIndex:
    """Embed ``pool`` and index it, or reopen both from the on-disk cache.

    The cache key is the pool's content hash plus the embedder id, so a renamed pool
    reuses its vectors and an edited one is re-embedded. Files are written atomically;
    an unreadable cache entry is rebuilt.
    """
    cache = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    key = hashlib.sha256(f"{pool.content_hash}\0{embedder.id}".encode()).hexdigest()[:40]
    vec_path = cache / f"{key}.vectors.npy"
    idx_path = cache / f"{key}.{index_kind(len(pool))}.faiss"

    vectors = _load_vectors(vec_path, len(pool))
    if vectors is None:
        vectors = embedder.encode(pool.inputs(), progress=progress)
        _atomic_write(vec_path, lambda tmp: _save_npy(tmp, vectors))
    elif progress is not None:
        progress(len(pool), len(pool))
    index = _load_faiss(idx_path, len(pool), vectors.shape[1])
    if index is None:
        import faiss

        index = make_faiss_index(vectors)
        _atomic_write(idx_path, lambda tmp: faiss.write_index(index, tmp))
    return PoolIndex(pool, embedder, vectors, index)


#: Widest embedding a cached vector file may hold (bounds the bytes read from the cache: n rows of float32).
MAX_EMBEDDING_DIM = 16_384


def _load_vectors(path: Path, n: int) -> np.ndarray | None:
    """The cached vectors, or None (rebuild) for a missing, damaged, oversized or non-regular cache file."""
    import io

    from workbench.errors import DataError
    from workbench.safeload import read_file

    try:
        data = read_file(path, max_bytes=4_096 + 4 * n * MAX_EMBEDDING_DIM)  # regular files only, capped read
        vectors = np.load(io.BytesIO(data), allow_pickle=False)
    except (DataError, OSError, ValueError, EOFError):
        return None
    if vectors.ndim != 2 or vectors.shape[0] != n or vectors.dtype != np.float32 or not np.isfinite(vectors).all():
        return None
    return vectors


def _load_faiss(path: Path, n: int, dim: int):
    if not path.is_file():
        return None
    import faiss

    try:
        index = faiss.read_index(str(path))
    except Exception:  # faiss raises RuntimeError, or worse, for a damaged file
        return None
    if index.ntotal != n or index.d != dim:
        return None
    if hasattr(index, "hnsw"):
        index.hnsw.efSearch = HNSW_EF_SEARCH  # a search-time setting: follow the current default
    return index


def _atomic_write(path: Path, write: Callable[[str], None]) -> None:
    """Write a cache file atomically; a read-only or full cache folder only costs speed."""
    from workbench.atomic import atomic_write

    try:
        atomic_write(path, write)
    except OSError:
        return


def _save_npy(path: str, array: np.ndarray) -> None:
    with open(path, "wb") as fh:  # a file object: np.save would append ".npy" to a bare name
        np.save(fh, array, allow_pickle=False)


def _key(text: str) -> str:
    return " ".join(text.split()).casefold()
