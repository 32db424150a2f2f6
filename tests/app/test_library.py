"""AppTest of the Library page with the real default model and the real store (under WORKBENCH_DATA_DIR)."""

from __future__ import annotations

import dataclasses
import json

import pytest
from streamlit.runtime.memory_media_file_storage import MemoryMediaFileStorage
from streamlit.testing.v1 import AppTest

from tests.conftest import ROOT
from workbench.promptsets.exports import results_csv as set_results_csv
from workbench.promptsets.files import classroom_sets, loads, to_yaml
from workbench.promptsets.library import get, save
from workbench.promptsets.model import PromptSet
from workbench.store import open_store

DEMO = "classroom:zero_vs_few_shot"
CLASSROOM = classroom_sets()



@pytest.fixture
def downloads(monkeypatch) -> dict[str, tuple[bytes, str]]:
    """What each download button would hand the browser (data, file name), by media file id."""
    files: dict[str, tuple[bytes, str]] = {}
    original = MemoryMediaFileStorage.load_and_get_id

    def capture(self, path_or_data, mimetype, kind, filename=None):
        file_id = original(self, path_or_data, mimetype, kind, filename)
        files[file_id] = (path_or_data, filename)
        return file_id

    monkeypatch.setattr(MemoryMediaFileStorage, "load_and_get_id", capture)
    return files


def downloaded(at: AppTest, key: str, files: dict[str, tuple[bytes, str]]) -> tuple[str, str]:
    """(file name, text) of the download button ``key``."""
    button = next(b for b in at.get("download_button") if b.proto.id.endswith(key))
    data, filename = files[button.proto.url.rsplit("/", 1)[1].split(".")[0]]
    return filename, data.decode("utf-8")


def page() -> AppTest:
    return AppTest.from_file(str(ROOT / "views/6_Library.py"), default_timeout=180).run()


def opened(name_or_ref: str) -> AppTest:
    at = page()
    at.selectbox(key="lib_pick").set_value(name_or_ref).run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    return at


def texts(at: AppTest) -> list[str]:
    return [m.value for m in at.markdown]


def test_open_a_demo_set_run_it_save_a_copy_and_export_it(downloads):
    at = page()
    assert not at.exception
    assert "🎓 Zero-shot vs few-shot on a base model" in at.selectbox(key="lib_pick").options
    at.selectbox(key="lib_pick").set_value(DEMO).run()
    assert not at.exception and not at.error
    pset = CLASSROOM["zero_vs_few_shot"]
    assert at.header[0].value == pset.name
    assert pset.notes.strip() in texts(at)  # the explanation
    assert [s.value for s in at.subheader] == ["Step 1: Zero-shot", "Step 2: Few-shot (6 demonstrations)"]
    shown = " ".join(str(e.proto.body) for e in at.get("html"))
    assert "Review: A gentle, beautifully acted story" in shown  # the rendered few-shot prompt

    at.number_input(key="lib_cap").set_value(2).run()
    at.button(key="lib_run").click().run()
    assert not at.exception and not at.error
    ref, results = at.session_state["lib_results"]
    assert ref == DEMO and len(results) == 8
    assert [(r.step, r.case.input) for r in results[:2]] == [(0, pset.tests[0].input), (0, pset.tests[1].input)]
    assert all(r.runs[0].stages[0].generation.completion_tokens <= 2 for r in results)
    assert [m.label for m in at.metric] == ["Step 1 · Zero-shot", "Step 2 · Few-shot (6 demonstrations)"]
    _, results_csv = downloaded(at, "lib_dl_csv", downloads)
    assert results_csv == set_results_csv(results)

    at.text_input(key="lib_copy_name").set_value("AppTest copy").run()
    at.button(key="lib_save_copy").click().run()
    assert not at.exception and not at.error
    assert at.success[0].value == "Saved a copy as 'AppTest copy'; it is open now."
    assert at.selectbox(key="lib_pick").value == "library:AppTest copy"
    with open_store() as store:
        assert get(store, "AppTest copy") == (pset.renamed("AppTest copy"), 1)

    filename, yaml_text = downloaded(at, "lib_dl_yaml", downloads)
    assert filename == "AppTest_copy.yaml"
    assert loads(yaml_text, source="AppTest_copy.yaml") == pset.renamed("AppTest copy")
    assert to_yaml(loads(yaml_text)) == yaml_text  # byte-identical round trip
    _, json_text = downloaded(at, "lib_dl_json", downloads)
    assert loads(json_text, source="x.json") == pset.renamed("AppTest copy")
    _, jsonl = downloaded(at, "lib_dl_jsonl", downloads)
    rows = [json.loads(line) for line in jsonl.splitlines()]
    assert len(rows) == 2 * 4 and rows[0]["prompt"].endswith(f"Review: {pset.tests[0].input}\nSentiment:")
    at.radio(key="lib_jsonl_shape").set_value("chat").run()
    _, jsonl = downloaded(at, "lib_dl_jsonl", downloads)
    assert json.loads(jsonl.splitlines()[0])["messages"][-1]["role"] == "user"


def test_versions_diff_restore_rename_delete_and_undo():
    base = CLASSROOM["demo_order"].renamed("AppTest versions")
    with open_store() as store:
        save(store, base, "first")
        save(store, dataclasses.replace(base, notes="Shorter notes."), "second")
    at = opened("library:AppTest versions")
    assert at.header[0].value == "AppTest versions"
    diff = next(c.value for c in at.code if c.value.startswith("--- AppTest versions v1"))
    assert "+notes: Shorter notes." in diff
    at.button(key="lib_restore").click().run()
    assert at.success[0].value == "Restored version 1 of 'AppTest versions' as version 3."
    with open_store() as store:
        assert get(store, "AppTest versions") == (base, 3)

    at.text_input(key="lib_rename_name").set_value("AppTest renamed").run()
    at.button(key="lib_rename").click().run()
    assert not at.error and at.selectbox(key="lib_pick").value == "library:AppTest renamed"
    at.button(key="lib_delete").click().run()
    assert "Delete 'AppTest renamed'?" in at.warning[0].value  # asks first
    at.button(key="lib_delete_yes").click().run()
    assert at.selectbox(key="lib_pick").value is None
    assert "💾 AppTest renamed" not in at.selectbox(key="lib_pick").options
    at.button(key="lib_undo").click().run()
    assert at.selectbox(key="lib_pick").value == "library:AppTest renamed"
    with open_store() as store:
        assert [v.version for v in store.versions("AppTest renamed")] == [1, 2, 3]


def test_edit_as_yaml_saves_a_version_and_bad_yaml_is_one_line():
    with open_store() as store:
        save(store, CLASSROOM["temperature_top_p"].renamed("AppTest edit"), "first")
    at = opened("library:AppTest edit")
    text = at.text_area(key="lib_yaml").value
    at.text_area(key="lib_yaml").set_value(text.replace("description: One story", "description: A story"))
    at.text_input(key="lib_note").set_value("shorter description")
    at.button(key="lib_save_version").click().run()
    assert at.success[0].value == "Saved version 2 of 'AppTest edit'."
    with open_store() as store:
        assert store.versions("AppTest edit")[-1].note == "shorter description"
        assert get(store, "AppTest edit")[0].description.startswith("A story")
    at.text_area(key="lib_yaml").set_value("schema_version: 1\nname: x\nsteps:\n  - title: t\n    decoding: "
                                            "{top_p: 7}\n")
    at.button(key="lib_save_version").click().run()
    assert [e.value for e in at.error] == ["edited set: steps[0].decoding.top_p: must be in (0, 1] (got 7.0); "
                                           "1 turns it off."]


def test_upload_import_never_overwrites_and_hostile_files_are_refused(tmp_path):
    marker = tmp_path / "pwned"
    at = page()
    evil = f"schema_version: 1\nname: evil\nsteps:\n  - title: !!python/object/apply:os.system ['touch {marker}']\n"
    at.get("file_uploader")[0].set_value(("evil.yaml", evil.encode(), "application/x-yaml")).run()
    assert not at.exception
    assert [e.value for e in at.error] == ["evil.yaml line 4: the Python tag !!python/object/apply:os.system is "
                                           "refused; prompt-set files are plain data and never create Python "
                                           "objects."]
    assert not marker.exists() and not [b for b in at.button if b.key == "lib_import"]

    many = json.dumps({"schema_version": 1, "name": "many", "steps": [
        {"title": "t", "demos": [{"question": f"q{i}", "answer": "a"} for i in range(10_000)]}]})
    at.get("file_uploader")[0].set_value(("many.json", many.encode(), "application/json")).run()
    assert [e.value for e in at.error] == ["many.json: steps[0].demos: 10,000 demonstrations; a prompt set may hold "
                                           "at most 1,000 (limit max_demos)."]

    shared = to_yaml(CLASSROOM["self_consistency"].renamed("AppTest import"))
    for expected in ("AppTest import", "AppTest import (2)"):
        at.get("file_uploader")[0].set_value(("shared.yaml", shared.encode(), "application/x-yaml")).run()
        at.button(key="lib_import").click().run()
        assert not at.exception and not at.error
        assert at.selectbox(key="lib_pick").value == f"library:{expected}"
    assert at.info[0].value == ("A set named 'AppTest import' already exists, so the import was saved as "
                                "'AppTest import (2)'; nothing was overwritten.")
    with open_store() as store:
        assert [v.version for v in store.versions("AppTest import")] == [1]


def test_presentation_view_one_step_per_screen_with_live_output():
    at = opened(DEMO)
    at.toggle(key="lib_present").set_value(True).run()
    assert not at.exception
    assert any("font-size: 1.7rem" in str(e.proto.body) for e in at.get("html"))  # large type
    assert at.title[0].value == "Zero-shot vs few-shot on a base model"
    assert at.button(key="lib_prev").disabled
    at.button(key="lib_next").click().run()
    assert at.title[0].value == "Step 1: Zero-shot"
    at.button(key="lib_next").click().run()
    assert at.title[0].value == "Step 2: Few-shot (6 demonstrations)" and at.button(key="lib_next").disabled
    at.button(key="lib_present_run").click().run()
    assert not at.exception and not at.error
    answer = next(v for v in texts(at) if v.startswith("## Answer:"))
    assert answer == "## Answer: positive ✅"  # six demonstrations: the base model gets the label right
    assert at.session_state["lib_live"][3].runs[0].stages[0].generation.completion_tokens > 0


def test_every_classroom_set_opens_and_presents_step_by_step():
    """Sets that select demonstrations load the embedder; tests/test_promptsets.py renders and runs those."""
    at = page()
    for key, pset in CLASSROOM.items():
        if any(step.select is not None for step in pset.steps):
            continue
        at.selectbox(key="lib_pick").set_value(f"classroom:{key}").run()
        assert not at.exception and not at.error, (key, [e.value for e in at.error])
        assert [s.value for s in at.subheader] == [f"Step {i}: {s.title}" for i, s in enumerate(pset.steps, 1)]
        at.toggle(key="lib_present").set_value(True).run()
        for i, step in enumerate(pset.steps, start=1):
            at.button(key="lib_next").click().run()
            assert not at.exception and not at.error, (key, i)
            assert at.title[0].value == f"Step {i}: {step.title}"
        assert at.button(key="lib_next").disabled
        at.toggle(key="lib_present").set_value(False).run()


def imported(at: AppTest, pset: PromptSet) -> AppTest:
    at.get("file_uploader")[0].set_value(("shared.yaml", to_yaml(pset).encode(), "application/x-yaml")).run()
    at.button(key="lib_import").click().run()
    assert not at.exception
    return at


BEACON = "![pixel](http://beacon.invalid/p.png)"


def test_imported_notes_show_image_syntax_as_text_and_load_nothing():
    base = CLASSROOM["zero_vs_few_shot"]
    step = dataclasses.replace(base.steps[0], title=f"Step {BEACON}", notes=f"See {BEACON}")
    pset = dataclasses.replace(base.renamed("Beacon set"), description=f"About {BEACON}",
                               notes=f"Look {BEACON} and <img src='http://beacon.invalid/h.png'>", steps=(step,))
    at = imported(page(), pset)
    assert not at.error
    shown = [*texts(at), *(h.value for h in at.header), *(h.value for h in at.subheader)]
    assert any("beacon.invalid/p.png" in t for t in shown)  # the notes are there ...
    assert not [t for t in shown if BEACON in t]  # ... but no Markdown image
    assert any(t.startswith("Look !\\[pixel](http://beacon.invalid/p.png) and <img") for t in texts(at))


def test_a_bug_in_an_import_is_one_line(monkeypatch):
    def broken(*args, **kwargs):
        raise OSError("/srv/secret/workbench.db is locked")

    monkeypatch.setattr("ui.library_manage.import_set", broken)
    at = imported(page(), CLASSROOM["self_consistency"].renamed("Will fail"))
    assert [e.value for e in at.error] == ["Importing the set failed: an unexpected OSError (a bug in the workbench); "
                                           "the details are in the server log."]


def test_a_classroom_server_refuses_a_sets_local_model_path_without_saying_whether_it_exists(monkeypatch, tmp_path):
    monkeypatch.setenv("WORKBENCH_CLASSROOM", "1")
    (tmp_path / "real.gguf").write_bytes(b"GGUF")
    base = CLASSROOM["zero_vs_few_shot"]
    refusals = []
    for i, path in enumerate((tmp_path / "real.gguf", tmp_path / "missing.gguf")):
        step = dataclasses.replace(base.steps[0], model=str(path))
        at = imported(page(), dataclasses.replace(base.renamed(f"Paths {i}"), steps=(step,)))
        refusals.append([e.value for e in at.error])
    assert refusals[0] == refusals[1] == ["This server loads only the models it allows; pick one of: gemma-3-270m, "
                                          "smollm2-135m-instruct (the teacher sets them with "
                                          "WORKBENCH_ALLOWED_MODELS)."]


def test_a_set_opened_in_the_builder_keeps_its_steps():
    """Issue 19 item 2: Library -> Builder: the step's spec and demonstrations in the Builder's editor, with a
    note of where they came from; every step of the set stays on offer in the Builder's starter list."""
    shipped = CLASSROOM["zero_vs_few_shot"]
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=300).run()
    at.switch_page("views/6_Library.py").run()
    at.selectbox(key="lib_pick").set_value(DEMO).run()
    assert not at.exception and not at.error
    at.button(key="lib_to_builder_2").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert [t.value for t in at.title] == ["Prompt Builder"]
    note = next(i.value for i in at.info if i.value.startswith("From Step 2:"))
    assert note == f"From Step 2: {shipped.steps[1].title} of the Library set “{shipped.name}”."
    at.switch_page("views/1_Prompt_Builder.py")
    draft = at.session_state["state_builder"].draft
    few_shot = shipped.steps[1]
    assert draft.spec() == few_shot.spec
    assert [d.input for d in draft.used()] == [d.input for d in few_shot.demos]
    assert draft.query == shipped.tests[0].input
    picker = at.selectbox(key="pb_starter")
    assert picker.value == "step:1"
    assert {f"📚 Step {i}: {s.title} · {shipped.name}" for i, s in enumerate(shipped.steps, 1)} <= set(picker.options)
    picker.set_value("step:0").run()  # the set's other step, loaded from the Builder (nothing was edited)
    assert not at.exception and not at.error
    draft = at.session_state["state_builder"].draft
    assert draft.spec() == shipped.steps[0].spec and draft.rows == ()
    assert any(i.value.startswith("From Step 1:") for i in at.info)


def test_a_step_opened_in_the_decoding_lab_is_its_prompt_source():
    """Issue 19 item 2: Library -> Decoding Lab goes through the Builder's spec: the Lab renders the step."""
    few_shot = CLASSROOM["zero_vs_few_shot"].steps[1]
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=300).run()
    at.switch_page("views/6_Library.py").run()
    at.selectbox(key="lib_pick").set_value(DEMO).run()
    at.button(key="lib_to_lab_2").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert [t.value for t in at.title] == ["Decoding Lab"]
    at.switch_page("views/4_Decoding_Lab.py")
    assert at.radio(key="lab_source").value == "Prompt Builder spec"
    at.text_area(key="lab_input_a").set_value("A quiet, lovely film.").run()
    assert not at.exception and not at.error
    exact = "\n".join(c.value for c in at.code)
    assert all(d.input in exact for d in few_shot.demos) and exact.rstrip().endswith(
        "Review: A quiet, lovely film.\nSentiment:")


def test_the_open_set_and_own_input_survive_a_page_switch():
    """Issue 19 item 1: back from another page, the Library still shows the set the user opened."""
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=300).run()
    at.switch_page("views/6_Library.py").run()
    at.selectbox(key="lib_pick").set_value(DEMO).run()
    at.text_input(key="lib_custom").set_value("A film I will not forget.").run()
    at.switch_page("views/1_Prompt_Builder.py").run()
    at.switch_page("views/6_Library.py").run()
    assert not at.exception and not at.error
    assert at.selectbox(key="lib_pick").value == DEMO
    assert at.text_input(key="lib_custom").value == "A film I will not forget."
    assert [h.value for h in at.header] == [CLASSROOM["zero_vs_few_shot"].name]


def test_a_cap_out_of_range_is_a_red_line_under_it_and_run_waits():
    at = opened(DEMO)
    for bad, why in ((5000, "got 5000"), (-1, "got -1")):
        at.number_input(key="lib_cap").set_value(bad).run()
        assert not at.exception
        assert [e.value for e in at.error] == [f"Cap max_new_tokens (0 = as the set says) must be between 0 and 4096 "
                                               f"({why})."]
        assert at.button(key="lib_run").disabled
    at.number_input(key="lib_cap").set_value(3).run()
    assert not at.error and not at.button(key="lib_run").disabled


def test_a_set_without_test_inputs_imports_with_a_note_not_a_red_box():
    """UX II item 7: the Export tab of a set with no test inputs says so in a neutral note (it was a red box,
    "has no test inputs; give inputs to render.")."""
    pset = dataclasses.replace(CLASSROOM["zero_vs_few_shot"].renamed("No inputs set"), tests=())
    at = imported(page(), pset)
    assert not at.error, [e.value for e in at.error]
    assert any("no test inputs" in i.value for i in at.info)


def test_a_sets_model_graded_step_asks_the_local_judge_through_the_pages_models(monkeypatch):
    """The classroom set judged three ways runs on the page: its rubric step asks the local instruct model through
    the page's model factory (here a scripted judge; the steps' own model is the real one), and each verdict keeps
    the judge's reply."""
    import ui.library
    from tests.fakes import FakeBackend
    from workbench.judging.tools import DEFAULT_JUDGE

    real = ui.library.cached_backend
    judge = FakeBackend(reply=lambda prompt, seed: ' {"pass": true, "score": 1, "reason": "a real city"}')
    asked: list[str] = []

    def judges(model: str, backend: str):
        asked.append(model)
        return judge

    at = opened("classroom:judging_three_ways")
    at.number_input(key="lib_cap").set_value(48).run()
    monkeypatch.setattr(ui.library, "step_backend", lambda step, sidebar: real(step.model, "auto"))
    monkeypatch.setattr(ui.library, "cached_backend", judges)  # now only the judges come from here
    at.button(key="lib_run").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    _, results = at.session_state["lib_results"]
    rubric = [r for r in results if r.checks and r.checks[0].type == "llm-rubric"]
    assert rubric and all(r.checks[0].reply.strip().startswith('{"pass": true') for r in rubric)
    assert asked == [DEFAULT_JUDGE]  # loaded once for the whole run
