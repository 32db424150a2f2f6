"""Library: classroom demo sets, the prompts folder's files and saved prompt sets: read, run, present, version,
import and export."""

import streamlit as st

from ui import library as lib
from ui import library_files as lib_files
from ui import library_manage as manage
from ui.common import app_store, page_intro, sidebar_model, user_errors
from ui.fields import keep_widgets

#: The page's inputs kept across page switches: the open set, the search, your own input, the run settings.
KEPT_KEYS = ("lib_present", "lib_search", "lib_pick", "lib_custom", "lib_preview", "lib_own_models", "lib_cap")

st.set_page_config(page_title="Library", page_icon="📚", layout="wide")
keep_widgets(KEPT_KEYS)  # a set opened here is still open after a visit to another page
backend = sidebar_model()
store = app_store()
presenting = st.sidebar.toggle("Presentation view", key="lib_present",
                               help="Large type, one concept per screen, the model's output live: for a projector.")
if not presenting:
    st.title("Library")
    page_intro("Prompt sets are lessons and experiments saved as files: a few prompts (steps) to run one after "
               "another, such as zero-shot against few-shot. Open a shipped classroom set, a YAML file of your "
               "prompts folder (WORKBENCH_PROMPTS_DIR, else ./prompts; edits on disk show as new versions) or a "
               "saved set, run it on the chosen model, show it in large type on a projector (Presentation view), save versions and "
               "compare them, or import and export sets to share them. Each step opens in the Prompt Builder or "
               "the Decoding Lab.")
    manage.show_flash(store)
folder, files = None, []
with user_errors("Reading the prompts folder"):
    folder, files = lib_files.listing(store)  # read on every run: an edit on disk shows at once
if not presenting:
    lib_files.problems(files)
opened = lib.open_set(store, lib.picker(store, in_sidebar=presenting, files=files), files, folder)
if presenting and opened is not None:
    with user_errors("The presentation view"):
        lib.presentation(opened, backend)
    st.stop()

if opened is None:
    with user_errors("Listing the library"):
        lib.overview(store, folder)
else:
    lib.header(opened)
    steps_tab, run_tab, manage_tab, versions_tab, export_tab = st.tabs(
        ["Steps & prompts", "Run", "Save & manage", "Versions", "Export"])
    with steps_tab, user_errors("Showing the steps"):
        lib.steps_view(opened, backend)
    with run_tab, user_errors("Running the set"):
        lib.run_view(opened, backend)
    with manage_tab, user_errors("Managing the set"):
        manage.manage_view(store, opened)
    with versions_tab, user_errors("Showing the versions"):
        manage.versions_view(store, opened)
    with export_tab, user_errors("Exporting the set"):
        manage.export_view(opened)
with user_errors("Importing a set"):
    manage.importer(store)
