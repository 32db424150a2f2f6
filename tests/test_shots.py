"""The shots curve (workbench.evaluate.shots, ``workbench shots``): orchestration on the fake backend, whose reply
depends on how many demonstrations the prompt holds; one real gemma-3-270m run; every refusal one line."""

from __future__ import annotations

import json

import pytest

from tests.fakes import FakeBackend
from workbench.cli import main
from workbench.data import Example, Pool
from workbench.errors import ConfigError, DataError
from workbench.evaluate.shots import curve_from_records, parse_ks, shots_curve
from workbench.store import open_store

#: Six positive and four negative reviews: the demonstrations and the items.
GOLD = ("positive", "negative", "positive", "positive", "negative", "positive", "negative", "positive", "positive",
        "negative")


def toy() -> Pool:
    return Pool("toy", tuple(Example(f"r{i}", f"review number {i} here", gold) for i, gold in enumerate(GOLD)))


def demos_in(prompt: str) -> int:
    return prompt.count("Q: ") - 1  # the default spec: "Q: input\nA: answer" per demonstration, then the query


def two_or_more(prompt: str, seed) -> str:
    """Says positive once it sees two demonstrations or more, negative before: 40% then 60% on GOLD."""
    return " positive" if demos_in(prompt) >= 2 else " negative"


@pytest.fixture(scope="module")
def embedder():
    from workbench.retrieval.embedder import load_embedder

    return load_embedder()


@pytest.fixture
def store(tmp_path):
    s = open_store(tmp_path / "wb.db")
    yield s
    s.close()


def test_exact_accuracy_per_k_same_items_one_run_and_paired_steps(embedder, store, tmp_path):
    fake = FakeBackend(reply=two_or_more)
    curve, run = shots_curve(toy(), None, fake, store, selector="random", ks=(0, 1, 2, 4, 8), seed=3,
                             embedder=embedder, index_cache_dir=str(tmp_path / "index"))
    assert [(p.k, p.n, p.correct, p.accuracy) for p in curve.points] == [
        (0, 10, 4, 0.4), (1, 10, 4, 0.4), (2, 10, 6, 0.6), (4, 10, 6, 0.6), (8, 10, 6, 0.6)]
    assert curve.dropped == () and all(p.fewer_demos == 0 for p in curve.points)
    # One stored run, every K on the same ten items, each prompt with exactly K demonstrations.
    assert curve.run_id == run.run_id and curve.status == "finished"
    per_k = {}
    for r in store.results(run.run_id):
        per_k.setdefault(r["strategy"], []).append((r["item_index"], r["id"], demos_in(r["prompt"]), len(r["demos"])))
    assert sorted(per_k) == ["random K=0", "random K=1", "random K=2", "random K=4", "random K=8"]
    for name, rows in per_k.items():
        k = int(name.split("=")[1])
        assert [(i, ident) for i, ident, _, _ in rows] == [(i, f"r{i}") for i in range(10)]
        assert {(d, n) for _, _, d, n in rows} == {(k, k)}
    # The same seed at every K: the random draw is the meta's seed for every strategy.
    assert {s["seed"] for s in store.get_run(run.run_id).meta["strategies"]} == {3}
    # Neighbours: the larger K's gain, McNemar exact on the 10 items (6 right only with K=2, 4 only with K=1).
    steps = [(c.a, c.b, round(c.difference, 3), c.only_a, c.only_b, c.p_value, c.p_holm) for c in curve.steps]
    assert steps == [("random K=1", "random K=0", 0.0, 0, 0, 1.0, 1.0),
                     ("random K=2", "random K=1", 0.2, 6, 4, 0.75390625, 1.0),
                     ("random K=4", "random K=2", 0.0, 0, 0, 1.0, 1.0),
                     ("random K=8", "random K=4", 0.0, 0, 0, 1.0, 1.0)]
    assert curve.plateau is not None and (curve.plateau.a, curve.plateau.b) == ("random K=8", "random K=4")
    assert curve.plateau_line() == ("past 6 shots: random K=4 -> random K=8 +0.0 points on 10 items (McNemar p = 1): "
                                    "'little gain past 5-6 shots' holds here")


def test_a_k_over_the_window_is_dropped_with_its_reason(embedder, store, tmp_path):
    fake = FakeBackend(reply=two_or_more, context_window=80)
    curve, _ = shots_curve(toy(), None, fake, store, selector="knn", ks=(0, 2, 4, 8), limit=3, embedder=embedder,
                           index_cache_dir=str(tmp_path / "index"))
    assert [p.k for p in curve.points] == [0, 2, 4]
    assert [(d.k, d.reason) for d in curve.dropped] == [
        (8, "K=8: 8 demonstrations of the pool's median length and the longest item take 62 tokens, + 32 for the "
            "answer, over the model's 80-token window")]
    assert "random" not in json.dumps(curve.to_dict()) and curve.to_dict()["dropped"][0]["k"] == 8


def test_no_k_fits_is_one_line(store):
    fake = FakeBackend(reply=two_or_more, context_window=12)
    with pytest.raises(ConfigError, match=r"^No K of 4, 8 fits the model's 12-token window \(K=4: 4 demonstrations"):
        shots_curve(toy(), None, fake, store, selector="knn", ks=(4, 8), limit=2)
    with pytest.raises(ConfigError) as err:
        shots_curve(toy(), None, fake, store, selector="knn", ks=(0,), limit=2)
    assert str(err.value) == ("No K of 0 fits the model's 12-token window (K=0: the longest item alone takes 6 tokens, "
                              "+ 32 for the answer, over the model's 12-token window); give smaller Ks or a larger "
                              "--context-window.")


def test_curve_from_records_pairs_only_shared_items():
    rows = [{"strategy": "k0", "item_index": i, "correct": ok} for i, ok in enumerate((False, False, True))]
    rows += [{"strategy": "k4", "item_index": i, "correct": True} for i in (0, 1)]  # item 2 not run at K=4
    curve = curve_from_records(rows, {"k4": 4, "k0": 0}, "knn")
    assert [(p.k, p.n) for p in curve.points] == [(0, 3), (4, 2)]
    assert (curve.steps[0].n, curve.steps[0].only_a, curve.steps[0].p_holm) == (2, 2, None)
    assert curve.plateau is None and "cannot say" in curve.plateau_line()


@pytest.mark.parametrize(("text", "message"), [
    ("", "--ks is empty; give the numbers of demonstrations, e.g. 0,1,2,4,8."),
    (" , ", "--ks is empty; give the numbers of demonstrations, e.g. 0,1,2,4,8."),
    ("0,-1", "--ks: K must be 0 or more, not -1."),
    ("0,2,1", "--ks must rise (2 then 1); give them in order, e.g. 0,1,2,4,8."),
    ("0,2,2", "--ks lists K=2 twice; give each K once."),
    ("0,two", "--ks: 'two' is not a whole number; give e.g. 0,1,2,4,8."),
    ("0,1000", "--ks: K=1000 is more than 256 demonstrations; no model window holds them."),
])
def test_bad_k_lists_are_one_line(text, message):
    with pytest.raises(ConfigError) as err:
        parse_ks(text)
    assert str(err.value) == message


def test_pool_too_small_and_unknown_selector_are_one_line(store):
    with pytest.raises(DataError) as err:
        shots_curve(toy(), None, FakeBackend(), store, ks=(0, 10))
    assert str(err.value) == ("K=10 needs 10 demonstrations and the pool 'toy' has 10 (9 besides an item's own "
                              "row); give a larger --pool or Ks up to 9.")
    with pytest.raises(ConfigError, match=r"^Unknown selector 'autocot' for a shots curve; use one of random, knn"):
        shots_curve(toy(), None, FakeBackend(), store, selector="autocot", ks=(0, 1))


# --------------------------------------------------------------------------- the command


def cli(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(["shots", *argv])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize(("argv", "line"), [
    (("--ks", "2,1"), "error: --ks must rise (2 then 1); give them in order, e.g. 0,1,2,4,8.\n"),
    (("--ks", ""), "error: --ks is empty; give the numbers of demonstrations, e.g. 0,1,2,4,8.\n"),
    (("--ks", "0,-2"), "error: --ks: K must be 0 or more, not -2.\n"),
    (("--ks", "0,40"), "error: K=40 needs 40 demonstrations and the pool 'sentiment' has 40 (39 besides an item's "
                       "own row); give a larger --pool or Ks up to 39.\n"),
    (("--limit", "0"), "error: --limit must be at least 1, got 0.\n"),
    (("--output", "curve.txt"), "error: Cannot tell the export format of 'curve.txt'; end the file name with .jsonl, "
                                ".csv, .html or .json (promptfoo's results).\n"),
])
def test_refusals_are_one_line_before_the_model(capsys, monkeypatch, argv, line):
    monkeypatch.setattr("workbench.backends.load_backend", None)  # never reached
    code, out, err = cli(capsys, "--dataset", "sentiment", *argv)
    assert (code, out, err) == (2, "", line)


def test_label_scoring_without_labels_is_one_line_before_the_model(capsys, monkeypatch):
    monkeypatch.setattr("workbench.backends.load_backend", None)  # never reached
    code, out, err = cli(capsys, "--dataset", "arithmetic", "--ks", "0,1", "--answer", "score")
    assert (code, out) == (2, "") and err.count("\n") == 1
    assert err.startswith("error: random1: label scoring needs a fixed label set, and this prompt has none")


def test_an_unknown_selector_is_argparse_s_one_line(capsys):
    with pytest.raises(SystemExit) as stop:
        main(["shots", "--dataset", "sentiment", "--selector", "autocot"])
    assert stop.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "invalid choice: 'autocot'" in err


# --------------------------------------------------------------------------- the real model


def test_gemma_curve_from_the_command_line_with_its_report(capsys, tmp_path):
    report = tmp_path / "shots.html"
    code, out, err = cli(capsys, "--dataset", "sentiment", "--selector", "knn", "--ks", "0,2", "--limit", "4",
                         "--answer", "score", "--json", "--no-progress", "--output", str(report))
    assert code == 0, err
    got = json.loads(out)
    assert got["model"] == "gemma-3-270m" and got["selector"] == "knn" and got["dropped"] == []
    assert [(p["k"], p["n"], p["correct"]) for p in got["points"]] == [(0, 4, 2), (2, 4, 3)]
    [step] = got["steps"]
    assert (step["a"], step["b"], step["n"], step["difference"]) == ("knn K=2", "knn K=0", 4, 0.25)
    assert step["only_a"] - step["only_b"] == 1 and step["test"] == "McNemar"
    page = report.read_text(encoding="utf-8")
    assert page.index('<h2 id="shots">') < page.index('<h2 id="accuracy">')
    assert page.count('<g class="point">') == 2 and 'class="band"' in page
