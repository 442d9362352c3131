"""What every page file needs from the app shell (`explorer/app.py`).

Streamlit keeps a legacy mode for apps with a ``pages/`` folder beside the entrypoint: until
some session has run ``st.navigation``, a deep link such as ``/train`` on a fresh server runs
``pages/train.py`` alone, without app.py's page config and navigation, and keeps doing so
for that session. `use_app_navigation` notices that and reruns through app.py instead.
"""

from __future__ import annotations

import streamlit as st

_redirected = False


def use_app_navigation() -> None:
    """Call first in a page file: leave Streamlit's legacy pages/ mode if it is active."""
    global _redirected
    from streamlit.runtime.pages_manager import PagesManager

    if not PagesManager.uses_pages_directory:
        return
    # app.py's st.navigation turns this flag off for the server's life; turning it off here
    # lets the rerun go through app.py, whose navigation picks this same page from the URL.
    PagesManager.uses_pages_directory = False
    if not _redirected:
        # Once per process: a server needs it once, and AppTest (which turns the flag back on
        # before every run) would otherwise lose each click to the rerun.
        _redirected = True
        st.rerun()
