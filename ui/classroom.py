"""A classroom server in the pages: this browser's workspace, the teacher passcode box, who may see what.

In classroom mode (:func:`workbench.classroom.classroom_mode`: ``WORKBENCH_CLASSROOM=1``, or the app served beyond
loopback) each browser gets a workspace: a random id kept in a cookie of the app's own site (``workbench_ws``, a
year), so a reload or another tab of the same browser is the same workspace, and another browser is another. It is
not a login: it keeps students from changing each other's work by accident or mischief, and gives each browser a
fair share of the model. The teacher types the passcode (printed in the server's terminal; never in a page) in the
sidebar's "Teacher" box to see every workspace and change shared sets, for that browser tab.

:func:`access` makes this session's :class:`~workbench.classroom.Access` the acting user of the script run (the
store and the model lock read it); every page run calls it through :func:`sidebar` (from app.py), and page code
whose button callbacks change the store calls it first (callbacks run before the page script). On loopback
(one user) it is None and nothing changes.
"""

from __future__ import annotations

import time

import streamlit as st

from workbench import classroom as cr
from workbench.errors import WorkbenchError
from workbench.store import RunInfo, SetInfo, Store

#: The cookie that keeps a browser's workspace id.
COOKIE = "workbench_ws"
#: Session-state keys (not widgets): the workspace id, and whether the teacher passcode was typed here.
WORKSPACE_KEY = "classroom_ws"
TEACHER_KEY = "classroom_teacher"
#: The passcode box's widget key, and the key of its last outcome ("wrong" / "ok").
PASSCODE_KEY = "classroom_passcode"
OUTCOME_KEY = "classroom_outcome"
#: Seconds a wrong passcode costs (guessing from a page is slow).
WRONG_DELAY_S = 1.0


def active() -> bool:
    """True on a classroom server (a mistyped WORKBENCH_CLASSROOM counts as one: closed, not open)."""
    try:
        return cr.classroom_mode(st.get_option("server.address"))
    except WorkbenchError:
        return True


def _cookie() -> str | None:
    try:
        return cr.valid_workspace(st.context.cookies.get(COOKIE))
    except Exception:  # no browser request behind this session (AppTest)
        return None


def access() -> cr.Access | None:
    """This session's acting user (None off a classroom server), made the current one for this script run."""
    if not active():
        cr.set_current(None)
        return None
    ss = st.session_state
    workspace = cr.valid_workspace(ss.get(WORKSPACE_KEY)) or _cookie() or cr.new_workspace()
    ss[WORKSPACE_KEY] = workspace
    who = cr.Access(workspace, teacher=bool(ss.get(TEACHER_KEY)))
    cr.set_current(who)
    return who


def _session_access() -> cr.Access | None:
    """The acting user of the Streamlit session behind this thread (None where there is none: a worker thread)."""
    from streamlit.runtime.scriptrunner import get_script_run_ctx

    return access() if get_script_run_ctx(suppress_warning=True) is not None else None


cr.set_resolver(_session_access)  # widget callbacks run before app.py sets the user: they ask the session


def is_teacher() -> bool:
    """The teacher passcode was typed in this session (always False off a classroom server)."""
    who = access()
    return who is not None and who.teacher


#: Session flag: this session has sent its workspace cookie script once already.
COOKIE_SENT_KEY = "classroom_cookie_sent"


def _remember_workspace(workspace: str) -> None:
    """Keep the workspace id in this browser (a cookie of this site, sent with the next page load): once per
    session, and never over a cookie the browser already holds (two tabs opened before the first cookie existed
    would otherwise overwrite each other's on every rerun; the later one joins the first at its next load)."""
    if _cookie() == workspace or st.session_state.get(COOKIE_SENT_KEY):
        return
    st.session_state[COOKIE_SENT_KEY] = True
    st.sidebar.html(f"<script>if (!document.cookie.split('; ').some(c => c.startsWith('{COOKIE}='))) "
                    f"document.cookie = '{COOKIE}={workspace}; path=/; max-age=31536000; SameSite=Strict';"
                    "</script>", unsafe_allow_javascript=True, width="content")


def _check_passcode() -> None:
    ss = st.session_state
    typed = ss.get(PASSCODE_KEY) or ""
    ss[PASSCODE_KEY] = ""  # the passcode is never kept in the session or shown again
    if not typed.strip():
        return
    if cr.check_passcode(typed):
        ss[TEACHER_KEY] = True
        ss[OUTCOME_KEY] = "ok"
    else:
        time.sleep(WRONG_DELAY_S)
        ss[OUTCOME_KEY] = "wrong"


def _leave_teacher() -> None:
    st.session_state[TEACHER_KEY] = False


def sidebar() -> cr.Access | None:
    """Call once per page run, before the page (app.py): the acting user, the browser's workspace cookie, and on
    a classroom server the sidebar's "Teacher" box (passcode in, or teacher mode on and a button to leave it)."""
    who = access()
    if who is None:
        return None
    cr.teacher_passcode()  # a generated passcode is printed in the server's terminal at the first page load
    _remember_workspace(who.workspace)
    outcome = st.session_state.pop(OUTCOME_KEY, None)
    with st.sidebar.expander("Teacher", expanded=who.teacher or outcome == "wrong"):
        if who.teacher:
            st.success("Teacher mode: you see every workspace and may change any set; sets you save are "
                       "shared.", icon="🎓")
            st.button("Leave teacher mode", key="classroom_leave", on_click=_leave_teacher)
        else:
            st.caption("Classroom server: the sets you save and the runs you make belong to this browser's "
                       "workspace; the teacher's sets are read-only.")
            st.text_input("Teacher passcode", type="password", key=PASSCODE_KEY, on_change=_check_passcode,
                          help="Printed in the terminal that started the server.")
            if outcome == "wrong":
                st.error("That is not the teacher passcode.", icon="⚠️")
    return who


# --------------------------------------------------------------------------- what the pages ask

def owner_note(workspace: str | None, who: cr.Access | None) -> str:
    """How a set's or run's owner is named in a list to ``who`` ("" where there is nothing to say)."""
    if who is None:
        return ""
    if who.teacher:
        return "" if workspace is None else cr.short(workspace)
    return "shared, read-only" if workspace is None else ""


def owner_notes(sets: list[SetInfo], who: cr.Access | None) -> dict[str, str]:
    """:func:`owner_note` of each saved set, by name (the Library's picker and overview)."""
    return {info.name: owner_note(info.workspace, who) for info in sets}


def visible_runs(store: Store) -> list[RunInfo]:
    """The runs this session may see, newest first: its own workspace's on a classroom server (every run for
    the teacher, and off a classroom server). For the Evaluate page's run history."""
    access()
    return store.list_runs()


def can_delete_run(run: RunInfo) -> bool:
    """True when this session may delete (or resume) ``run``: its own, any for the teacher, any off a classroom."""
    who = access()
    return who is None or who.may_change(run.workspace)


def can_change_set(store: Store, name: str) -> bool:
    """True when this session may rename, edit, restore or delete the saved set ``name``."""
    access()
    try:
        return store.may_change(name)
    except WorkbenchError:
        return False
