"""Training: `TrainConfig`, the tf.distribute trainer, run directories and the job runner."""

from vaeflow.training.checkpoints import CheckpointError
from vaeflow.training.config import TrainConfig
from vaeflow.training.jobs import JobRunner, RunInProgressError, RunStartError, RunSummary
from vaeflow.training.runs import RunDir, RunLockedError, validate_run_name
from vaeflow.training.loop import TrainResult, train
from vaeflow.training.trainer import NonFiniteLossError, Trainer

__all__ = ["CheckpointError", "JobRunner", "NonFiniteLossError", "RunDir", "RunInProgressError",
           "RunLockedError", "RunStartError", "RunSummary", "TrainConfig", "TrainResult", "Trainer", "train", "validate_run_name"]
