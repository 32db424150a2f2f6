"""Every file the workbench reads goes through one bounded reader (issue 34, item 7): regular files only, and a
byte cap on the read itself. A FIFO, ``/dev/zero``, a device, a folder, a link to any of them, or a ``/proc``
file that says it is empty is one :class:`DataError` line from every loader -- never a read that blocks,
never a read that does not end.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from workbench.autocot.files import load_demos
from workbench.data import load_pool, read_rows
from workbench.errors import DataError
from workbench.prompts import load_spec
from workbench.promptsets.files import load as load_set
from workbench.report import read_jsonl
from workbench.safeload import MAX_DOCUMENT_BYTES, read_file, read_text
from workbench.speculative.examples import examples

pytestmark = [
    pytest.mark.skipif(sys.platform == "win32", reason="FIFOs, /dev and /proc are POSIX"),
    # Before the bounded reader, a FIFO blocked forever and /dev/zero read until memory ran out.
    pytest.mark.timeout(30),
]

#: Every loader of a file a user (or the workbench itself) names, by what it reads.
LOADERS = {
    "spec": load_spec,
    "dataset": load_pool,
    "dataset preview": read_rows,
    "prompt set": load_set,
    "Auto-CoT demos": load_demos,
    "run export": read_jsonl,
    "speculative examples": examples,
    "read_text": read_text,
}
#: A name each loader accepts (its extension picks the format).
NAMES = {"spec": "x.yaml", "dataset": "x.jsonl", "dataset preview": "x.csv", "prompt set": "x.yaml",
         "Auto-CoT demos": "x.json", "run export": "x.jsonl", "speculative examples": "x.yaml", "read_text": "x.txt"}


def special(kind: str, tmp_path: Path, name: str) -> Path:
    """A path of ``kind`` named ``name`` (links carry the loader's extension)."""
    if kind == "fifo":
        path = tmp_path / name
        os.mkfifo(path)
        return path
    if kind == "dev_zero":
        return Path("/dev/zero")
    if kind == "dev_null":
        return Path("/dev/null")
    if kind == "folder":
        path = tmp_path / name
        path.mkdir()
        return path
    target = {"link_to_dev_zero": Path("/dev/zero"), "link_to_fifo": tmp_path / "pipe",
              "link_to_folder": tmp_path}[kind]
    if kind == "link_to_fifo":
        os.mkfifo(target)
    path = tmp_path / name
    path.symlink_to(target)
    return path


MESSAGES = {
    "fifo": "is a named pipe (FIFO), not a file; save the data to a file and give its path.",
    "link_to_fifo": "is a named pipe (FIFO), not a file; save the data to a file and give its path.",
    "dev_zero": "/dev/zero is a device, not a file; save the data to a file and give its path.",
    "link_to_dev_zero": "is a device, not a file; save the data to a file and give its path.",
    "dev_null": "/dev/null is a device, not a file; save the data to a file and give its path.",
    "folder": " is a folder",
    "link_to_folder": " is a folder",
}


@pytest.mark.parametrize("kind", list(MESSAGES))
@pytest.mark.parametrize("loader", list(LOADERS))
def test_every_loader_refuses_what_is_not_a_regular_file_in_one_line(tmp_path, loader, kind):
    path = special(kind, tmp_path, NAMES[loader])
    with pytest.raises(DataError) as err:
        LOADERS[loader](path)
    message = str(err.value)
    assert MESSAGES[kind] in message and "\n" not in message
    assert message.startswith(str(path))


@pytest.mark.skipif(not Path("/proc/self/status").is_file(), reason="needs Linux /proc")
def test_a_proc_file_says_size_0_and_is_capped_by_the_read_itself(tmp_path):
    status = Path("/proc/self/status")
    assert status.stat().st_size == 0 and len(read_file(status)) > 200  # what the cap is for
    with pytest.raises(DataError) as err:
        read_file(status, max_bytes=100)
    assert str(err.value) == "status is longer than it says, over the 100-byte limit."
    link = tmp_path / "status.jsonl"
    link.symlink_to(status)
    with pytest.raises(DataError) as err:
        load_pool(link, max_bytes=100)
    assert str(err.value) == "status.jsonl is longer than it says, over the 0.1 kB limit; use a smaller file"


def test_a_file_over_the_limit_is_refused_before_it_is_read(tmp_path):
    path = tmp_path / "big.yaml"
    with path.open("wb") as f:
        f.truncate(MAX_DOCUMENT_BYTES + 1)  # sparse
    for load in (load_spec, load_set, examples):
        with pytest.raises(DataError, match=r"^big.yaml is (1,000,001 bytes|over)"):
            load(path)


def test_an_unreadable_file_and_a_nul_in_the_name_are_one_line(tmp_path):
    path = tmp_path / "locked.yaml"
    path.write_text("name: x\n", encoding="utf-8")
    path.chmod(0)
    try:
        if os.access(path, os.R_OK):
            pytest.skip("running as root: every file is readable")
        with pytest.raises(DataError, match=r"^cannot read .*locked.yaml: Permission denied$"):
            load_spec(path)
    finally:
        path.chmod(0o600)
    with pytest.raises(DataError, match=r"^cannot read .*: embedded null byte$"):
        load_spec(tmp_path / "a\0b.yaml")


def test_a_stream_is_read_up_to_its_cap_and_no_further():
    """For the CLI's "-" (stdin): /dev/zero piped in is one line, not a read until memory runs out."""
    import io

    from workbench.safeload import read_stream

    assert read_stream(io.BytesIO(b"abc"), max_bytes=3) == b"abc"
    with Path("/dev/zero").open("rb") as zero, pytest.raises(DataError) as err:
        read_stream(zero, "stdin", max_bytes=MAX_DOCUMENT_BYTES)
    assert str(err.value) == "stdin is longer than 1,000,000 bytes, the limit; save it to a smaller file."


def test_aliases_allowed_on_request_but_a_billion_laughs_is_one_line_quickly():
    """max_alias_nodes lets anchors and aliases through while the expanded tree stays bounded."""
    import time

    from workbench.safeload import load_document

    shared = "base: &a {type: contains, value: x}\ntests:\n  - assert: [*a]\n  - assert: [*a, {type: equals, value: y}]\n"
    assert load_document(shared, "c.yaml", max_alias_nodes=100)["tests"][1]["assert"] == [
        {"type": "contains", "value": "x"}, {"type": "equals", "value": "y"}]
    with pytest.raises(DataError, match="anchors and aliases"):
        load_document(shared, "c.yaml")  # still refused by default
    lol = ["a: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    lol += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 10)]
    started = time.monotonic()
    with pytest.raises(DataError) as err:
        load_document("\n".join(lol) + "\n", "bomb.yaml", what="promptfoo configs", max_alias_nodes=100_000)
    assert str(err.value) == ("bomb.yaml line 5: with its aliases (*name) expanded the document has more than "
                              "100,000 values; promptfoo configs are limited to that.")
    assert time.monotonic() - started < 1
