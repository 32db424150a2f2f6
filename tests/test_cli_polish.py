"""Error and message polish (review #27, finding 14): ``--junit`` on a folder suggests a JUnit file name; a var
one promptfoo test lacks names the test."""

from __future__ import annotations

from workbench.cli import main


def test_junit_on_a_folder_suggests_a_junit_file_name(tmp_path, capsys):
    code = main(["eval", "--dataset", "sentiment", "--junit", str(tmp_path), "--no-progress"])
    _, err = capsys.readouterr()
    assert code == 2
    assert err == f"error: --junit {tmp_path} is a folder; give a file name (e.g. {tmp_path}/report.xml).\n"


def test_a_var_one_promptfoo_test_lacks_names_the_test(tmp_path, capsys):
    config = tmp_path / "promptfooconfig.yaml"
    config.write_text("prompts: ['Q {{x}} {{y}}']\nproviders: [workbench:gemma-3-270m]\n"
                      "tests:\n  - vars: {x: 1, y: 2}\n  - description: the one without y\n    vars: {x: 1}\n",
                      encoding="utf-8")
    code = main(["eval", "--config", str(config), "--no-progress"])
    _, err = capsys.readouterr()
    assert code == 2
    assert err.startswith("error: The query template (item test-") and err.count("\n") == 1
    assert err.endswith(": the one without y) uses a value it was not given: 'y' is undefined.\n"), err
