"""Auto-CoT (Zhang et al. 2022) as amazon-science/auto-cot's ``run_demo.py`` builds its demonstrations.

Cluster the questions for diversity (k-means++ on sentence embeddings, k = number of
demonstrations), order each cluster's members by distance to its centre, let
Zero-shot-CoT write a rationale for them in that order, and keep the first member that
passes the reference's filters (:func:`~workbench.autocot.filters.heuristic_failures`):

* the question, written ``Q: …\\nA:`` as the reference stores it, has at most 60 words;
* the rationale (``Let's think step by step. …``) has at most 5 lines (7 for last letters);
* the rationale ends with "." and an answer was extracted;
* arithmetic sets only: the answer occurs in the rationale's last sentence or among its
  last 10 words (case-insensitive).

A cluster none of whose members passes gives no demonstration, as in the reference;
``fallback=True`` asks for its nearest candidate instead, flagged in the result, the
page and the demo file. Rationales are generated live by the chosen model, at most
``max_tries_per_cluster`` per cluster (the reference reads rationales generated
beforehand for every question and so tries every member).

One concept per module (import from them; this package re-exports nothing):

* :mod:`~workbench.autocot.config`: the reference's tasks, presets and :class:`AutoCoTConfig`;
* :mod:`~workbench.autocot.reasoner`: Zero-shot-CoT writing a rationale and an answer (:class:`Reasoning`);
* :mod:`~workbench.autocot.filters`: the reference's filters on a question and its rationale;
* :mod:`~workbench.autocot.clustering`: k-means++ and each cluster's members, nearest first;
* :mod:`~workbench.autocot.demo`: the demonstration record (:class:`Demo`) and its use as an example;
* :mod:`~workbench.autocot.selection`: the algorithm: per cluster, the demonstration (:func:`build_demos`);
* :mod:`~workbench.autocot.files`: demo files (the reference's JSON shape; untrusted input).

    >>> from workbench.autocot.config import AutoCoTConfig
    >>> AutoCoTConfig.for_task("last_letters").k, AutoCoTConfig.for_task("last_letters").max_rationale_steps
    (4, 7)
"""
