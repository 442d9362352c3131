"""vaeflow: flow datasets, a VAE with a 2-D latent, its trainer, run directories and metrics.

Public names are re-exported here; see README.md for the tour.
"""

import os

# TensorFlow's C++ log chatter buries the CLI's own output; keep warnings and errors. A user's
# own TF_CPP_MIN_LOG_LEVEL wins. TensorFlow ignores that level for the lines it prints before
# absl's logging is initialised (oneDNN, CUDA probing), so vaeflow applies it to them.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from vaeflow.native_log import quiet_tensorflow_start

quiet_tensorflow_start()

from vaeflow.flows.spec import FlowSpec
from vaeflow.flows.chain import flow_distribution, flow_stages, stage_distributions
from vaeflow.rendering import density_grid, render_images
from vaeflow.datasets import (
    FlowDataset,
    generate_dataset,
    load_dataset,
    make_tf_dataset,
    read_header,
    save_dataset,
    split_dataset,
)
from vaeflow.models import VAE, ModelConfig, load_model, save_model
from vaeflow.metrics import evaluate
from vaeflow.devices import training_device
from vaeflow.training import JobRunner, RunDir, TrainConfig, train
from vaeflow.training.provenance import run_data_source

__all__ = ["FlowSpec", "render_images", "density_grid", "generate_dataset", "FlowDataset", "save_dataset", "load_dataset", "read_header", "split_dataset", "make_tf_dataset", "flow_distribution", "flow_stages", "stage_distributions", "VAE", "ModelConfig", "load_model", "save_model", "evaluate", "TrainConfig", "train", "RunDir", "JobRunner", "run_data_source", "training_device"]
