"""The Explore page's held-out images on disk, so a fresh server need not render them again.

One `.npz` per (renderer, spec, n, seed) in `cache_dir()`. The renderer's version
(`vaeflow.rendering.RENDERER_VERSION`) is part of the file name: a changed renderer never reuses old images, and writing a set deletes the
sets of every other renderer version and all but the newest `KEEP` of this one, so the
folder stays a few files (~8 MB each for 2,000 images) however often the renderer changes.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
from pathlib import Path

import numpy as np

import vaeflow

KEEP = 4  # held-out sets of the current renderer kept (one per spec the page was used with)
_PREFIX = "heldout-"


def cache_dir() -> Path:
    """``$VAEFLOW_CACHE_DIR``, else ``~/.cache/vaeflow``."""
    return Path(os.environ.get("VAEFLOW_CACHE_DIR") or Path.home() / ".cache" / "vaeflow")


def heldout_path(folder: Path, spec_json: str, n: int, seed: int, version: str) -> Path:
    key = hashlib.sha256(f"{spec_json}|{n}|{seed}".encode()).hexdigest()[:16]
    return Path(folder) / f"{_PREFIX}{version}-{key}.npz"


def load_or_render(spec_json: str, n: int, seed: int, version: str,
                   folder: Path | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(images uint8 (n, S, S, 3), factors float32 (n, 2)): `generate_dataset(n, seed, spec)`.

    Read from `folder` (default `cache_dir()`) when a file for these arguments and this
    renderer `version` is there and well formed; otherwise rendered, written atomically and
    the folder pruned. A folder that cannot be written only costs the next start a render.
    """
    spec = vaeflow.FlowSpec.from_json(spec_json)
    folder = Path(folder) if folder is not None else cache_dir()
    path = heldout_path(folder, spec_json, n, seed, version)
    with contextlib.suppress(OSError, ValueError):  # missing, broken or foreign: render again
        dataset = vaeflow.load_dataset(path)
        if dataset.spec == spec and dataset.seed == seed and len(dataset) == n:
            return dataset.images, dataset.factors
    dataset = vaeflow.generate_dataset(n, seed, spec)
    with contextlib.suppress(OSError):
        vaeflow.save_dataset(dataset, path, overwrite=True)
        prune(folder, version, keep=path)
    return dataset.images, dataset.factors


def prune(folder: Path, version: str, keep: Path | None = None) -> list[Path]:
    """Delete held-out files of other renderer versions, and all but the newest `KEEP` of
    `version` (never `keep`); return the deleted paths."""
    files = sorted(Path(folder).glob(f"{_PREFIX}*.npz"), key=_mtime, reverse=True)
    current = [f for f in files if f.name.startswith(f"{_PREFIX}{version}-")]
    stale = [f for f in files if f not in current] + [f for f in current[KEEP:] if f != keep]
    deleted = []
    for path in stale:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
            deleted.append(path)
    return deleted


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except FileNotFoundError:
        return 0.0
