"""Benchmark: does the entropy-chosen order beat a random order? SST-2 dev, 4 demonstrations, gemma-3-270m.

Lu et al. 2022 ("Fantastically Ordered Prompts"): of the 24 orders of 4 demonstrations, the one with the highest
GlobalE / LocalE on a model-written probing set should answer better than a random one (13% relative on average
over eleven tasks; they report the mean of the top 4). Here, per seed: 4 label-balanced SST-2 train reviews; all 24
orders evaluated on the first ``--items`` dev reviews by label scoring (``order_sensitivity``, one stored run); the
probe (``workbench.retrieval.entropy``) picks one order per statistic; the baseline in the same run is the
``random`` order of the same seed, and the expectation of a random order (the mean of all 24). Figures: each
chosen order's accuracy and rank among the 24 (1 = best), McNemar's exact test (chosen vs random order, the same
items), the top-4 mean the paper reports, and Spearman's rho between each statistic and accuracy over the 24.
Prints JSON; skips cleanly without ../shared/datasets.

    .venv/bin/python bench/entropy_order.py [--items 100] [--seeds 0] [--max-probes 32]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "datasets"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=100, help="dev reviews to classify")
    parser.add_argument("--seeds", default="0", help="comma-separated seeds: one draw of 4 demonstrations each")
    parser.add_argument("--model", default="gemma-3-270m")
    parser.add_argument("--max-probes", type=int, default=32, help="probing inputs kept (MAX_PROBES)")
    args = parser.parse_args()
    if not (SHARED / "sst2_train.jsonl").exists():
        print(json.dumps({"skipped": f"{SHARED} is absent; the benchmark needs ../shared/datasets"}))
        return 0
    import dataclasses

    from scipy.stats import spearmanr
    from tqdm import tqdm

    from workbench.backends import load_backend
    from workbench.data import Pool, load_pool
    from workbench.evaluate.order_sensitivity import draw_demos, order_sensitivity, rank_among
    from workbench.evaluate.strategies import Strategy
    from workbench.prompts.spec import PromptSpec
    from workbench.retrieval.entropy import ModelOrders
    from workbench.retrieval.orders import ORDER_KINDS, order, seeded_permutations
    from workbench.retrieval.selectors.base import Selection
    from workbench.stats import mcnemar
    from workbench.store import open_store

    spec = PromptSpec(demo_template="Review: {input}\nSentiment: {answer}",
                      query_template="Review: {input}\nSentiment:", answer_format="label",
                      labels=("positive", "negative"))
    train = load_pool(SHARED / "sst2_train.jsonl")
    dev = load_pool(SHARED / "sst2_dev.jsonl")
    dev = Pool(dev.name, dev.examples[: args.items])
    backend = load_backend(args.model)
    base = Strategy("sst2", spec, selector="fixed", k=4, order="as_selected", answer="score")
    out: dict = {"model": args.model, "items": len(dev), "demos": 4, "orders": 24, "max_probes": args.max_probes,
                 "seeds": {}}
    pooled: dict[str, tuple[list[bool], list[bool]]] = {}
    with tempfile.TemporaryDirectory() as tmp, open_store(Path(tmp) / "wb.db") as store:
        for seed in (int(s) for s in args.seeds.split(",")):
            demos = draw_demos(train, 4, seed)
            t0 = time.perf_counter()
            with tqdm(total=24 * len(dev), desc=f"seed {seed}: 24 orders", file=sys.stderr) as bar:
                run, spread = order_sensitivity(dev, train, dataclasses.replace(base, seed=seed), backend, store,
                                                permutations=24, seed=seed, demos=demos,
                                                progress=lambda p: bar.update(p.done - bar.n))
            eval_s = time.perf_counter() - t0
            perms = seeded_permutations(4, 24, seed)  # variant j ("order j+1") is perms[j]
            acc = {perms[j]: s.accuracy for j, s in enumerate(run.summaries)}
            right: dict[tuple[int, ...], list[bool]] = {p: [] for p in perms}
            for r in sorted(run.records, key=lambda r: (r["strategy"], r["item_index"])):
                right[perms[int(r["strategy"].rsplit(" ", 1)[1]) - 1]].append(bool(r["correct"]))
            ranked = sorted(perms, key=lambda p: -acc[p])

            def rank(p: tuple[int, ...], acc=acc) -> int:  # 1 = best; equal accuracies share the rank
                return rank_among(list(acc.values()), acc[p])

            t0 = time.perf_counter()
            with tqdm(total=24, desc=f"seed {seed}: probe", file=sys.stderr) as bar:
                orders = ModelOrders(spec, backend, seed=seed, max_probes=args.max_probes,
                                     progress=lambda done, total, what: bar.update(done - bar.n))
                _, probe = orders.result_for(demos)
            probe_s = time.perf_counter() - t0
            random_perm = tuple(order(Selection(tuple(range(4)), (0.0,) * 4, ""), "random", seed=seed).indices)
            row: dict = {"demos": [d.id for d in demos], "eval_s": round(eval_s, 1), "probe_s": round(probe_s, 1),
                         "probes": len(probe.probes), "probe_examples": list(probe.probes[:3]),
                         "spread": {k: round(v, 4) for k, v in spread.items()},
                         "random_order": {"perm": random_perm, "accuracy": acc[random_perm], "rank": rank(random_perm)},
                         "best_order": {"perm": ranked[0], "accuracy": acc[ranked[0]]}}
            for name in ("global-entropy", "local-entropy"):
                stat = ORDER_KINDS[name].statistic
                values = dict(zip(probe.permutations, probe.scores(stat), strict=True))
                chosen = probe.permutations[probe.best(stat)]
                top4 = sorted(perms, key=lambda p, v=values: -v[p])[:4]
                test = mcnemar(right[chosen], right[random_perm], name, "random")
                rho = spearmanr([values[p] for p in perms], [acc[p] for p in perms])
                row[name] = {"perm": chosen, "accuracy": acc[chosen], "rank": rank(chosen),
                             "entropy": round(values[chosen], 4),
                             "top4_mean_accuracy": round(sum(acc[p] for p in top4) / 4, 4),
                             "vs_random": {"only_chosen": test.only_a, "only_random": test.only_b,
                                           "mcnemar_p": round(test.p_value, 4)},
                             "spearman_entropy_accuracy": {"rho": round(float(rho.statistic), 3),
                                                           "p": round(float(rho.pvalue), 4)}}
                a, b = pooled.setdefault(name, ([], []))
                a += right[chosen]
                b += right[random_perm]
            out["seeds"][seed] = row
    out["pooled_vs_random"] = {name: {"n": len(a), "chosen_accuracy": round(sum(a) / len(a), 4),
                                      "random_accuracy": round(sum(b) / len(b), 4),
                                      "mcnemar_p": round(mcnemar(a, b).p_value, 4)}
                               for name, (a, b) in pooled.items()}
    print(json.dumps(out, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
