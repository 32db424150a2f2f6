"""Streamlit helpers shared by app.py and views/: widgets and caching, no prompt logic."""
