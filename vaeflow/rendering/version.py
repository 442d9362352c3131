"""`RENDERER_VERSION`: one string that changes whenever anything deciding an image's pixels does.

A cache of rendered images (the Explore page's held-out set) keys its files by it, so images
drawn by an older renderer are never shown as this one's.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

# What decides the pixels of `generate_dataset(n, seed, spec)`: this package, the flow
# (FlowSpec and the chain) and the factor sampler in datasets.py; paths relative to vaeflow/.
_SOURCES = ("rendering/*.py", "flows/*.py", "datasets.py")


def source_digest(root: str | Path | None = None) -> str:
    """A 16-hex-digit SHA-256 of the renderer's source files under `root` (default: this
    installed vaeflow), with their relative paths: any edit to one of them changes it."""
    root = Path(root) if root is not None else Path(__file__).resolve().parents[1]
    paths = sorted({path for pattern in _SOURCES for path in root.glob(pattern)})
    digest = hashlib.sha256()
    for path in paths:
        if path.is_file():
            digest.update(path.relative_to(root).as_posix().encode() + b"\0")
            digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


RENDERER_VERSION: str = source_digest()
