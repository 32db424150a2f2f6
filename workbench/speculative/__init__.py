"""Speculative decoding: draft several tokens cheaply, verify them in one pass of the target model.

Two ways to run it, side by side:

* ``runs.trace`` -- the workbench's own loop, so that every output token's origin is known. Prompt-lookup
  drafting (Saxena's n-gram lookup, the algorithm of llama-cpp-python's ``LlamaPromptLookupDecoding``) proposes
  up to ``draft_tokens`` tokens; ONE forward pass of the target over the context plus the draft gives its
  logits at every draft position (transformers: one ``model(...)`` call with a KV cache; llama.cpp: ``eval`` of
  the draft in a ``Llama`` built with ``logits_all=True``). Greedy: a draft token is kept while it equals the
  target's own choice; the first disagreement is replaced by the target's token. Sampling: the accept/reject
  rule of Leviathan et al. (2023) / Chen et al. (2023), ``drafting.accept_or_resample``, which leaves the target's
  distribution unchanged.
* ``runs.compare`` -- the libraries' own implementations for the speed figure, measured against plain decoding
  of the same prompt and settings in the same call: llama-cpp-python's ``LlamaPromptLookupDecoding`` passed as
  ``draft_model=``, transformers' ``prompt_lookup_num_tokens`` and assisted generation (``assistant_model=``,
  with ``tokenizer=``/``assistant_tokenizer=`` -- universal assisted decoding -- when the tokenizers differ).

The package, one concept per module (import each name from its module; this package exports nothing):
``records`` (the config and what a run records: ``SpeculativeConfig``, ``SpeculativeResult``, ``Comparison``),
``drafting`` (prompt lookup, the accept/reject rule), ``runs`` (checks, ``trace``, ``compare``,
``plain_reference``), ``examples`` (the shipped prompts). The backend side is
:mod:`workbench.backends.speculation` (a backend's capability).

>>> from workbench.speculative.drafting import prompt_lookup_draft
>>> prompt_lookup_draft([5, 6, 7, 8, 5, 6], ngram_size=2, draft_tokens=3)
[7, 8, 5]
"""
