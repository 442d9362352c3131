"""What fsync costs a run: checkpoint saves, model saves and status writes with and without it.

    python benchmarks/bench_fsync.py [--saves 20] [--preset default] [--dir DIR]

A run directory (in DIR, default a temporary folder beside the working directory, so on the same
disk as runs/) gets the default model with its Adam slots, as a training run checkpoints it.
Saves alternate between the code as it is and the same code with `os.fsync` made a no-op (the
code before fsync was added), so both see the same disk load; each starts from a clean page
cache (an untimed `os.sync()`), so a save without fsync does not pay for the one before it.
What is timed is what the training loop waits for; medians are printed with ratios.
"""

import argparse
import os
import statistics
import tempfile
import time

import keras
import numpy as np
import tensorflow as tf

from vaeflow.models import VAE, ModelConfig
from vaeflow.models.io import build
from vaeflow.training.callbacks import save_model_atomic
from vaeflow.training.checkpoints import StepCheckpoints
from vaeflow.training.runs import RunDir


def timed(action) -> float:
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--saves", type=int, default=20)
    parser.add_argument("--preset", default="default")
    parser.add_argument("--dir", default=".")
    args = parser.parse_args()
    model = build(VAE(ModelConfig(preset=args.preset)))
    optimizer = keras.optimizers.Adam(1e-3)
    optimizer.build(model.trainable_variables)
    checkpoint = tf.train.Checkpoint(model=model, optimizer=optimizer)
    real_fsync = os.fsync
    in_fsync = [0.0]  # seconds spent inside os.fsync by the current save

    def timed_fsync(fd: int) -> None:
        start = time.perf_counter()
        real_fsync(fd)
        in_fsync[0] += time.perf_counter() - start

    whats = ("checkpoint", "model", "status")
    times = {(what, synced): [] for what in whats for synced in (True, False)}
    fsync_times = {what: [] for what in whats}
    with tempfile.TemporaryDirectory(dir=args.dir, prefix=".bench-fsync-") as root:
        run = RunDir(root, "bench").create()
        checkpoints = StepCheckpoints(run.checkpoints_dir, checkpoint)
        checkpoints.save(0, {})  # the first save builds the manager: not timed
        for i in range(2 * args.saves):
            synced = i % 2 == 0
            os.fsync = timed_fsync if synced else (lambda fd: None)
            try:
                actions = {"checkpoint": lambda step=i + 1: checkpoints.save(step, {"epoch": 0}),
                           "model": lambda: save_model_atomic(model, run.model_dir),
                           "status": lambda: run.write_status("running", pid=os.getpid())}
                for what, action in actions.items():
                    os.sync()
                    in_fsync[0] = 0.0
                    times[what, synced].append(timed(action))
                    if synced:
                        fsync_times[what].append(in_fsync[0])
            finally:
                os.fsync = real_fsync
        size = sum(p.stat().st_size for p in run.checkpoints_dir.glob("ckpt-*")) / 1e6
    print(f"{args.preset} model, {size:.1f} MB per checkpoint, {args.saves} saves each, "
          f"alternating; medians:")
    for what in whats:
        with_sync, without = (np.percentile(times[what, synced], [25, 50, 75]) * 1e3
                              for synced in (True, False))
        inside = statistics.median(fsync_times[what]) * 1e3
        print(f"  {what:<10} median (quartiles) without fsync {without[1]:7.1f} ms "
              f"({without[0]:.0f}-{without[2]:.0f}), with fsync {with_sync[1]:7.1f} ms "
              f"({with_sync[0]:.0f}-{with_sync[2]:.0f}), ratio {with_sync[1] / without[1]:4.2f}; "
              f"inside os.fsync {inside:6.1f} ms per save")

if __name__ == "__main__":
    main()
