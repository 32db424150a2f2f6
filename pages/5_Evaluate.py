"""Evaluate: which prompting strategy is better on my data? Accuracy with a 95% CI, per item, stored runs."""

import streamlit as st

from ui import evaluate as ev
from ui.common import keep_widgets, sidebar_model, user_errors

st.set_page_config(page_title="Evaluate", page_icon="📊", layout="wide")
keep_widgets(ev.KEPT_KEYS)  # the settings survive a visit to another page
backend = sidebar_model()
st.title("Evaluate")
st.caption("Strategies × a labelled dataset: accuracy with a 95% Wilson interval, every item's prompt, output and "
           "extracted answer, order sensitivity (Lu et al. 2022) and contextual calibration (Zhao et al. 2021). "
           "Every run is stored and can be resumed and exported.")

dataset = ev.data_picker("ev_data", "Dataset", default="sentiment")
pool = ev.demonstration_pool(dataset) if dataset is not None else None
plan = None
if pool is not None:
    with user_errors("Reading the settings"):
        plan = ev.settings(dataset, pool)
if pool is not None and backend is not None:
    with user_errors("Running the evaluation"):
        ev.run_controls(plan, backend)  # Run is disabled while a setting is invalid (plan None)
with user_errors("Showing the results"):
    ev.results()
if plan is not None and backend is not None:
    with user_errors("Order sensitivity"):
        ev.order_section(plan, backend)
with user_errors("Run history"):
    ev.history(plan, backend)
