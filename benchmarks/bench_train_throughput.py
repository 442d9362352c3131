"""Training throughput, default preset vs the study's, through the same trainer, side by side.

Each preset trains with its own recipe's batch size (`TrainConfig.preset`: default 128, study 32)
through `vaeflow.training.trainer.Trainer.train_step`, the code `python -m vaeflow train` runs.
Timing windows alternate between the two models, so load from other processes on the machine
hits both alike; the ratio of medians is the figure (target: ≥ 100×).

    python benchmarks/bench_train_throughput.py [--rounds 3] [--seconds 8] [--jit off|on|both]

`--jit both` also times the default model with XLA (`jit_compile="on"`) in the same rounds,
to show whether XLA helps on this CPU; the ratio always compares like with like (`--jit off`
unless `on` is asked for).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

from vaeflow.models import VAE, ModelConfig  # noqa: E402
from vaeflow.training.config import TrainConfig  # noqa: E402
from vaeflow.training.trainer import Trainer  # noqa: E402


def make_trainer(preset: str, jit: str) -> tuple[Trainer, np.ndarray]:
    config = TrainConfig.preset(preset, jit_compile=jit)
    trainer = Trainer(lambda: VAE(ModelConfig(preset=preset)), config, steps_per_epoch=1000)
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (64 * config.batch_size, 36, 36, 3), dtype=np.uint8)
    return trainer, images


def images_per_second(trainer: Trainer, images: np.ndarray, seconds: float, min_steps: int) -> float:
    """Images per second over whole steps, for at least `seconds` and `min_steps` steps."""
    batches = iter(trainer.distribute(images))
    steps, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds or steps < min_steps:
        try:
            batch = next(batches)
        except StopIteration:
            batches = iter(trainer.distribute(images))
            batch = next(batches)
        trainer.train_step(batch)  # returns floats: the step has finished
        steps += 1
    return steps * trainer.config.batch_size / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=8.0, help="per model per round")
    parser.add_argument("--jit", choices=("off", "on", "both"), default="off")
    args = parser.parse_args()

    jit = "on" if args.jit == "on" else "off"
    trainers = {preset: make_trainer(preset, jit) for preset in ("default", "study")}
    if args.jit == "both":
        trainers["default+xla"] = make_trainer("default", "on")
    for trainer, images in trainers.values():  # trace and warm up outside the timing
        images_per_second(trainer, images, seconds=0.0, min_steps=3)
    rates: dict[str, list[float]] = {preset: [] for preset in trainers}
    for _ in range(args.rounds):
        for preset, (trainer, images) in trainers.items():
            rates[preset].append(images_per_second(trainer, images, args.seconds, min_steps=4))
    median = {preset: statistics.median(r) for preset, r in rates.items()}
    result = {
        "benchmark": "train_throughput",
        "jit_compile": jit,
        "batch_size": {p: trainers[p][0].config.batch_size for p in trainers},
        "parameters": {p: trainers[p][0].model.count_params() for p in trainers},
        "images_per_s": {p: [round(r, 1) for r in rates[p]] for p in trainers},
        "median_images_per_s": {p: round(m, 1) for p, m in median.items()},
        "ratio_default_over_study": round(median["default"] / median["study"], 1),
        "target_ratio": 100,
        "cpu_load_1min": os.getloadavg()[0],
    }
    if "default+xla" in median:
        result["xla_speedup_default"] = round(median["default+xla"] / median["default"], 2)
    result["pass"] = result["ratio_default_over_study"] >= result["target_ratio"]
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
