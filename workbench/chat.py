"""Chat templates: render messages with a model's own template, in a sandbox.

Chat templates are Jinja programs shipped inside model files and servers' replies,
so they are untrusted. They are rendered as Hugging Face's ``apply_chat_template``
and llama-cpp-python render them -- in Jinja's immutable sandbox, with the loop
controls ``{% break %}`` and ``{% continue %}`` -- so a hostile template cannot reach
Python objects, and bounded: its source size, its run time (a trace on the template's own
frames stops a loop that runs too long, output or not), the size of its output,
and the size of what one operation can build (``'x' * n``, ``n ** m``, an integer
argument, a ``namespace`` value). Every way a template can fail (a Jinja error, an
``{% include %}`` without a loader, ``{{ 1/0 }}``, runaway recursion, a limit) is
one PromptError naming the template's source.
"""

from __future__ import annotations

from collections.abc import Sequence

from workbench.errors import PromptError
from workbench.sandbox import Refused, compile_template, failure_reason, render_bounded

#: Roles a message may have.
ROLES = ("system", "user", "assistant")
def render_chat_template(
    template: str,
    messages: Sequence[dict],
    *,
    bos_token: str = "",
    eos_token: str = "",
    add_generation_prompt: bool = True,
    source: str = "the model",
) -> str:
    """The exact text a chat model receives for ``messages``.

    ``source`` names where the template came from (a GGUF file, a model folder's
    ``tokenizer_config.json``, a server's ``/props``); every failure is one
    PromptError naming it.
    """
    clean = []
    for m in messages:
        role, content = m.get("role"), m.get("content")
        if role not in ROLES:
            raise PromptError(f"Message role {role!r} is not one of {', '.join(ROLES)}.")
        if not isinstance(content, str):
            raise PromptError(f"Message content must be text (role {role}).")
        clean.append({"role": role, "content": content})
    context = {"messages": clean, "bos_token": bos_token, "eos_token": eos_token,
               "add_generation_prompt": add_generation_prompt}
    try:
        return render_bounded(compile_template(template), context)
    except Refused as err:
        raise PromptError(f"The chat template of {source} refused the messages: {err}") from None
    except Exception as err:  # any failure of untrusted code is the template's, not the workbench's
        raise PromptError(
            f"The chat template of {source} failed: {failure_reason(err)}; use another model or template."
        ) from None
