"""Evaluate: which prompting strategy is better on my data? Accuracy with a 95% CI, per item, stored runs."""

import streamlit as st

from ui import evaluate as ev
from ui import formats, imports, shots
from ui.common import page_intro, sidebar_model, user_errors
from ui.datapick import data_picker
from ui.fields import keep_widgets

st.set_page_config(page_title="Evaluate", page_icon="📊", layout="wide")
keep_widgets(ev.KEPT_KEYS)  # the settings survive a visit to another page
backend = sidebar_model()
st.title("Evaluate")
page_intro(ev.ABOUT)  # what this page shows, in one paragraph
run_bar = st.container()  # Run, Cancel and the progress bar: above the tabs, where the user looks
setup, results, order, history = ev.tabs()

plan = pool = dataset = None
with setup:
    source = imports.source_picker()  # the page's own data and strategies, a promptfoo config or an lm-eval task
    if source == imports.OWN:
        dataset = data_picker("ev_data", "Dataset", default="sentiment")
        if dataset is not None:
            ev.data_notes(dataset)  # how the gold answers are read; a warning when they look like worked solutions
        pool = ev.demonstration_pool(dataset) if dataset is not None else None
        if pool is not None:
            with user_errors("Reading the settings"):
                plan = ev.settings(dataset, pool)
    else:
        read = None
        with user_errors("Reading the file"):
            read, plan = imports.import_setup(source)  # what the file holds, shown before the run
        if read is not None:
            dataset, pool = read.dataset, read.pool or read.dataset
# A run whose models the file (or the Models box) names needs no sidebar model.
own_models = plan is not None and (plan.model is not None or any(s.model for s in plan.strategies))
with run_bar:
    if pool is None or (backend is None and not own_models):
        st.caption("Choose a dataset on the Setup tab and a model in the sidebar to run." if source == imports.OWN
                   else f"Choose {imports.SOURCES[source].lower()} on the Setup tab to run.")
    else:
        with user_errors("Running the evaluation"):
            ev.run_controls(plan, backend)  # Run is disabled while a setting is invalid (plan None)
with results, user_errors("Showing the results"):
    ev.results(dataset)  # its own human grades (a __human column) meet the judge's verdicts
with order:
    if source != imports.OWN:
        st.info("Order sensitivity measures the page's own strategies; choose Data and strategies on the Setup tab.")
    elif plan is not None and backend is not None:
        with user_errors("Order sensitivity"):
            ev.order_section(plan, backend)
        with user_errors("Shots curve"):
            shots.shots_section(plan, backend)  # accuracy against K demonstrations (ui/shots.py)
        with user_errors("Format spread"):
            formats.formats_section(plan, backend)  # one prompt in N formats (ui/formats.py)
    else:
        st.info("Choose valid settings on the Setup tab (and a model) to measure order sensitivity.")
with history, user_errors("Run history"):
    ev.history(plan, backend)
