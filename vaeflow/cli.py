"""``python -m vaeflow <command>``: one small function per subcommand, registered on a subparsers object.

Bad input exits with status 2 and a one-line ``error: …`` message naming the flag, no traceback.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time
import typing

from vaeflow import validate
from vaeflow.cli_errors import ArgumentParser, UsageError, guarded
from vaeflow.flows.spec import FlowSpec
from vaeflow.training.cli_commands import add_evaluate_parser, add_export_parser, add_train_parser

__all__ = ["UsageError", "build_parser", "main"]


# ---------------------------------------------------------------------------------------- generate


def _spec_flag_type(field: dataclasses.Field):
    """argparse `type` and `nargs` for a FlowSpec field (types are strings under `from __future__`)."""
    kind = str(field.type)
    if kind.startswith("tuple"):
        return float, 2
    if kind == "bool":
        return _parse_bool, None
    if kind == "int":
        return int, None
    if kind == "str":
        return str, None
    return float, None


def _parse_bool(text: str) -> bool:
    value = text.strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off"):
        return False
    raise argparse.ArgumentTypeError(f"expected true/false, got {text!r}")


def add_spec_flags(parser: argparse.ArgumentParser) -> None:
    """One flag per FlowSpec field (``--base-scale``, ``--shift X Y``, ``--tanh true``, …)."""
    group = parser.add_argument_group("flow spec (defaults: the study's chain)")
    defaults = FlowSpec()
    for field in dataclasses.fields(FlowSpec):
        kind, nargs = _spec_flag_type(field)
        default = getattr(defaults, field.name)
        shown = " ".join(map(str, default)) if isinstance(default, tuple) else default
        group.add_argument(
            "--" + field.name.replace("_", "-"),
            dest="spec_" + field.name,
            type=kind,
            nargs=nargs,
            default=None,
            metavar=("X", "Y") if nargs == 2 else field.name.upper(),
            help=f"default {shown}" + (f"; one of {', '.join(FlowSpec.cmaps())}" if field.name == "cmap" else ""),
        )


def spec_from_args(args: argparse.Namespace, base: FlowSpec | None = None) -> FlowSpec:
    """The FlowSpec the flags describe (unset flags keep `base`'s values); UsageError when invalid."""
    base = base or FlowSpec()
    changes = {
        f.name: getattr(args, "spec_" + f.name)
        for f in dataclasses.fields(FlowSpec)
        if getattr(args, "spec_" + f.name, None) is not None
    }
    try:
        return dataclasses.replace(base, **changes)
    except ValueError as err:
        # FlowSpec's messages name the field ("FlowSpec.base_scale must be > 0"); show the flag too.
        message = str(err)
        for name in changes:
            if f"FlowSpec.{name} " in message:
                message = f"--{name.replace('_', '-')}: {message}"
                break
        raise UsageError(message) from None


def _register_generate(subparsers) -> None:
    p = subparsers.add_parser(
        "generate",
        help="render a seeded flow dataset to .npz",
        description="Draw N factor pairs (a, θ) from SEED, render their images and save them as .npz.",
    )
    p.add_argument("--n", type=validate.flag_int, default=20000, help="number of images (default 20000)")
    p.add_argument("--seed", type=validate.flag_int, default=0, help="random seed (default 0)")
    p.add_argument("--out", required=True, help="output .npz path (written atomically)")
    p.add_argument("--overwrite", action="store_true", help="replace --out if it exists")
    p.add_argument("--chunk-size", type=validate.flag_int, default=2048,
                   help="images per render call (default 2048)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    add_spec_flags(p)
    p.set_defaults(run=guarded(run_generate))


def run_generate(args: argparse.Namespace) -> int:
    import os

    from vaeflow.datasets import check_memory, dataset_bytes, generate_dataset, save_dataset
    from vaeflow.io import describe_os_error

    spec = spec_from_args(args)
    validate.integer("--n", args.n, low=1)
    validate.seed("--seed", args.seed)
    validate.integer("--chunk-size", args.chunk_size, low=1)
    if not args.out.endswith(".npz"):
        raise UsageError(f"--out must end with .npz, got {args.out!r}")
    if os.path.exists(args.out) and not args.overwrite:
        raise UsageError(f"--out {args.out} exists; pass --overwrite to replace it")
    check_memory(f"--n {args.n:,} images of {spec.image_size}x{spec.image_size}",
                 dataset_bytes(args.n, spec.image_size))

    bar = None
    if not args.no_progress:
        from tqdm import tqdm

        bar = tqdm(total=args.n, unit="img", desc="rendering", file=sys.stderr)

    def progress(done: int, total: int) -> None:
        if bar is not None:
            bar.update(done - bar.n)

    start = time.perf_counter()
    try:
        ds = generate_dataset(args.n, args.seed, spec, chunk_size=args.chunk_size, progress=progress)
    finally:
        if bar is not None:
            bar.close()
    seconds = time.perf_counter() - start
    try:
        save_dataset(ds, args.out, overwrite=args.overwrite)
    except OSError as error:  # nothing is left behind: save_dataset writes atomically
        raise OSError(describe_os_error(error, args.out)) from None
    print(
        f"wrote {args.out}: {len(ds)} images {spec.image_size}x{spec.image_size}x3, seed {args.seed}; "
        f"rendered in {seconds:.2f} s ({len(ds) / seconds:,.0f} images/s)"
    )
    return 0


# --------------------------------------------------------------------------------------------- app


def _register_app(subparsers) -> None:
    p = subparsers.add_parser(
        "app",
        help="start the explorer (Streamlit) on http://localhost:8501",
        description="Start the explorer's web server in this terminal (Ctrl-C stops it). It has no "
        "authentication, so it listens on 127.0.0.1 unless --host says otherwise.",
    )
    p.add_argument("--port", type=int, default=8501, help="port to listen on (default 8501)")
    p.add_argument("--host", default="127.0.0.1",
                   help="address to listen on (default 127.0.0.1; 0.0.0.0 exposes the app, with no "
                        "authentication, to every machine that can reach this one)")
    p.add_argument("--data-dir", default=None,
                   help="datasets folder (default $VAEFLOW_DATA_DIR, else $VAEFLOW_HOME/data, else ./data)")
    p.add_argument("--runs-dir", default=None,
                   help="runs folder (default $VAEFLOW_RUNS_DIR, else $VAEFLOW_HOME/runs, else ./runs)")
    p.set_defaults(run=guarded(run_app))


def run_app(args: argparse.Namespace) -> int:
    # Imported here: vaeflow itself never needs the explorer or Streamlit.
    try:
        from explorer import launch
    except ModuleNotFoundError as err:  # installed without the explorer package
        raise UsageError(f"the explorer is not installed ({err})") from None
    try:
        return launch.run(args.host, args.port, args.data_dir, args.runs_dir)
    except ModuleNotFoundError as err:
        raise UsageError(f"vaeflow app needs the app extra: pip install 'vaeflow[app]' ({err})") from None


# -------------------------------------------------------------------------------------------- main

# Each subcommand registers its parser (generate and app here; train, evaluate, export in
# vaeflow/training/cli_commands.py); a new one adds its registrar to this list.
REGISTRARS: list[typing.Callable] = [
    _register_generate, add_train_parser, add_evaluate_parser, add_export_parser, _register_app,
]


def build_parser() -> argparse.ArgumentParser:
    parser = ArgumentParser(prog="python -m vaeflow", description=__doc__.splitlines()[0])
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for register in REGISTRARS:
        register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Parse `argv` and run the subcommand; its exit status (see `vaeflow.cli_errors`)."""
    args = build_parser().parse_args(argv)  # a malformed flag: one error line, exit 2
    return args.run(args)  # every handler is `guarded`: errors are one line and a status


if __name__ == "__main__":
    sys.exit(main())
