"""Helpers of the AppTest page tests: the app's entry point and a page opened through it."""

from pathlib import Path

from streamlit.testing.v1 import AppTest

APP = str(Path(__file__).resolve().parents[1] / "explorer" / "app.py")
TIMEOUT = 120


def open_view(view: str) -> AppTest:
    """Run the app, switch to `views/<view>.py` (as a click in the sidebar does), check it ran."""
    at = AppTest.from_file(APP, default_timeout=TIMEOUT).run()
    at.switch_page(f"views/{view}.py").run()
    assert not at.exception, at.exception
    return at
