"""Prompt Workbench: prompt engineering against a local language model.

The library works without Streamlit; the app (``app.py``, ``views/``) and the
CLI (``python -m workbench``) are thin layers over it.
"""

__version__ = "0.1.0"
