"""The VAE: its typed config, its networks (a compact default and the study's), saving and loading."""

from vaeflow.models.config import LIKELIHOODS, PRESETS, ModelConfig
from vaeflow.models.io import PRETRAINED_DIR, load_model, save_model
from vaeflow.models.vae import TERMS, VAE

__all__ = ["LIKELIHOODS", "PRESETS", "PRETRAINED_DIR", "ModelConfig", "TERMS", "VAE", "load_model", "save_model"]
