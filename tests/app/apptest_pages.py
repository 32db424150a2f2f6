"""A fixture for AppTests that walk across pages of app.py.

AppTest sets ``PagesManager.uses_pages_directory = None`` before *every* run (streamlit/testing/v1/app_test.py),
so after a ``switch_page`` each run starts in Streamlit's old pages-folder mode, where
``ui.common._leave_pages_folder_mode`` calls ``st.rerun()``. That rerun drops the run's button clicks, so a
click on a page reached through app.py never arrives. A real server leaves that mode once, on its first run
(the browser tests cover that); this fixture makes AppTest behave like a server that has already left it.
Remove it when ``_leave_pages_folder_mode`` reruns at most once per session (requested in issue 19 notes).
"""

from __future__ import annotations

import pytest


@pytest.fixture
def server_pages_mode(monkeypatch):
    """AppTest runs pages as a server does after its first run (see the module docstring)."""
    import ui.common

    if hasattr(ui.common, "_leave_pages_folder_mode"):
        monkeypatch.setattr(ui.common, "_leave_pages_folder_mode", lambda: None)
