"""Has a 2-D latent folded? kNN R² of (a, cos θ, sin θ) from the posterior means of 2,000 fresh
images (seed 20261126), one line of JSON per model. A folded run sits at R² a ≈ 0.80-0.90.

    python benchmarks/check_folding.py runs/NAME [runs/OTHER ...]
"""

from __future__ import annotations

import json
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from vaeflow.datasets import generate_dataset  # noqa: E402
from vaeflow.metrics import factor_r2, posterior_means  # noqa: E402
from vaeflow.models import load_model  # noqa: E402


def main() -> None:
    held_out = generate_dataset(2000, seed=20261126)
    for path in sys.argv[1:]:
        r2 = factor_r2(posterior_means(load_model(path), held_out.images), held_out.factors)
        print(json.dumps({"model": path, **{k: round(v, 4) for k, v in r2.items()}}))


if __name__ == "__main__":
    main()
