"""Files another tool's config names (promptfoo's ``file://prompts.txt``, an lm-eval task's ``data_files`` and
``include``), resolved inside the config's own folder only: an absolute path, a ``..`` that climbs out, or a
link that points out is one ConfigError line, and the file is read through :func:`workbench.safeload.read_text`
(bounded, regular files only).

    >>> from pathlib import Path
    >>> inside("file://../../etc/passwd", Path("/work/cfg"), "prompt")
    Traceback (most recent call last):
    ...
    workbench.errors.ConfigError: prompt file://../../etc/passwd is outside the config's folder /work/cfg; keep the files a config names in its folder.
"""

from __future__ import annotations

import os
from pathlib import Path

from workbench.errors import ConfigError
from workbench.safeload import MAX_FILE_BYTES, read_text

#: The scheme promptfoo writes before a file reference.
FILE_SCHEME = "file://"


def is_file_ref(value: object) -> bool:
    """Whether a config value is a ``file://`` reference."""
    return isinstance(value, str) and value.startswith(FILE_SCHEME)


def inside(ref: str, folder: Path, what: str) -> Path:
    """The path ``ref`` (``file://name`` or ``name``) names, relative to ``folder`` and inside it (links
    resolved), or one ConfigError line. A promptfoo function suffix (``file://a.py:fn``) is code: refused by the
    caller before this."""
    name = ref[len(FILE_SCHEME):] if ref.startswith(FILE_SCHEME) else ref
    if not name.strip():
        raise ConfigError(f"{what} {ref!r} names no file.")
    root = Path(os.path.realpath(folder))
    path = Path(name)
    target = Path(os.path.realpath(root / path)) if not path.is_absolute() else Path(os.path.realpath(path))
    if path.is_absolute() or (target != root and root not in target.parents):
        raise ConfigError(f"{what} {ref} is outside the config's folder {folder}; keep the files a config names "
                          "in its folder.")
    return target


def read_inside(ref: str, folder: Path, what: str, max_bytes: int = MAX_FILE_BYTES) -> str:
    """The UTF-8 text of the file ``ref`` names inside ``folder`` (see :func:`inside`), bounded."""
    path = inside(ref, folder, what)
    return read_text(path, missing=f"{what} {ref} names a file that does not exist", max_bytes=max_bytes)
