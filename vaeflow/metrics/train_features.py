"""Train the FID feature network on fresh renders and save it with its held-out R².

    python -m vaeflow.metrics.train_features [--out pretrained/features] [--train-images 60000]
        [--test-images 4000] [--epochs 6] [--seed 1234]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from vaeflow.metrics.factors import factor_targets, r2_score
from vaeflow.metrics.features import FEATURES_DIR, FeatureNet, save_feature_net


def main(argv: list[str] | None = None) -> None:
    """Train the feature network and save it with its R² on fresh held-out renders."""
    from vaeflow.datasets import generate_dataset

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=FEATURES_DIR)
    parser.add_argument("--train-images", type=int, default=60_000)
    parser.add_argument("--test-images", type=int, default=4_000)
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--seed", type=int, default=1234)
    args = parser.parse_args(argv)

    start = time.time()
    train = generate_dataset(args.train_images, seed=args.seed)
    test = generate_dataset(args.test_images, seed=args.seed + 1)
    net = FeatureNet(a_mean=train.spec.a_mean, a_std=train.spec.a_std)
    net.fit(train.images, train.factors, epochs=args.epochs, seed=args.seed)
    r2 = r2_score(factor_targets(test.factors), net.predict(test.images))
    info = {
        "command": "python -m vaeflow.metrics.train_features " + " ".join(sys.argv[1:] if argv is None else argv),
        "train_images": args.train_images, "train_seed": args.seed, "epochs": args.epochs,
        "test_images": args.test_images, "test_seed": args.seed + 1,
        "test_r2": {"a": float(r2[0]), "cos_theta": float(r2[1]), "sin_theta": float(r2[2])},
        "seconds": round(time.time() - start, 1),
    }
    save_feature_net(net, args.out, info)
    print(info)


if __name__ == "__main__":
    main()
