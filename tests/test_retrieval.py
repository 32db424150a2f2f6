"""Selectors, orderers and the index cache on hand-made vectors; one test with the real MiniLM."""

from __future__ import annotations

import numpy as np
import pytest

from workbench.data import Example, Pool, load_sample
from workbench.errors import ConfigError, ModelError
from workbench.retrieval import index as index_module
from workbench.retrieval.choose import choose_demos
from workbench.retrieval.embedder import load_embedder, normalize
from workbench.retrieval.index import PoolIndex, build_index
from workbench.retrieval.orders import ORDERS, order
from workbench.retrieval.selectors.base import Selection
from workbench.retrieval.selectors.bm25 import BM25Selector
from workbench.retrieval.selectors.cluster import ClusterDiverseSelector, cluster_diverse, kmeans_assign
from workbench.retrieval.selectors.fixed import FixedSelector
from workbench.retrieval.selectors.knn import KNNSelector, knn
from workbench.retrieval.selectors.label_balanced import LabelBalancedSelector, label_balanced
from workbench.retrieval.selectors.mmr import MMRSelector, mmr
from workbench.retrieval.selectors.random_pick import RandomSelector, random_pick
from workbench.retrieval.selectors.registry import SELECTORS, make_selector

# Six unit vectors and a query, chosen so every algorithm has clear margins.
#   similarity to Q:  [0.941, 0.978, 0.928, 0.374, 0.215, -0.917]
#   0 and 1 are near-duplicates (0.98), 2 is close to both, 3/4/5 point elsewhere.
V = normalize(np.array([[1, 0, 0], [0.98, 0.2, 0], [0.9, 0, 0.44], [0.1, 1, 0], [0, 0.1, 1], [-1, 0, 0.1]]))
Q = normalize(np.array([1, 0.3, 0.2]))
LABELS = ["a", "a", "b", "b", "a", "c"]
TEXTS = ["alpha one", "alpha two", "beta one", "gamma", "delta", "omega"]
QUERY = "the query"


class TableEmbedder:
    """Looks texts up in a table of hand-made vectors and counts encode calls."""

    def __init__(self, table: dict[str, np.ndarray], id: str = "table-v1"):
        self.table = table
        self.id = id
        self.batches: list[list[str]] = []

    @property
    def calls(self) -> int:
        """How often a whole pool (more than one text) was encoded; single texts are queries."""
        return sum(len(b) > 1 for b in self.batches)

    def encode(self, texts, batch_size=64, progress=None):
        self.batches.append(list(texts))
        out = np.array([self.table[t] for t in texts], dtype=np.float32).reshape(len(texts), -1)
        if progress is not None:
            progress(len(texts), len(texts))
        return out


def make_pool() -> Pool:
    return Pool("hand", tuple(Example(str(i), t, LABELS[i], label=LABELS[i]) for i, t in enumerate(TEXTS)))


@pytest.fixture
def embedder() -> TableEmbedder:
    return TableEmbedder({**dict(zip(TEXTS, V, strict=True)), QUERY: Q})


@pytest.fixture
def index(embedder, tmp_path) -> PoolIndex:
    return build_index(make_pool(), embedder, cache_dir=tmp_path)


# ---- pure algorithms -------------------------------------------------------------------


def test_knn():
    idx, scores = knn(Q, V, 3)
    assert idx.tolist() == [1, 0, 2]
    assert scores.tolist() == pytest.approx([0.9782, 0.9407, 0.9278], abs=1e-4)
    assert knn(Q, V, 3, exclude=[1])[0].tolist() == [0, 2, 3]
    assert knn(Q, V, 10, exclude=[0, 1])[0].tolist() == [2, 3, 4, 5]


@pytest.mark.parametrize(
    ("lambda_", "expected"),
    [(1.0, [1, 0, 2, 3]), (0.7, [1, 2, 0, 3]), (0.5, [1, 4, 3, 2]), (0.3, [1, 5, 4, 3]), (0.0, [1, 5, 4, 3])],
)
def test_mmr_trades_relevance_for_diversity(lambda_, expected):
    idx, scores = mmr(Q, V, 4, lambda_)
    assert idx.tolist() == expected
    assert scores.tolist() == pytest.approx((V @ Q)[expected].tolist(), abs=1e-6)


def test_mmr_excludes():
    assert mmr(Q, V, 3, 0.5, exclude=[1])[0].tolist() == [0, 3, 4]


def test_label_balanced_round_robin():
    # labels by nearest member: a (1), b (2), c (5); round 2: a (0), b (3); round 3: a (4)
    assert label_balanced(Q, V, LABELS, 4)[0].tolist() == [1, 2, 5, 0]
    assert label_balanced(Q, V, LABELS, 10)[0].tolist() == [1, 2, 5, 0, 3, 4]
    assert label_balanced(Q, V, LABELS, 3, exclude=[1, 2])[0].tolist() == [0, 3, 5]
    assert label_balanced(Q, V, ["a", None, "b", None, None, None], 5)[0].tolist() == [0, 2]


def test_cluster_diverse_nearest_member_per_cluster():
    assign = np.array([0, 0, 0, 1, 2, 1])
    assert cluster_diverse(Q, V, assign)[0].tolist() == [1, 3, 4]
    assert cluster_diverse(Q, V, assign, exclude=[1, 3])[0].tolist() == [0, 4, 5]


def test_kmeans_finds_separated_groups():
    rng = np.random.default_rng(0)
    centres = np.eye(4, dtype=np.float32)[:3]
    pts = normalize(np.repeat(centres, 5, axis=0) + 0.05 * rng.standard_normal((15, 4)).astype(np.float32))
    assign = kmeans_assign(pts, 3, seed=1)
    groups = {frozenset(np.flatnonzero(assign == c).tolist()) for c in set(assign.tolist())}
    assert groups == {frozenset(range(0, 5)), frozenset(range(5, 10)), frozenset(range(10, 15))}
    assert kmeans_assign(pts, 3, seed=1).tolist() == assign.tolist()
    assert sorted(kmeans_assign(pts[:2], 5).tolist()) == [0, 1]  # at most one cluster per point


def test_random_pick():
    a = random_pick(6, 3, np.random.default_rng(7), exclude=[2])
    b = random_pick(6, 3, np.random.default_rng(7), exclude=[2])
    assert a.tolist() == b.tolist()
    assert len(set(a.tolist())) == 3 and 2 not in a.tolist()
    assert sorted(random_pick(6, 10, np.random.default_rng(0), exclude=[0, 5]).tolist()) == [1, 2, 3, 4]


# ---- orderers --------------------------------------------------------------------------

SEL = Selection(indices=(1, 3, 0, 5), scores=(0.9, 0.2, 0.7, 0.4), reason="test")


@pytest.mark.parametrize(
    ("how", "expected"),
    [
        ("as_selected", (1, 3, 0, 5)),
        ("similar_first", (1, 0, 5, 3)),
        ("similar_last", (3, 5, 0, 1)),
    ],
)
def test_order(how, expected):
    result = order(SEL, how)
    assert result.indices == expected
    assert dict(zip(result.indices, result.scores, strict=True)) == dict(zip(SEL.indices, SEL.scores, strict=True))
    assert result.reason == SEL.reason


def test_label_interleaved_alternates():
    labels = ["pos", "pos", "pos", "neg", "neg", "neg"]
    sel = Selection((0, 1, 2, 3, 4), (0.9, 0.8, 0.7, 0.6, 0.5), "t")
    assert order(sel, "label_interleaved", labels=labels).indices == (0, 3, 1, 4, 2)


def test_order_ties_keep_selection_order_and_random_is_seeded():
    sel = Selection((4, 2, 9), (0.5, 0.5, 0.1), "t")
    assert order(sel, "similar_first").indices == (4, 2, 9)
    assert order(sel, "similar_last").indices == (9, 4, 2)
    shuffled = order(SEL, "random", seed=3)
    assert shuffled == order(SEL, "random", seed=3)
    assert sorted(shuffled.indices) == sorted(SEL.indices)


def test_order_errors():
    with pytest.raises(ConfigError, match="labels"):
        order(SEL, "label_interleaved")
    with pytest.raises(ConfigError, match="similar_last"):
        order(SEL, "sideways")
    assert set(ORDERS) == {"similar_last", "similar_first", "random", "as_selected", "label_interleaved",
                           "global-entropy", "local-entropy"}


# ---- selectors over an index -----------------------------------------------------------


def test_knn_selector_uses_faiss_and_excludes_the_query(index, embedder):
    sel = KNNSelector(index).select(QUERY, 3)
    assert sel.indices == (1, 0, 2)
    assert sel.scores == pytest.approx((0.9782, 0.9407, 0.9278), abs=1e-4)
    # the query is pool example 1 itself (case and spacing ignored): it is left out
    embedder.table["Alpha  TWO"] = V[1]
    assert KNNSelector(index).select("Alpha  TWO", 3).indices == (0, 2, 3)


def test_other_selectors_exclude_the_query(index):
    q = "alpha two"  # pool example 1, whose vector is V[1]
    assert MMRSelector(index, 1.0).select(q, 2).indices == (0, 2)
    assert LabelBalancedSelector(index).select(q, 3).indices == (0, 2, 5)
    assert FixedSelector(index, [1, 4, 3]).select(q, 5).indices == (4, 3)
    assert 1 not in RandomSelector(index, seed=0).select(q, 5).indices
    assert 1 not in ClusterDiverseSelector(index, seed=0).select(q, 3).indices


def test_mmr_and_label_balanced_selectors(index):
    assert MMRSelector(index, 0.5).select(QUERY, 4).indices == (1, 4, 3, 2)
    assert LabelBalancedSelector(index).select(QUERY, 4).indices == (1, 2, 5, 0)


def test_cluster_selector_one_per_cluster(index):
    selector = ClusterDiverseSelector(index, seed=0)
    sel = selector.select(QUERY, 3)
    clusters = selector.assignments(3)
    assert len(sel.indices) == 3
    assert len({int(clusters[i]) for i in sel.indices}) == 3
    # each pick is its cluster's member nearest the query
    assert sel.indices == tuple(cluster_diverse(Q, V, clusters)[0].tolist())


def test_random_selector_seeded_per_query(index):
    a = RandomSelector(index, seed=5).select(QUERY, 3)
    assert a == RandomSelector(index, seed=5).select(QUERY, 3)
    assert len(set(a.indices)) == 3
    assert a.scores == pytest.approx(tuple((V @ Q)[list(a.indices)].tolist()), abs=1e-5)


def test_fixed_selector(index):
    assert FixedSelector(index, [5, 0, 5]).select(QUERY, 8).indices == (5, 0)
    assert FixedSelector(index, [5, 0, 3]).select(QUERY, 2).indices == (5, 0)
    with pytest.raises(ConfigError, match=r"\[6\]"):
        FixedSelector(index, [0, 6])


def test_bm25_selector(tmp_path):
    texts = ["the cat sat on the mat", "a dog barked at the cat", "dogs and cats play", "stock prices fell today"]
    pool = Pool("bm", tuple(Example(str(i), t, "x") for i, t in enumerate(texts)))
    emb = TableEmbedder({t: np.eye(4, dtype=np.float32)[i] for i, t in enumerate(texts)})
    idx = build_index(pool, emb, cache_dir=tmp_path)
    bm25 = BM25Selector(idx)
    emb.table["the cat and the dog"] = np.ones(4, dtype=np.float32) / 2
    sel = bm25.select("the cat and the dog", 2)
    assert sel.indices == (1, 0)
    assert sel.scores[0] > sel.scores[1] > 0
    assert bm25.select("a dog barked at the cat", 2).indices == (0, 2)  # itself left out
    assert bm25.scores("zebra").tolist() == [0, 0, 0, 0]


def test_selector_errors(tmp_path):
    unlabelled = Pool("u", (Example("0", "alpha one", "x"),))
    idx = build_index(unlabelled, TableEmbedder({"alpha one": V[0]}), cache_dir=tmp_path)
    with pytest.raises(ConfigError, match="label"):
        LabelBalancedSelector(idx)
    with pytest.raises(ConfigError, match="lambda"):
        MMRSelector(idx, 1.5)
    with pytest.raises(ConfigError, match="k must"):
        KNNSelector(idx).select("alpha one", -1)


def test_make_selector_covers_every_name(index):
    for name in SELECTORS:
        selector = make_selector(name, index, seed=0, lambda_=0.5, indices=(0, 2))
        sel = selector.select(QUERY, 2)
        assert len(sel.indices) == 2, name
        assert sel.reason
    with pytest.raises(ConfigError, match="knn"):
        make_selector("best", index)


# ---- the index and its cache -----------------------------------------------------------


def test_second_build_reads_the_cache(embedder, tmp_path):
    first = build_index(make_pool(), embedder, cache_dir=tmp_path)
    assert embedder.calls == 1
    ticks = []
    renamed = Pool("other name", make_pool().examples)
    second = build_index(renamed, embedder, cache_dir=tmp_path, progress=lambda d, t: ticks.append((d, t)))
    assert embedder.calls == 1
    assert ticks == [(6, 6)]
    assert np.array_equal(first.vectors, second.vectors)
    assert not list(tmp_path.glob("*.tmp"))
    assert sorted(p.name.split(".", 1)[1] for p in tmp_path.iterdir()) == ["flat.faiss", "vectors.npy"]


def test_cache_key_includes_embedder_and_content(embedder, tmp_path):
    build_index(make_pool(), embedder, cache_dir=tmp_path)
    other = TableEmbedder(embedder.table, id="table-v2")
    build_index(make_pool(), other, cache_dir=tmp_path)
    assert other.calls == 1
    changed = Pool("hand", make_pool().examples[:5])
    build_index(changed, embedder, cache_dir=tmp_path)
    assert embedder.calls == 2


def test_corrupt_cache_is_rebuilt(embedder, tmp_path):
    build_index(make_pool(), embedder, cache_dir=tmp_path)
    (faiss_file,) = tmp_path.glob("*.faiss")
    faiss_file.write_bytes(b"garbage")
    idx = build_index(make_pool(), embedder, cache_dir=tmp_path)
    assert embedder.calls == 1  # vectors were fine: only the index is rebuilt
    assert KNNSelector(idx).select(QUERY, 1).indices == (1,)
    (vec_file,) = tmp_path.glob("*.npy")
    vec_file.write_bytes(vec_file.read_bytes()[:100])  # truncated
    idx = build_index(make_pool(), embedder, cache_dir=tmp_path)
    assert embedder.calls == 2
    assert KNNSelector(idx).select(QUERY, 1).indices == (1,)


def test_default_cache_dir_honours_env(monkeypatch, tmp_path):
    monkeypatch.setenv("WORKBENCH_CACHE_DIR", str(tmp_path))
    assert index_module.default_cache_dir() == tmp_path / "index"


def test_hnsw_above_threshold(embedder, tmp_path, monkeypatch):
    import faiss

    assert index_module.index_kind(index_module.HNSW_THRESHOLD - 1) == "flat"
    assert index_module.index_kind(index_module.HNSW_THRESHOLD) == "hnsw"
    monkeypatch.setattr(index_module, "HNSW_THRESHOLD", 4)
    idx = build_index(make_pool(), embedder, cache_dir=tmp_path)
    assert isinstance(idx.faiss, faiss.IndexHNSWFlat)
    assert idx.kind == "hnsw"
    assert KNNSelector(idx).select(QUERY, 3).indices == (1, 0, 2)
    assert len(list(tmp_path.glob("*.hnsw.faiss"))) == 1
    again = build_index(make_pool(), embedder, cache_dir=tmp_path)
    assert embedder.calls == 1
    assert again.kind == "hnsw" and again.faiss.hnsw.efSearch == index_module.HNSW_EF_SEARCH


# ---- the real embedder -----------------------------------------------------------------


@pytest.fixture(scope="module")
def minilm():
    return load_embedder()


def test_missing_embedder_folder(tmp_path):
    with pytest.raises(ModelError, match=str(tmp_path / "nope")):
        load_embedder(tmp_path / "nope")


def test_minilm_nearest_review_has_the_same_sentiment(minilm, tmp_path):
    pool = load_sample("sentiment")
    ticks = []
    idx = build_index(pool, minilm, cache_dir=tmp_path, progress=lambda d, t: ticks.append((d, t)))
    assert ticks[-1] == (40, 40)
    assert idx.vectors.dtype == np.float32 and idx.vectors.shape == (40, 384)
    assert np.linalg.norm(idx.vectors, axis=1) == pytest.approx(np.ones(40), abs=1e-5)
    knn_sel = KNNSelector(idx)
    good = knn_sel.select("An absolutely wonderful movie, moving and funny, with a brilliant cast.", 1)
    bad = knn_sel.select("A boring, badly acted film; I wanted to leave after twenty minutes.", 1)
    assert pool[good.indices[0]].label == "positive"
    assert pool[bad.indices[0]].label == "negative"
    assert minilm.id.startswith("all-MiniLM-L6-v2-")



def test_a_selector_is_built_once_per_index_and_settings(monkeypatch, embedder, tmp_path):
    """BM25 indexes its pool and k-means clusters it once, not on every page rerun or evaluation item."""
    index = build_index(make_pool(), embedder, cache_dir=tmp_path)
    built = []
    real = BM25Selector.__init__

    def counting(self, *args, **kwargs):
        built.append(1)
        real(self, *args, **kwargs)

    monkeypatch.setattr(BM25Selector, "__init__", counting)
    first = [choose_demos(index, QUERY, 2, "bm25")[1] for _ in range(3)]
    assert len(built) == 1 and first[0] == first[1] == first[2]
    assert make_selector("random", index, seed=1) is make_selector("random", index, seed=1)
    assert make_selector("random", index, seed=1) is not make_selector("random", index, seed=2)
    other = build_index(make_pool(), embedder, cache_dir=tmp_path)
    assert make_selector("bm25", index) is not make_selector("bm25", other)
