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

from vaeflow import validate
from vaeflow.cli_errors import CommandError, UsageError, guarded, one_line

_int, _float = validate.flag_int, validate.flag_float

# CLI flag -> TrainConfig field. Every flag defaults to None, so only what the user typed
# overrides the preset (or, with --resume, the run's saved config).
_TRAIN_FLAGS = {
    "epochs": ("epochs", _int, "maximum number of epochs"),
    "batch_size": ("batch_size", _int, "global batch size"),
    "beta": ("beta", _float, "KL weight β in loss = reconstruction + β·kl"),
    "lr": ("learning_rate", _float, "Adam learning rate (peak, for --lr-schedule cosine)"),
    "lr_schedule": ("lr_schedule", str, "constant | cosine"),
    "seed": ("seed", _int, "seed for initialisation, shuffles, noise and streamed data"),
    "patience": ("patience", _int, "early stopping: epochs without a lower val_loss"),
    "steps_per_window": ("steps_per_window", _int, "steps per windowed metrics record"),
    "val_fraction": ("val_fraction", _float, "share of --data held out for validation"),
    "split_seed": ("split_seed", _int, "seed of the train/validation split of --data "
                                      "(default: --seed)"),
    "stream_epoch_size": ("stream_epoch_size", _int, "fresh images per epoch with --stream"),
    "stream_val_size": ("stream_val_size", _int, "held-out validation images with --stream"),
    "stream_repeats": ("stream_repeats", _int, "epochs trained on each rendered set with --stream"),
    "time_limit": ("time_limit_s", _float, "stop after this many seconds of training"),
    "checkpoint_every": ("checkpoint_every_s", _float, "checkpoint at least every this many seconds"),
    "beta_warmup_epochs": ("beta_warmup_epochs", _float, "KL warm-up: β moves linearly from "
                                                         "--beta-start over this many epochs"),
    "beta_start": ("beta_start", _float, "β at the start of the KL warm-up (default 0; above "
                                         "--beta anneals down)"),
    "prior_warmup_epochs": ("prior_warmup_epochs", _float, "a flow prior stays N(0, I) for this "
                                                           "many epochs, then learns"),
    "lr_warmup_epochs": ("lr_warmup_epochs", _float, "learning rate rises linearly from 0 over "
                                                     "this many epochs"),
    "init_from": ("init_from", str, "start from this model's weights (model or run directory); "
                                    "layers it lacks, such as a flow prior, start fresh"),
    "encoder_init": ("encoder_init", str, "random | pca: start q(z|x)'s mean at the images' "
                                          "principal components"),
    "jit": ("jit_compile", str, "XLA for the train step: auto | on | off"),
    "distribute": ("distribute", str, "auto | none | mirrored | multi_worker"),
}
# `train`'s exit code when another process is training the run (nothing was changed).
EXIT_RUN_LOCKED = 3
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
    parser.add_argument("--latent-dim", type=_int, default=None, help="latent size L (default 2)")
    parser.add_argument("--likelihood", default=None, help="bernoulli | continuous_bernoulli")
    parser.add_argument("--prior", default=None, help="normal | flow (p(z) = N(0, I) or a learned flow)")
    parser.add_argument("--prior-layers", type=int, default=None, help="coupling layers of a flow prior")
    parser.add_argument("--prior-hidden", type=int, default=None,
                        help="hidden width of each flow-prior coupling's network")
    parser.add_argument("--prior-coupling", default=None, help="spline | affine")
    parser.add_argument("--mixed-precision", action="store_true", default=None,
                        help="float16 compute (GPU only)")
    parser.add_argument("--resume", action="store_true",
                        help="continue the run in --run-dir from its last good checkpoint")
    parser.add_argument("--restart", action="store_true",
                        help="train the run in --run-dir again from step 0 with its saved config "
                             "(and any flags given), deleting its metrics, model and checkpoints")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.set_defaults(run=guarded(run_train))
    return parser


def add_evaluate_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "evaluate", help="print a model's held-out metrics as JSON",
        description="Evaluate a model (a run directory, a model directory, or the pretrained "
                    "default) on a dataset and print the metrics as JSON.")
    parser.add_argument("--model", default=None, help="runs/NAME or a model directory "
                        "(default: the pretrained model)")
    parser.add_argument("--data", default=None,
                        help="dataset .npz to evaluate on (default: --n fresh images of the flow "
                             "the model was trained on, read from its run)")
    parser.add_argument("--n", type=_int, default=2000,
                        help="images rendered when --data is not given (default 2000)")
    parser.add_argument("--data-seed", type=_int, default=90_210,
                        help="seed of those images (default 90210, the Explore page's held-out set)")
    parser.add_argument("--iwae-k", type=_int, default=512,
                        help="importance samples of the IWAE bound; 0 skips it (default 512)")
    parser.add_argument("--seed", type=_int, default=0, help="seed of the metrics' sampling")
    parser.add_argument("--output", default=None, help="also write the JSON to this file")
    parser.set_defaults(run=guarded(run_evaluate))
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
    parser.set_defaults(run=guarded(run_export))
    return parser


def _config_object(path: Path, label: str) -> dict[str, Any]:
    """The JSON object ``{"train": {...}, "model": {...}}`` in `path`; UsageError naming
    `label` and the file for anything else (unreadable, not JSON, a list, null, …)."""
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise UsageError(f"{label} {path}: {error.strerror or error}") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise UsageError(f"{label} {path} is not valid JSON: {error}") from None
    except RecursionError:
        raise UsageError(f"{label} {path} is nested too deeply to be a config") from None
    if not isinstance(value, dict):
        raise UsageError(f"{label} {path} must hold a JSON object {{\"train\": {{...}}, "
                         f"\"model\": {{...}}}}, got {_json_kind(value)}")
    for key in ("train", "model"):
        if not isinstance(value.get(key, {}), dict):
            raise UsageError(f"{label} {path}: {key!r} must be a JSON object, got {_json_kind(value[key])}")
    return value


def _json_kind(value: Any) -> str:
    names = {dict: "an object", list: "a list", str: "a string", bool: "a boolean", type(None): "null"}
    return names.get(type(value), "a number")


def configs_from_args(args: argparse.Namespace) -> tuple[Any, Any]:
    """(TrainConfig, ModelConfig) from the preset (or --config, or the saved run with --resume)
    with the typed flags applied on top. Bad values raise ValueError naming the field.
    """
    from vaeflow.models import ModelConfig
    from vaeflow.training.config import TrainConfig
    from vaeflow.training.runs import RunDir

    if args.resume or args.restart:
        flag = "--restart" if args.restart else "--resume"
        path = RunDir.from_path(args.run_dir).config_path
        if not path.exists():
            raise UsageError(f"--run-dir {args.run_dir} has no config.json to {flag[2:]} ({flag})")
        saved = _config_object(path, "--run-dir's config.json")
    elif args.config:
        saved = _config_object(Path(args.config), "--config")
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
    from vaeflow.io import describe_os_error, is_disk_full
    from vaeflow.training.data import check_source
    from vaeflow.training.loop import train
    from vaeflow.training.runs import RunLockedError
    from vaeflow.training.trainer import NonFiniteLossError

    config, model_config = configs_from_args(args)
    if not config.stream and not config.data:
        raise UsageError("give --data PATH or --stream")
    # The data file's header and the memory estimate, before the run directory is touched.
    check_source(config, model_config.image_size)
    print(f"training on {training_device()} -> {args.run_dir}", file=sys.stderr, flush=True)
    try:
        result = train(config, model_config, args.run_dir, resume=args.resume or args.restart,
                       restart=args.restart, progress=not args.no_progress, echo=True)
    except RunLockedError as error:
        raise CommandError(str(error), EXIT_RUN_LOCKED) from None
    except (ValueError, OSError, MemoryError, NonFiniteLossError) as error:
        raise CommandError(describe_os_error(error, args.run_dir) if is_disk_full(error)
                           else one_line(error)) from None
    except Exception as error:  # TensorFlow reports a full disk as its own error types
        if not is_disk_full(error):
            raise
        raise CommandError(describe_os_error(error, args.run_dir)) from None
    print(json.dumps({"state": result.state, "reason": result.reason, "step": result.step,
                      "epoch": result.epoch, "best_val_loss": result.best_val_loss}))
    return 0


def run_evaluate(args: argparse.Namespace) -> int:
    from vaeflow.datasets import generate_dataset, load_dataset
    from vaeflow.metrics import evaluate
    from vaeflow.models import PRETRAINED_DIR, load_model
    from vaeflow.training.provenance import run_data_source

    validate.seed("--seed", args.seed)
    validate.seed("--data-seed", args.data_seed)
    model = load_model(args.model)
    source = run_data_source(args.model if args.model is not None else PRETRAINED_DIR)
    for warning in source.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    if args.data is not None:
        dataset = load_dataset(args.data)
        if dataset.spec != source.spec:
            print(f"warning: --data {args.data} was rendered with another flow spec than the "
                  f"model was trained on", file=sys.stderr)
    else:
        # Fresh images of the model's own flow, from a seed no training run uses by default.
        dataset = generate_dataset(validate.integer("--n", args.n, low=2), args.data_seed, source.spec)
    metrics = evaluate(model, dataset, iwae_k=args.iwae_k, seed=args.seed)
    text = json.dumps(metrics, indent=2, sort_keys=True, default=float)
    if args.output:
        from vaeflow.io import write_text_atomic

        write_text_atomic(args.output, text + "\n")
    print(text)
    return 0


def run_export(args: argparse.Namespace) -> int:
    from vaeflow.models import load_model, save_model
    from vaeflow.models.io import CONFIG_FILE, WEIGHTS_FILE

    model = load_model(args.model)
    try:
        out = save_model(model, args.out, weights_dtype=args.weights_dtype)
    except OSError as error:
        raise UsageError(f"cannot write the model to {args.out}: {error.strerror or error}") from None
    size = sum((out / name).stat().st_size for name in (CONFIG_FILE, WEIGHTS_FILE))
    print(f"wrote {out} ({size / 1e6:.2f} MB, {args.weights_dtype} weights)")
    return 0
