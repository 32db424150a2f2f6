"""User-facing errors.

Every error a user can cause is a :class:`WorkbenchError` whose message is one
line that says what to change. The UI and the CLI show ``str(err)`` and nothing
else; anything that is not a ``WorkbenchError`` is a bug in the workbench.
"""


class WorkbenchError(Exception):
    """An error the user can fix; ``str(err)`` is a one-line message."""

    def __init__(self, message: str):
        super().__init__(" ".join(str(message).split()))


class ConfigError(WorkbenchError):
    """A setting is out of range or inconsistent (decoding, selection, ...)."""


class ModelError(WorkbenchError):
    """A model is unknown, missing, or cannot be loaded."""


class PromptError(WorkbenchError):
    """A prompt or template is empty, malformed, or too long."""


class DataError(WorkbenchError):
    """A data file or prompt-set file is unreadable or invalid."""
