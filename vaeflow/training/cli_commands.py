"""The ``train`` and ``evaluate`` subcommands of ``python -m vaeflow``.

`add_train_parser` / `add_evaluate_parser` register them on the CLI's subparsers; each parsed
namespace carries its handler in ``args.run`` (returns the process exit code).

    python -m vaeflow train --data data/flow.npz --run-dir runs/NAME [--preset default|study]
        [--epochs E] [--batch-size B] [--beta β] [--lr LR] [--seed S] [--latent-dim L]
        [--stream [--stream-epoch-size N] [--stream-val-size N]] [--resume] ...
    python -m vaeflow evaluate --model runs/NAME --data data/flow.npz
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

# CLI flag -> TrainConfig field. Every flag defaults to None, so only what the user typed
# overrides the preset (or, with --resume, the run's saved config).
_TRAIN_FLAGS = {
    "epochs": ("epochs", int, "maximum number of epochs"),
    "batch_size": ("batch_size", int, "global batch size"),
    "beta": ("beta", float, "KL weight β in loss = reconstruction + β·kl"),
    "lr": ("learning_rate", float, "Adam learning rate (peak, for --lr-schedule cosine)"),
    "lr_schedule": ("lr_schedule", str, "constant | cosine"),
    "seed": ("seed", int, "seed for initialisation, shuffles, noise and streamed data"),
    "patience": ("patience", int, "early stopping: epochs without a lower val_loss"),
    "steps_per_window": ("steps_per_window", int, "steps per windowed metrics record"),
    "val_fraction": ("val_fraction", float, "share of --data held out for validation"),
    "split_seed": ("split_seed", int, "seed of the train/validation split of --data "
                                      "(default: --seed)"),
    "stream_epoch_size": ("stream_epoch_size", int, "fresh images per epoch with --stream"),
    "stream_val_size": ("stream_val_size", int, "held-out validation images with --stream"),
    "stream_repeats": ("stream_repeats", int, "epochs trained on each rendered set with --stream"),
    "time_limit": ("time_limit_s", float, "stop after this many seconds of training"),
    "checkpoint_every": ("checkpoint_every_s", float, "checkpoint at least every this many seconds"),
    "beta_warmup_epochs": ("beta_warmup_epochs", float, "KL warm-up: β rises linearly from 0 "
                                                        "over this many epochs"),
    "lr_warmup_epochs": ("lr_warmup_epochs", float, "learning rate rises linearly from 0 over "
                                                    "this many epochs"),
    "init_from": ("init_from", str, "start from this model's weights (model or run directory); "
                                    "layers it lacks, such as a flow prior, start fresh"),
    "jit": ("jit_compile", str, "XLA for the train step: auto | on | off"),
    "distribute": ("distribute", str, "auto | none | mirrored | multi_worker"),
}
_MODEL_FLAGS = {"latent_dim": "latent_dim", "likelihood": "likelihood", "prior": "prior",
                "prior_layers": "prior_layers", "prior_hidden": "prior_hidden",
                "prior_coupling": "prior_coupling"}


def add_train_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "train", help="train a VAE into a run directory",
        description="Train a VAE; writes config.json, metrics.jsonl, status.json, log.txt, "
                    "checkpoints/, model/ and tb/ into --run-dir.")
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--data", help="dataset .npz (split into train/validation)")
    source.add_argument("--stream", action="store_true", default=None,
                        help="train on freshly rendered images (a new set every epoch)")
    parser.add_argument("--run-dir", required=True, help="runs/NAME: where the run's files go")
    parser.add_argument("--preset", choices=("default", "study"), default=None,
                        help="architecture and recipe (default: default)")
    parser.add_argument("--config", help="JSON file {'train': {...}, 'model': {...}} to start from")
    for flag, (_, kind, text) in _TRAIN_FLAGS.items():
        parser.add_argument("--" + flag.replace("_", "-"), type=kind, default=None, help=text)
    parser.add_argument("--latent-dim", type=int, default=None, help="latent size L (default 2)")
    parser.add_argument("--likelihood", default=None, help="bernoulli | continuous_bernoulli")
    parser.add_argument("--prior", default=None, help="normal | flow (p(z) = N(0, I) or a learned flow)")
    parser.add_argument("--prior-layers", type=int, default=None, help="coupling layers of a flow prior")
    parser.add_argument("--prior-hidden", type=int, default=None,
                        help="hidden width of each flow-prior coupling's network")
    parser.add_argument("--prior-coupling", default=None, help="spline | affine")
    parser.add_argument("--mixed-precision", action="store_true", default=None,
                        help="float16 compute (GPU only)")
    parser.add_argument("--resume", action="store_true",
                        help="continue the run in --run-dir from its last checkpoint")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.set_defaults(run=run_train)
    return parser


def add_evaluate_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "evaluate", help="print a model's held-out metrics as JSON",
        description="Evaluate a model (a run directory, a model directory, or the pretrained "
                    "default) on a dataset and print the metrics as JSON.")
    parser.add_argument("--model", default=None, help="runs/NAME or a model directory "
                        "(default: the pretrained model)")
    parser.add_argument("--data", required=True, help="dataset .npz to evaluate on")
    parser.add_argument("--iwae-k", type=int, default=512,
                        help="importance samples of the IWAE bound; 0 skips it (default 512)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the metrics' sampling")
    parser.add_argument("--output", default=None, help="also write the JSON to this file")
    parser.set_defaults(run=run_evaluate)
    return parser


def add_export_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "export", help="copy a run's model into a model directory",
        description="Copy the model of a run (or a model directory) to --out, optionally with "
                    "float16 weights (half the size; the network still computes in float32). "
                    "This is how pretrained/ is made from a run.")
    parser.add_argument("--model", required=True, help="runs/NAME or a model directory")
    parser.add_argument("--out", required=True, help="directory to write config.json and weights.npz to")
    from vaeflow.models.io import WEIGHT_DTYPES

    parser.add_argument("--weights-dtype", choices=WEIGHT_DTYPES, default="float32",
                        help="storage precision of the weights (default float32)")
    parser.set_defaults(run=run_export)
    return parser


def configs_from_args(args: argparse.Namespace) -> tuple[Any, Any]:
    """(TrainConfig, ModelConfig) from the preset (or --config, or the saved run with --resume)
    with the typed flags applied on top. Bad values raise ValueError naming the field.
    """
    from vaeflow.models import ModelConfig
    from vaeflow.training.config import TrainConfig
    from vaeflow.training.runs import RunDir

    if args.resume:
        saved = RunDir.from_path(args.run_dir).read_config()
        if not saved:
            raise ValueError(f"--run-dir {args.run_dir} has no config.json to resume")
    elif args.config:
        saved = json.loads(Path(args.config).read_text())
    else:
        saved = {}
    preset = args.preset or saved.get("model", {}).get("preset") or "default"
    # the preset's recipe, then the file's (or saved run's) values, then the typed flags
    train_values = {**TrainConfig.preset(preset).to_dict(), **saved.get("train", {})}
    model_values = {"preset": preset, **saved.get("model", {})}
    if args.preset and saved and args.preset != model_values.get("preset"):
        raise ValueError(f"--preset {args.preset} differs from the saved model preset "
                         f"{model_values.get('preset')!r}")
    for flag, (field, _, _) in _TRAIN_FLAGS.items():
        if getattr(args, flag) is not None:
            train_values[field] = getattr(args, flag)
    if args.data is not None:
        train_values.update(data=args.data, stream=False)
    if args.stream:
        train_values.update(stream=True, data=None)
    if args.mixed_precision:
        train_values["mixed_precision"] = True
    for flag, field in _MODEL_FLAGS.items():
        if getattr(args, flag) is not None:
            model_values[field] = getattr(args, flag)
    return TrainConfig.from_dict(train_values), ModelConfig.from_dict(model_values)


def run_train(args: argparse.Namespace) -> int:
    from vaeflow.devices import training_device
    from vaeflow.training.loop import train
    from vaeflow.training.trainer import NonFiniteLossError

    try:
        config, model_config = configs_from_args(args)
        if not config.stream and not config.data:
            raise ValueError("give --data PATH or --stream")
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(f"training on {training_device()} -> {args.run_dir}", file=sys.stderr, flush=True)
    try:
        result = train(config, model_config, args.run_dir, resume=args.resume,
                       progress=not args.no_progress, echo=True)
    except (ValueError, OSError, NonFiniteLossError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(json.dumps({"state": result.state, "reason": result.reason, "step": result.step,
                      "epoch": result.epoch, "best_val_loss": result.best_val_loss}))
    return 0


def run_evaluate(args: argparse.Namespace) -> int:
    from vaeflow.datasets import load_dataset
    from vaeflow.metrics import evaluate
    from vaeflow.models import load_model

    try:
        model = load_model(args.model)
        dataset = load_dataset(args.data)
        metrics = evaluate(model, dataset, iwae_k=args.iwae_k, seed=args.seed)
    except (ValueError, OSError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    text = json.dumps(metrics, indent=2, sort_keys=True, default=float)
    if args.output:
        from vaeflow.io import write_text_atomic

        write_text_atomic(args.output, text + "\n")
    print(text)
    return 0


def run_export(args: argparse.Namespace) -> int:
    from vaeflow.models import load_model, save_model
    from vaeflow.models.io import CONFIG_FILE, WEIGHTS_FILE

    try:
        model = load_model(args.model)
    except (ValueError, OSError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    try:
        out = save_model(model, args.out, weights_dtype=args.weights_dtype)
    except ValueError as error:  # a weight that does not fit the storage dtype
        print(f"error: {error}", file=sys.stderr)
        return 2
    except OSError as error:
        print(f"error: cannot write the model to {args.out}: {error.strerror or error}", file=sys.stderr)
        return 2
    size = sum((out / name).stat().st_size for name in (CONFIG_FILE, WEIGHTS_FILE))
    print(f"wrote {out} ({size / 1e6:.2f} MB, {args.weights_dtype} weights)")
    return 0
