"""lm-eval task includes (review #27, findings 2 and 7): each file is read once per task (a loop is one line
naming it, a file included twice one line), at most MAX_INCLUDES files per task, and a nested include is
relative to the including file's folder as in lm-eval's own loader (still inside the task's folder)."""

from __future__ import annotations

import time

import pytest
from lm_eval.tasks._yaml_loader import load_yaml

from workbench.errors import ConfigError
from workbench.interop.lmeval.config import MAX_INCLUDES, read_task


def write(folder, name, text):
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def test_a_nested_include_is_relative_to_the_including_files_folder_as_in_lm_eval(tmp_path):
    task = write(tmp_path, "task.yaml", "include: sub/base.yaml\ntask: t\n")
    write(tmp_path, "sub/base.yaml", "include: common.yaml\noutput_type: generate_until\n")
    write(tmp_path, "sub/common.yaml", "doc_to_text: 'Q: {{q}}'\n")
    write(tmp_path, "common.yaml", "doc_to_text: 'WRONG {{q}}'\n")
    write(tmp_path, "sub/up.yaml", "include: ../shared.yaml\n")
    write(tmp_path, "shared.yaml", "doc_to_target: a\n")
    assert read_task(task) == load_yaml(task, resolve_func=False) == {
        "doc_to_text": "Q: {{q}}", "output_type": "generate_until", "task": "t"}
    up = write(tmp_path, "task2.yaml", "include: sub/up.yaml\ntask: u\n")
    assert read_task(up) == load_yaml(up, resolve_func=False) == {"doc_to_target": "a", "task": "u"}


def test_a_nested_include_still_stays_inside_the_tasks_folder(tmp_path):
    write(tmp_path / "task", "sub/base.yaml", "include: ../../outside.yaml\n")
    write(tmp_path, "outside.yaml", "task: x\n")
    task = write(tmp_path / "task", "task.yaml", "include: sub/base.yaml\n")
    with pytest.raises(ConfigError, match=r"^include sub/\.\./\.\./outside\.yaml is outside the config's folder"):
        read_task(task)


def test_an_include_loop_is_one_line_naming_it(tmp_path):
    task = write(tmp_path, "task.yaml", "include: b.yaml\ntask: t\n")
    write(tmp_path, "b.yaml", "include: task.yaml\n")
    with pytest.raises(ConfigError) as err:
        read_task(task)
    assert str(err.value) == "b.yaml: the includes loop (task.yaml -> b.yaml -> task.yaml); drop one of them."


def test_a_fan_out_of_includes_ends_at_once(tmp_path):
    for i in range(7):  # 30 includes of the next file at each level: 30**7 reads without a bound
        write(tmp_path, f"f{i}.yaml", "include: [" + ", ".join([f"f{i + 1}.yaml"] * 30) + "]\n")
    write(tmp_path, "f7.yaml", "task: leaf\n")
    start = time.monotonic()
    with pytest.raises(ConfigError) as err:
        read_task(tmp_path / "f0.yaml")
    assert time.monotonic() - start < 5
    assert str(err.value) == ("f6.yaml: includes f7.yaml a second time (f0.yaml -> f1.yaml -> f2.yaml -> f3.yaml -> "
                              "f4.yaml -> f5.yaml -> f6.yaml -> f7.yaml); lm-eval reads each file of a task once, so "
                              "include it in one place.")


def test_more_than_max_includes_files_is_one_line(tmp_path):
    for i in range(MAX_INCLUDES + 1):
        write(tmp_path, f"p{i}.yaml", f"k{i}: 1\n")
    task = write(tmp_path, "task.yaml", "include: [" + ", ".join(f"p{i}.yaml" for i in range(MAX_INCLUDES + 1))
                 + "]\n")
    with pytest.raises(ConfigError) as err:
        read_task(task)
    assert str(err.value) == f"task.yaml: the task includes more than {MAX_INCLUDES} files; merge them."
