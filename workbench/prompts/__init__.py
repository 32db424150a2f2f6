"""Prompt specs, exact rendering (raw text or chat messages), the token budget, and running a prompt.

One concept per module; import the rest from the module that holds it:

* :mod:`~workbench.prompts.spec` -- :class:`PromptSpec` (validated on creation) and its field rules;
* :mod:`~workbench.prompts.rendering` -- :func:`render`, the exact text with its parts labelled;
* :mod:`~workbench.prompts.budget` -- :func:`reserved_tokens` and :func:`fit_to_window`;
* :mod:`~workbench.prompts.running` -- :func:`run_prompt` / :func:`run_prompts`, every stage and the answer;
* :mod:`~workbench.prompts.files` -- :class:`SpecFile`, :func:`load_spec`, the starter specs.

The reasoning modes (how demonstrations are written, the stages and their decoding) are objects of
:mod:`workbench.reasoning`. This package exposes the surface most callers need: the spec, a spec file,
rendering, the budget, running, and loading.
"""

from workbench.prompts.budget import fit_to_window, reserved_tokens
from workbench.prompts.files import SpecFile, load_spec, starter_specs
from workbench.prompts.rendering import RenderedPrompt, render
from workbench.prompts.running import PromptJob, PromptRun, run_prompt, run_prompts
from workbench.prompts.spec import PromptSpec

__all__ = ["PromptJob", "PromptRun", "PromptSpec", "RenderedPrompt", "SpecFile", "fit_to_window", "load_spec",
           "render", "reserved_tokens", "run_prompt", "run_prompts", "starter_specs"]
