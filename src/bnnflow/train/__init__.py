"""Training: data sets, the two-stage BNN-Clip recipe, trainer, checkpoints, torchrun/DDP.

Public API:

- :func:`bnnflow.train.trainer.train` with :class:`bnnflow.train.trainer.TrainConfig`
- :func:`bnnflow.train.checkpoint.load_model` ``(path) -> (model, info)``
- :func:`bnnflow.train.data.load_data` ``(spec, image_size=None) -> ImageData``
- :func:`bnnflow.train.plot.plot_runs` ``(dirs, out_png)``
"""

from __future__ import annotations

from bnnflow.train.checkpoint import CheckpointError, load_model
from bnnflow.train.data import DataError, ImageData, load_data
from bnnflow.train.modelspec import ModelError
from bnnflow.train.trainer import TrainConfig, TrainError, TrainInterrupted, train

__all__ = [
    "CheckpointError",
    "DataError",
    "ImageData",
    "ModelError",
    "TrainConfig",
    "TrainError",
    "TrainInterrupted",
    "load_data",
    "load_model",
    "train",
]
