"""How long a Stop takes: SIGTERM -> status.json "stopped" -> the training process gone.

    python benchmarks/bench_stop.py [--data stream|PATH.npz]

Starts a default-preset run through `JobRunner` in a temporary runs folder, waits for its first
metrics, sends SIGTERM and times the two phases (polled every 20 ms).
"""

import argparse
import os
import signal
import tempfile
import time
from pathlib import Path

import vaeflow
from vaeflow.training.runs import process_stat


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="stream")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as root:
        jobs = vaeflow.JobRunner(Path(root) / "runs")
        config = vaeflow.TrainConfig(epochs=500, batch_size=32, stream_epoch_size=4096,
                                     stream_val_size=512)
        run = jobs.start("stop", config, data=args.data)
        while not run.read_metrics():
            time.sleep(0.2)
        pid = run.read_status()["pid"]
        start = time.perf_counter()
        os.kill(pid, signal.SIGTERM)
        written = gone = None
        while gone is None:
            if written is None and run.read_status().get("state") == "stopped":
                written = time.perf_counter() - start
            stat = process_stat(pid)
            if stat is None or stat[0] in "ZX":
                gone = time.perf_counter() - start
            time.sleep(0.02)
        jobs.list_runs()  # reaps the child
        print(f"data={args.data}: status 'stopped' after {written:.2f} s, process gone after "
              f"{gone:.2f} s")


if __name__ == "__main__":
    main()
