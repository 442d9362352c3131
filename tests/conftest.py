"""Session-wide test isolation from the user's home folder."""

import os

import pytest


@pytest.fixture(scope="session", autouse=True)
def _private_heldout_cache(tmp_path_factory):
    # Any test that opens explorer/app.py lands on the Explore page, which writes its held-out
    # images to $VAEFLOW_CACHE_DIR, else ~/.cache/vaeflow. Point it (and every `streamlit run`
    # the browser tests start, which inherits the environment) at a temporary folder, so a test
    # run neither depends on nor fills the user's cache. Tests may still override it.
    previous = os.environ.get("VAEFLOW_CACHE_DIR")
    os.environ["VAEFLOW_CACHE_DIR"] = str(tmp_path_factory.mktemp("vaeflow-cache"))
    yield
    if previous is None:
        os.environ.pop("VAEFLOW_CACHE_DIR", None)
    else:
        os.environ["VAEFLOW_CACHE_DIR"] = previous


def pytest_collection_modifyitems(items):
    # A browser test starts a Streamlit server that imports TensorFlow: it is slow as well, so
    # the quick run `-m "not slow"` leaves it out whether or not it also says "not browser".
    for item in items:
        if item.get_closest_marker("browser") is not None:
            item.add_marker(pytest.mark.slow)
