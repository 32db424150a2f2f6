"""Hostile input files through the CLI, as a user runs it (issue 34, items 2, 7 and 14): each is one
``error: ...`` line on stderr, exit status 2, no traceback, and the command ends (subprocess timeout).

The CLI reads every file through workbench.safeload (one bounded reader, one bounded loader), so these
need no model: the files are refused before one is loaded.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="FIFOs and /dev/zero are POSIX")

#: Virtual memory a child may use: a reader that does not stop at its cap ends in MemoryError, not in a machine
#: out of memory (the issue's /dev/zero ran until memory ran out).
MEMORY_LIMIT = 3 * 2**30


def _limit_memory() -> None:  # pragma: no cover - runs in the child
    import resource

    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))


def cli(*args: str) -> subprocess.CompletedProcess:
    # WORKBENCH_DATA_DIR / WORKBENCH_CACHE_DIR come from conftest's isolation and reach the child.
    return subprocess.run([sys.executable, "-m", "workbench", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=120, env=os.environ.copy(), stdin=subprocess.DEVNULL, preexec_fn=_limit_memory)


def one_error_line(res: subprocess.CompletedProcess) -> str:
    assert "Traceback" not in res.stderr, res.stderr[-3000:]
    assert res.returncode == 2, res.stderr[-3000:]
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), res.stderr
    return lines[0]


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    """Hostile spec and data files, by name."""
    big = tmp_path / "big.yaml"
    with big.open("wb") as f:
        f.truncate(50_000_000)  # 50 MB (sparse): refused by its size, never read
    fifo = tmp_path / "pipe.jsonl"
    os.mkfifo(fifo)
    zero = tmp_path / "zero.jsonl"
    zero.symlink_to("/dev/zero")
    laughs = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{c}: &{c} [*{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}]\n"
        for p, c in zip("abcdefgh", "bcdefghi", strict=True))
    return {
        "flow": write(tmp_path / "deep.yaml", "name: x\nspec: " + "[" * 5_000 + "]" * 5_000 + "\n"),
        "block": write(tmp_path / "block.yaml", "name: x\ndemos:\n" + "- " * 3_000 + "x\n"),
        "laughs": write(tmp_path / "laughs.yaml", laughs + "name: *i\n"),
        "number": write(tmp_path / "number.yaml", "name: x\nexample: " + ":".join(["1"] * 100_000) + "\n"),
        "big": big, "fifo": fifo, "zero": zero,
    }


@pytest.mark.timeout(300)
@pytest.mark.parametrize(("args", "message"), [
    (("eval", "--dataset", "/dev/zero"), "error: /dev/zero is a device, not a file"),
    (("eval", "--dataset", "{zero}"), "zero.jsonl is a device, not a file"),
    (("eval", "--dataset", "{fifo}"), "pipe.jsonl is a named pipe (FIFO), not a file"),
    (("eval", "--dataset", "sentiment", "--prompt", "{flow}"), "error: deep.yaml line 2: nested deeper than 10"),
    (("prompt", "run", "{flow}", "--input", "hi"), "error: deep.yaml line 2: nested deeper than 10"),
    (("prompt", "run", "{block}", "--input", "hi"), "error: block.yaml line 3: nested deeper than 10"),
    (("eval", "--dataset", "sentiment", "--prompt", "{laughs}"), "error: laughs.yaml line 1: YAML anchors and"),
    (("eval", "--dataset", "sentiment", "--prompt", "{big}"),
     "error: big.yaml is 50,000,000 bytes, over the 1,000,000-byte limit."),
    (("prompt", "run", "{number}", "--input", "hi"), "error: number.yaml line 2: a number of 199,999 characters"),
    (("sets", "import", "{zero}"), "zero.jsonl is a device, not a file"),
])
def test_hostile_files_are_one_error_line(files, args, message):
    line = one_error_line(cli(*(a.format(**files) for a in args)))
    assert message in line
