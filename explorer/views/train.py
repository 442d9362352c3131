"""Train page: pick data and hyperparameters, start a background run, watch its ELBO live, compare.

Training never happens in this process: `JobRunner` launches `python -m vaeflow train` and
everything shown is read back from the run directories, so a reload or a second tab sees the
same runs. The live panel is a fragment that reruns on a timer, not the page.
"""

from __future__ import annotations

import zlib
from pathlib import Path

import streamlit as st

import vaeflow
from vaeflow.training import RunInProgressError, RunStartError
from explorer import data_store, runs_view
from explorer.training_plots import collapse_warning, elbo_figure, overlay_figure, progress
from explorer.widgets import PERSIST, STREAM, plan_text, train_config_ui

LIVE_SECONDS = 1.5
TABLE_SECONDS = 4.0
OVERLAY_METRICS = ("val_loss", "val_reconstruction", "val_kl", "loss", "reconstruction", "kl",
                   "r2_a", "r2_cos_theta", "r2_sin_theta")


@st.cache_resource
def runner(root: str) -> "vaeflow.JobRunner":
    """One runner per runs folder for the server's life: it reaps the processes it started."""
    return vaeflow.JobRunner(root)


@st.cache_resource
def device() -> str:
    return vaeflow.training_device()


def data_choices() -> list[tuple[str, str]]:
    """Saved 36-px datasets as (label, path), then the stream of fresh images.

    A damaged dataset stays a choice, labelled with its problem (Start refuses it): were it
    dropped, a choice made before the damage would silently fall back to another source."""
    choices = []
    for info in data_store.list_datasets():
        if info.error is not None:
            problem = info.error if len(info.error) <= 90 else info.error[:89] + "…"
            choices.append((f"{info.name} (damaged: {problem})", str(info.path)))
        elif (info.spec or {}).get("image_size") == 36:
            choices.append((f"{info.name} ({info.n_images:,} images)", str(info.path)))
    choices.append(("fresh images every epoch (stream)", STREAM))
    return choices


def flash(kind: str, text: str) -> None:
    """A message that survives the rerun after Start."""
    st.session_state["train.flash"] = (kind, text)


def start_run(root: str, name: str, config, model_config, data: str) -> None:
    """Launch the run, or say why not (never raises)."""
    # The file may have changed since the list was drawn: the run would fail in the background.
    problem = None if data == STREAM else data_store.describe(Path(data)).error
    if problem:
        flash("error", f"Cannot train on {Path(data).name}: {problem}")
        return
    try:
        run = runner(root).start(name, config, data=data, model_config=model_config)
    except RunInProgressError as error:
        flash("warning", f"A run is already going: {error}")
    except (ValueError, RunStartError) as error:  # RunStartError says "disk full (<path>)"
        flash("error", str(error))
    else:
        flash("success", f"Started {run.name}: it trains in the background; leave or reload "
                         "this page at will.")
        st.session_state["train.follow"] = run.name
        st.session_state["train.renew_name"] = True


def controls_ui(root: str) -> None:
    st.markdown(f"Training runs on **{device()}**.")
    config, model_config, data = train_config_ui(data_choices())
    # A started name is used up: offer a fresh one (set before the widget exists).
    if st.session_state.pop("train.renew_name", False) or "train.name" not in st.session_state:
        st.session_state["train.name"] = runs_view.new_run_name()
    name = st.text_input("run name", key="train.name", max_chars=64, persist_state=PERSIST)
    st.caption(plan_text(config, model_config, data))
    estimate_ui(root, config, model_config, data)
    # Started here in the script, not in a callback, so it uses the values just read.
    if st.button("Start", type="primary", key="train.start", icon=":material/play_arrow:"):
        start_run(root, name, config, model_config, data)
        st.rerun()
    message = st.session_state.pop("train.flash", None)
    if message:
        getattr(st, message[0])(message[1])


def estimate_ui(root: str, config, model_config, data: str) -> None:
    """How long the run would train on this device, before anyone presses Start."""
    n_images = None if data == STREAM else data_store.describe(Path(data)).n_images
    steps = runs_view.steps_per_epoch_estimate(config.replace(stream=data == STREAM).to_dict(), n_images)
    if not steps:
        return
    jobs = runner(root)
    runs = [(s, jobs.read_metrics(s.name)) for s in jobs.list_runs() if s.state != "broken"]
    rate = runs_view.measured_rate(model_config.preset, runs)
    source = "its last run here"
    if rate is None and device() == "CPU":
        rate, source = runs_view.CPU_IMAGES_PER_S.get(model_config.preset), "a 2-core CPU benchmark"
    seconds = runs_view.duration_estimate(config.epochs, steps * config.batch_size, rate)
    if seconds is None:
        st.caption(f"No training speed of the {model_config.preset} network on {device()} yet: "
                   "the first run will measure it.")
        return
    text = (f"About **{runs_view.duration_text(seconds)}** of training on {device()} "
            f"({rate:,.0f} images/s for the {model_config.preset} network, from {source}).")
    (st.warning if seconds > 3600 else st.caption)(text)


def live_ui(root: str, active: str | None) -> None:
    """The live panel; it refreshes itself on a timer only while a run is training."""
    st.fragment(run_every=LIVE_SECONDS if active else None)(live_panel)(root, active)


def live_panel(root: str, active: str | None) -> None:
    jobs = runner(root)
    summaries = jobs.list_runs()  # one scan of runs/ per refresh
    if active and not any(s.name == active and s.state == "running" for s in summaries):
        st.rerun(scope="app")  # the run ended: redraw the page once, then stop polling
    names = [s.name for s in summaries]
    if not names:
        st.info("No runs yet: pick the data and the hyperparameters, then press Start.")
        return
    # Follow the run just started or training now, unless the user picked another one.
    if st.session_state.get("train.follow") not in names:
        st.session_state["train.follow"] = active or names[0]
    name = st.selectbox("follow run", names, key="train.follow", persist_state=PERSIST)
    summary = next(s for s in summaries if s.name == name)
    if summary.state == "broken":
        st.subheader(f"{name} {runs_view.STATE_BADGES['broken']}")
        st.error(f"{name} cannot be shown: {summary.error}")
        actions_ui(jobs, summary, active)
        return
    records = jobs.read_metrics(name)
    config = jobs.run_dir(name).read_config().get("train", {})
    epochs = int(config.get("epochs", 1))
    data_path = Path(config["data"]) if config.get("data") else None
    n_images = data_store.describe(data_path).n_images if data_path and data_path.exists() else None
    where = progress(records, epochs, runs_view.steps_per_epoch_estimate(config, n_images))

    st.subheader(f"{name} {runs_view.STATE_BADGES.get(summary.state, summary.state)}")
    c = [st.container(horizontal=True, gap="medium")] * 5  # each metric at its own width
    c[0].metric("epochs", f"{where['epoch'] or 0} / {epochs}", help="completed / planned",
                width="content")
    c[1].metric("step", where["step"] if where["step"] is not None else "–", width="content")
    rate = where["images_per_s"]
    c[2].metric("img / s", ("–" if not rate else f"{rate / 1000:.1f}k" if rate >= 1000
                            else f"{rate:.0f}"), help="training images per second",
                width="content")
    c[3].metric("elapsed", runs_view.duration_text(summary.duration_s, compact=True),
                width="content")
    c[4].metric("ETA", runs_view.duration_text(where["eta_s"], compact=True)
                if summary.state == "running" else "–", width="content")
    if summary.state == "running" and where["fraction"] is not None:
        st.progress(where["fraction"])
    if summary.state == "running":
        stopping = st.session_state.get("train.stopping") == name
        if not stopping and st.button(
                "Stop", key="train.stop", icon=":material/stop:",
                help="Finish the current step, save a checkpoint and the model, then stop."):
            # Signalled, not waited for: the panel's timer shows the run end.
            stopping = jobs.request_stop(name)
            if stopping:
                st.session_state["train.stopping"] = name
        if stopping:
            st.info("Stopping: it finishes its step, validates, and saves a checkpoint and the "
                    "model.", icon=":material/hourglass_top:")
    else:
        actions_ui(jobs, summary, active)
    warning = collapse_warning(records)
    if warning:
        st.warning(warning, icon=":material/warning:")
    if summary.state == "failed":
        st.error(f"{name} failed: {runs_view.error_headline(summary.error)}")
        st.caption("The end of its log:")
        st.code(runs_view.log_tail(jobs.run_dir(name).log_tail(200)) or "(log.txt is empty)",
                language=None, wrap_lines=True)
    if records:
        st.plotly_chart(elbo_figure(records), key="train.live_figure",
                        config={"displayModeBar": False})
    elif summary.state == "running":
        st.caption("Waiting for the first metrics (TensorFlow starts and builds the model)…")


def actions_ui(jobs, summary, active: str | None) -> None:
    """Resume (a stopped or failed run, from its last checkpoint) and Delete, with a confirmation."""
    name = summary.name
    row = st.container(horizontal=True)  # buttons at their natural width, never clipped
    if summary.state in ("stopped", "failed"):
        if row.button("Resume", key="train.resume", icon=":material/play_circle:", disabled=active is not None,
                     help="Continue from its last checkpoint with its saved settings "
                          "(as `python -m vaeflow train --run-dir … --resume`)."
                          + (f" Wait for {active} to end first." if active else "")):
            try:
                jobs.start(name, None, resume=True)
            except (RunInProgressError, ValueError) as error:
                flash("error", f"Could not resume {name}: {error}")
            else:
                flash("success", f"Resumed {name} from its last checkpoint.")
                st.session_state.pop("train.stopping", None)
            st.rerun(scope="app")
    with row.popover("Delete", icon=":material/delete:"):
        st.markdown(f"Delete **{name}** with its checkpoints, model and logs? This cannot be undone.")
        if st.button(f"Delete {name}", key="train.delete", type="primary"):
            try:
                jobs.delete(name)
            except (RunInProgressError, ValueError) as error:
                flash("error", str(error))
            else:
                flash("success", f"Deleted {name}.")
                st.session_state.pop("train.follow", None)
            st.rerun(scope="app")


def runs_ui(root: str, active: str | None) -> None:
    """The runs table and overlay; refreshed on a timer only while a run is training."""
    st.fragment(run_every=TABLE_SECONDS if active else None)(runs_panel)(root)


def runs_panel(root: str) -> None:
    jobs = runner(root)
    summaries = jobs.list_runs()
    if not summaries:
        return
    st.subheader("Runs")
    metrics = {s.name: jobs.read_metrics(s.name) for s in summaries}
    rows = [runs_view.table_row(s, metrics[s.name]) for s in summaries]
    st.dataframe(rows, hide_index=True, key="train.runs_table", column_config={
        "run": st.column_config.Column(width="medium"),
        **{c: st.column_config.Column(width="small")
           for c in ("status", "epochs", "val KL", "val recon.", "time", "data", "model")},
        "best val ELBO": st.column_config.Column(help="highest validation ELBO, nats per image"),
        "val KL": st.column_config.Column(help="KL(q(z|x) ‖ p(z)) of the last epoch, nats; "
                                               "below ~1 the latent carries almost nothing"),
        "val recon.": st.column_config.Column(help="reconstruction NLL of the last epoch, nats"),
    })
    for summary in summaries:
        if summary.state == "broken":
            st.error(f"{summary.name} is broken: {summary.error}", icon=":material/error:")
    c1, c2 = st.columns([3, 1])
    names = [s.name for s in summaries]
    with_epochs = [n for n in names if any(r.get("kind") == "epoch" for r in metrics[n])]
    # keyed by the choices, so newly finished runs show up selected instead of staying out
    chosen = c1.multiselect("compare runs", with_epochs, default=with_epochs[:3],
                            key=f"train.compare.{zlib.crc32(' '.join(with_epochs).encode())}",
                            placeholder="runs with a finished epoch")
    metric = c2.selectbox("curve", OVERLAY_METRICS, key="train.compare_metric")
    if chosen:
        st.plotly_chart(overlay_figure({n: metrics[n] for n in chosen}, metric),
                        key="train.overlay", config={"displayModeBar": False})
    else:
        st.caption("Curves appear here once a run has finished an epoch.")


def main() -> None:
    st.title("Train")
    root = str(runs_view.runs_dir())
    left, right = st.columns([2, 3], gap="large")
    with left:
        controls_ui(root)
    active = runner(root).active_run()
    with right:
        live_ui(root, active)
    runs_ui(root, active)


main()
