"""Chat templates: render messages with a model's own template, in a sandbox.

Chat templates are Jinja programs shipped inside model files. They are rendered
in Jinja's immutable sandbox (as Hugging Face's ``apply_chat_template`` does) so a
hostile model file cannot reach Python objects.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from functools import lru_cache

from workbench.errors import PromptError

#: Roles a message may have.
ROLES = ("system", "user", "assistant")


@lru_cache(maxsize=16)
def _compile(template: str):
    from jinja2 import TemplateError
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    def raise_exception(message: str):
        raise PromptError(f"The model's chat template refused the messages: {message}")

    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True)
    env.globals["raise_exception"] = raise_exception
    env.globals["strftime_now"] = lambda fmt: datetime.now().strftime(fmt)
    try:
        return env.from_string(template)
    except TemplateError as err:
        raise PromptError(f"The model's chat template does not parse: {err}") from None


def render_chat_template(
    template: str,
    messages: Sequence[dict],
    *,
    bos_token: str = "",
    eos_token: str = "",
    add_generation_prompt: bool = True,
) -> str:
    """The exact text a chat model receives for ``messages``."""
    from jinja2 import TemplateError
    from jinja2.exceptions import SecurityError

    clean = []
    for m in messages:
        role, content = m.get("role"), m.get("content")
        if role not in ROLES:
            raise PromptError(f"Message role {role!r} is not one of {', '.join(ROLES)}.")
        if not isinstance(content, str):
            raise PromptError(f"Message content must be text (role {role}).")
        clean.append({"role": role, "content": content})
    try:
        return _compile(template).render(
            messages=clean,
            bos_token=bos_token,
            eos_token=eos_token,
            add_generation_prompt=add_generation_prompt,
        )
    except SecurityError as err:
        raise PromptError(f"The chat template tried an unsafe operation: {err}") from None
    except TemplateError as err:
        raise PromptError(f"The chat template failed: {err}") from None
