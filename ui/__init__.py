"""Streamlit helpers shared by app.py and pages/: widgets and caching, no prompt logic."""
