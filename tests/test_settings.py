"""The settings module: every WORKBENCH_* variable declared once, parsed with the one error line each engine
always said, shown by ``workbench config`` (tests/test_cli.py) and tabled in the README (checked here)."""

from __future__ import annotations

import os
import re

import pytest

from tests.conftest import ROOT
from workbench import settings
from workbench.errors import ConfigError

# The lines the engines, the classroom and the pages said before the settings module existed (tests elsewhere
# match them: test_registry, test_batch, test_llamacpp_shared, test_cache, test_classroom, app/test_common,
# test_openai_backend). Written out by hand, so a reworded parser fails here.
BAD_VALUES = [
    ("WORKBENCH_THREADS", "two", "WORKBENCH_THREADS must be a whole number of threads (1 or more), not 'two'."),
    ("WORKBENCH_THREADS", "0", "WORKBENCH_THREADS must be a whole number of threads (1 or more), not '0'."),
    ("WORKBENCH_KERNELS", "Quick", "WORKBENCH_KERNELS must be one of exact, fast, not 'quick'."),
    ("WORKBENCH_BATCH", "lots", "WORKBENCH_BATCH must be a whole number of sequences from 1 to 64, not 'lots'."),
    ("WORKBENCH_BATCH", "65", "WORKBENCH_BATCH must be a whole number of sequences from 1 to 64, not '65'."),
    ("WORKBENCH_SHARED_BATCH", "-1",
     "WORKBENCH_SHARED_BATCH must be a whole number of sequences from 0 to 64, not '-1'."),
    ("WORKBENCH_CACHE_MAX_ENTRIES", "0", "WORKBENCH_CACHE_MAX_ENTRIES must be a whole number of at least 1, not '0'."),
    ("WORKBENCH_CLASSROOM", "yes please",
     "WORKBENCH_CLASSROOM must be 1 (pin models and servers) or 0 (do not); got 'yes please'."),
    ("WORKBENCH_SERVER_DEADLINE_S", "soon", "WORKBENCH_SERVER_DEADLINE_S='soon' is not a number of seconds."),
    ("WORKBENCH_SERVER_TIMEOUT_S", "1 min", "WORKBENCH_SERVER_TIMEOUT_S='1 min' is not a number of seconds."),
    # the engines read ASCII digits only (str.isdigit): a sign, an underscore or another script's digit is refused
    ("WORKBENCH_THREADS", "+4", "WORKBENCH_THREADS must be a whole number of threads (1 or more), not '+4'."),
    ("WORKBENCH_BATCH", "1_6", "WORKBENCH_BATCH must be a whole number of sequences from 1 to 64, not '1_6'."),
    ("WORKBENCH_SHARED_BATCH", "²", "WORKBENCH_SHARED_BATCH must be a whole number of sequences from 0 to 64, not '²'."),
]


@pytest.mark.parametrize(("name", "raw", "line"), BAD_VALUES)
def test_a_bad_value_is_the_one_line_the_engines_always_said(name, raw, line):
    with pytest.raises(ConfigError) as err:
        settings.get(name, {name: raw})
    assert str(err.value) == line
    with pytest.raises(ConfigError) as at_start:
        settings.check_all({name: raw})
    assert str(at_start.value) == line


@pytest.mark.parametrize(("name", "raw", "value"), [
    ("WORKBENCH_THREADS", " 3 ", 3), ("WORKBENCH_KERNELS", " Fast ", "fast"), ("WORKBENCH_BATCH", "64", 64),
    ("WORKBENCH_SHARED_BATCH", "0", 0), ("WORKBENCH_CACHE_MAX_ENTRIES", "12", 12),
    ("WORKBENCH_CACHE_MAX_ENTRIES", "5_000", 5000),  # the cache always read its bound with int()
    ("WORKBENCH_CLASSROOM", "ON", True), ("WORKBENCH_CLASSROOM", "0", False), ("WORKBENCH_VERBOSE", "yes", True),
    ("WORKBENCH_ALLOWED_MODELS", " a.gguf, ,gemma-3-270m ", ("a.gguf", "gemma-3-270m")),
    ("WORKBENCH_SERVER_TIMEOUT_S", "0.3", 0.3), ("WORKBENCH_TEACHER_PASSCODE", " s3cret ", "s3cret"),
])
def test_a_good_value_is_typed(name, raw, value):
    assert settings.get(name, {name: raw}) == value


def test_unset_or_blank_is_the_default():
    for name, setting in settings.SETTINGS.items():
        assert settings.get(name, {}) == setting.default
        assert settings.get(name, {name: "  "}) == setting.default
    settings.check_all({})


def test_an_undeclared_name_is_a_programming_error():
    with pytest.raises(KeyError):
        settings.get("WORKBENCH_THREAD", {})


def test_every_declaration_says_what_the_table_needs():
    for name, s in settings.SETTINGS.items():
        assert name == s.name and re.fullmatch(r"WORKBENCH_[A-Z_]+", name)
        assert s.help.endswith(".") and s.kind and s.shown_default()
        assert "\n" not in s.help + s.kind + s.shown_default()
    with pytest.raises(ValueError, match="declared twice"):
        settings.declare(settings.SETTINGS["WORKBENCH_BATCH"])


def test_every_workbench_variable_the_code_names_is_declared():
    """A WORKBENCH_* name written anywhere in the library or the pages is one the settings module declares."""
    named = set()
    for folder in ("workbench", "ui", "views"):
        for path in (ROOT / folder).rglob("*.py"):
            named |= set(re.findall(r"\bWORKBENCH_[A-Z][A-Z_]*[A-Z]\b", path.read_text(encoding="utf-8")))
    assert sorted(named - set(settings.SETTINGS)) == []


def test_effective_says_where_each_value_came_from():
    env = {"WORKBENCH_BATCH": "4", "WORKBENCH_TEACHER_PASSCODE": "s3cret", "WORKBENCH_ALLOWED_MODELS": "a, b"}
    got = {e.setting.name: e for e in settings.effective(env)}
    assert list(got) == list(settings.SETTINGS)
    assert (got["WORKBENCH_BATCH"].value, got["WORKBENCH_BATCH"].source, got["WORKBENCH_BATCH"].shown()) == (
        4, "environment", "4")
    assert (got["WORKBENCH_KERNELS"].source, got["WORKBENCH_KERNELS"].shown()) == ("default", "exact")
    assert (got["WORKBENCH_THREADS"].source, got["WORKBENCH_THREADS"].shown()) == ("default", "every core")
    assert got["WORKBENCH_ALLOWED_MODELS"].shown() == "a, b"
    assert got["WORKBENCH_VERBOSE"].shown() == "0"
    assert got["WORKBENCH_TEACHER_PASSCODE"].shown() == "(set; not shown)"
    assert "s3cret" not in repr([e.shown() for e in got.values()])
    with pytest.raises(ConfigError, match=r"^WORKBENCH_BATCH must be"):
        settings.effective({"WORKBENCH_BATCH": "0"})


def test_the_process_environment_is_read_written_and_handed_on_here(monkeypatch):
    monkeypatch.setenv("WORKBENCH_BATCH", "5")
    monkeypatch.setenv("MY_API_KEY", "sk-1")
    monkeypatch.delenv("WORKBENCH_SETTINGS_TEST", raising=False)
    monkeypatch.delenv("WORKBENCH_SHARED_BATCH", raising=False)
    assert settings.get("WORKBENCH_BATCH") == 5
    assert settings.secret("MY_API_KEY") == "sk-1" and settings.secret("WORKBENCH_SETTINGS_TEST") is None
    child = settings.child_environment({"WORKBENCH_SHARED_BATCH": "8"})
    assert child["WORKBENCH_BATCH"] == "5" and child["WORKBENCH_SHARED_BATCH"] == "8"
    assert "WORKBENCH_SHARED_BATCH" not in os.environ  # handed on, not set here
    assert settings.child_environment({"A": "1"}, base={"B": "2"}) == {"B": "2", "A": "1"}
    settings.export("WORKBENCH_SETTINGS_TEST", "1")
    settings.export("WORKBENCH_SETTINGS_TEST", "2", only_if_unset=True)
    assert os.environ["WORKBENCH_SETTINGS_TEST"] == "1"
    monkeypatch.delenv("WORKBENCH_SETTINGS_TEST")


def readme_settings_table() -> str | None:
    """The first Markdown table under the README's "Settings" heading (None when there is none)."""
    lines = (ROOT / "README.md").read_text(encoding="utf-8").splitlines()
    heading = next((i for i, line in enumerate(lines) if re.fullmatch(r"#+\s+Settings\b.*", line.strip())), None)
    if heading is None:
        return None
    table: list[str] = []
    for line in lines[heading + 1:]:
        if line.startswith("#"):
            break
        if line.startswith("|"):
            table.append(line.rstrip())
        elif table:
            break
    return "\n".join(table) or None


def test_the_readme_settings_table_is_the_registry():
    """README.md has a "Settings" heading whose table is ``settings.markdown_table()`` exactly (regenerate it
    with ``python -c "from workbench import settings; print(settings.markdown_table())"``)."""
    table = readme_settings_table()
    assert table is not None, "README.md has no table under a 'Settings' heading; paste settings.markdown_table()"
    assert table == settings.markdown_table()
