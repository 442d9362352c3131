"""The vaeflow explorer: `streamlit run explorer/app.py` from the repository root, or `vaeflow app`.

This file only routes: it sets the page config and runs one of three pages. Explore opens
first because it is useful at once on the shipped pretrained model.
"""

from pathlib import Path

import streamlit as st

# Not "pages": a pages/ folder beside the entrypoint puts Streamlit in its legacy multipage
# mode, where a first deep link such as /train runs that file alone, without this navigation.
VIEWS_DIR = Path(__file__).resolve().parent / "views"


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


main()
