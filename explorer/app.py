"""The vaeflow explorer: `streamlit run explorer/app.py` from the repository root, or `vaeflow app`.

This file only routes: it sets the page config and runs one of three pages. Explore opens
first because it is useful at once on the shipped pretrained model.
"""

import gc
from pathlib import Path

import streamlit as st

# Not "pages": a pages/ folder beside the entrypoint puts Streamlit in its legacy multipage
# mode, where a first deep link such as /train runs that file alone, without this navigation.
VIEWS_DIR = Path(__file__).resolve().parent / "views"


@st.cache_resource(show_spinner=False)
def freeze_heap() -> bool:
    """Once per server, after a first page run: move every object alive (TensorFlow's modules,
    the compiled functions that run built) out of the cyclic collector's sight. Streamlit calls
    Keras's clear_session after every run, which collects; over TensorFlow's ~5·10⁵ objects
    that took 0.7 s on the loaded 2-core box (and gc.collect(2), now off in config.toml,
    1 s), on every Dataset control change (issue 10)."""
    gc.freeze()
    return True


def main() -> None:
    st.set_page_config(page_title="vaeflow explorer", page_icon="🔥", layout="wide")
    pages = [
        st.Page(VIEWS_DIR / "dataset.py", title="Dataset", icon=":material/grid_view:"),
        st.Page(VIEWS_DIR / "train.py", title="Train", icon=":material/model_training:"),
        st.Page(
            VIEWS_DIR / "explore.py", title="Explore", icon=":material/explore:", default=True
        ),
    ]
    page = st.navigation(pages)
    st.sidebar.caption("vaeflow: what a VAE with a 2-D latent learned about flow densities.")
    page.run()
    freeze_heap()


main()
