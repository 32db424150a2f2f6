"""The openai-compatible backend's parts, one concept per module; import each from its module.

``config`` (the server reference and its settings), ``replies`` (every reply shape,
validated at the edge), ``client`` (pooled keep-alive HTTP with a deadline per
request and bounded retries; its ``transport`` and ``deadline``), ``tokenizers`` (the server's tokenizer endpoint, a
local tokenizer the user names, or an approximate count), ``sampling`` (the request
fields of a decoding config per server family), ``concurrency`` (bounded parallel
requests), ``scoring`` (label scoring: echo or forced tokens), ``backend``
(:class:`~workbench.backends.openai.backend.OpenAICompatBackend`) and ``connect``
(:func:`~workbench.backends.openai.connect.connect`, ``load_openai_compatible``).
"""
