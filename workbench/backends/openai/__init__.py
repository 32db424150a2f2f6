"""The openai-compatible backend's parts, one concept per module.

``config`` (the server reference and its settings), ``replies`` (every reply shape,
validated at the edge), ``client`` (pooled keep-alive HTTP with a deadline per
request and bounded retries), ``tokenizers`` (the server's tokenizer endpoint, a
local tokenizer the user names, or an approximate count). The backend itself and
label scoring live in :mod:`workbench.backends.openai_compat`, which re-exports these.
"""
