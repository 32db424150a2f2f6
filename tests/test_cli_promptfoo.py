"""``workbench eval --config promptfooconfig.yaml`` end to end on the real default models (gemma-3-270m,
smollm2-135m-instruct): the 2 prompts x 2 providers table, judged by the config's assertions; a refused
config is one ``error:`` line and exit 2."""

from __future__ import annotations

import re
from pathlib import Path

from workbench.cli import main

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "promptfoo" / "promptfooconfig.yaml"


def test_example_config_runs_the_prompt_by_model_table(capsys):
    code = main(["eval", "--config", str(EXAMPLE), "--limit", "2", "--no-progress"])
    out, err = capsys.readouterr()
    assert code == 0, err
    rows = {m[1]: (m[2], m[3]) for m in re.finditer(r"^(\S+ @ \S+)\s+2\s+(\S+)\s+\S+\s+(\S+)", out, re.M)}
    # greedy outputs on France and Japan: smollm2 names one of the two cities after the completion prompt
    assert rows == {"qa @ gemma": ("100.0%", "1.000"), "qa @ smollm2": ("100.0%", "1.000"),
                    "completion @ gemma": ("100.0%", "1.000"), "completion @ smollm2": ("50.0%", "0.750")}, out
    assert "assertions (passed / judged, mean score):" in out
    assert re.search(r"^\s*completion @ smollm2\s+icontains \(per item\): 1/2 passed, mean score 0.500$", out, re.M)


def test_a_refused_config_is_one_error_line_and_exit_2(tmp_path, capsys):
    config = tmp_path / "promptfooconfig.yaml"
    config.write_text("prompts: [file://../../etc/passwd]\nproviders: [workbench:gemma-3-270m]\n", encoding="utf-8")
    code = main(["eval", "--config", str(config), "--no-progress"])
    _, err = capsys.readouterr()
    assert code == 2
    assert err == (f"error: prompt file://../../etc/passwd is outside the config's folder {tmp_path}; keep the "
                   "files a config names in its folder.\n")


def test_cloud_openai_without_base_url_is_refused(tmp_path, capsys):
    config = tmp_path / "promptfooconfig.yaml"
    config.write_text("prompts: ['{{q}}']\nproviders: [openai:chat:gpt-4o-mini]\n", encoding="utf-8")
    code = main(["eval", "--config", str(config), "--no-progress"])
    _, err = capsys.readouterr()
    assert code == 2 and err.startswith("error: provider openai:chat:gpt-4o-mini has no config.apiBaseUrl;")
    assert err.count("\n") == 1


def test_chat_messages_on_a_base_model_are_one_error_line(tmp_path, capsys):
    (tmp_path / "chat.json").write_text('[{"role": "user", "content": "Capital of {{country}}?"}]', encoding="utf-8")
    config = tmp_path / "promptfooconfig.yaml"
    config.write_text("prompts: [file://chat.json]\nproviders: [{id: workbench:gemma-3-270m, config: {max_tokens: 4}}]\n"
                      "tests: [{vars: {country: Peru}, assert: [{type: icontains, value: Lima}]}]\n", encoding="utf-8")
    code = main(["eval", "--config", str(config), "--no-progress"])
    _, err = capsys.readouterr()
    assert code == 2
    assert err == ("error: This prompt is chat messages, and the model has no chat template; run it on a chat "
                   "model, or write the prompt as text.\n")
