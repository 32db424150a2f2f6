"""Library log lines: quiet on a model load unless --verbose (llama.cpp's SWA line, transformers' bars)."""

import logging
import subprocess
import sys
from pathlib import Path

import pytest

from workbench import logs

ROOT = Path(__file__).resolve().parents[1]
SWA = "using full-size SWA cache"


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "workbench", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=600, env={"WORKBENCH_THREADS": "1", "PATH": "/usr/bin:/bin",
                                            "HOME": str(Path.home())})


def test_ggml_levels_map_to_logging_levels():
    assert [logs._level(n) for n in (1, 2, 3, 4)] == [logging.DEBUG, logging.INFO, logging.WARNING, logging.ERROR]


def test_a_gemma_load_prints_no_llama_cpp_lines_unless_verbose():
    quiet = _run("generate", "--model", "gemma-3-270m", "--prompt", "One, two,", "--max-new-tokens", "2")
    assert quiet.returncode == 0, quiet.stderr
    assert SWA not in quiet.stderr and "llama_" not in quiet.stderr
    loud = _run("--verbose", "generate", "--model", "gemma-3-270m", "--prompt", "One, two,", "--max-new-tokens", "2")
    assert loud.returncode == 0, loud.stderr
    assert f"{logs.LLAMA_LOGGER}: llama_kv_cache_iswa: {SWA}" in loud.stderr


@pytest.mark.slow
def test_a_transformers_load_draws_no_bars():
    quiet = _run("generate", "--model", "smollm2-135m-instruct", "--backend", "transformers", "--prompt", "Hi",
                 "--max-new-tokens", "2")
    assert quiet.returncode == 0, quiet.stderr
    assert "Converting and de-quantizing" not in quiet.stderr and "Loading weights" not in quiet.stderr


def test_llama_cpp_lines_reach_the_logger_whole(caplog):
    """Fragments llama.cpp writes without a newline are joined into one record per line."""
    import ctypes

    logs.quiet_libraries(verbose=True)
    callback = logs._state["callback"]
    with caplog.at_level(logging.DEBUG, logger=logs.LLAMA_LOGGER):
        for level, text in ((3, b"part one, "), (5, b"part two\n"), (2, b"next\n")):
            callback(level, text, ctypes.c_void_p(0))
    logs.quiet_libraries(verbose=False)
    got = [(r.levelno, r.getMessage()) for r in caplog.records if r.name == logs.LLAMA_LOGGER]
    assert got == [(logging.WARNING, "part one, part two"), (logging.INFO, "next")]
