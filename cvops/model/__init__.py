"""The detection + re-ID model (FairMOT-style), its data loading, training, evaluation and export.

``from cvops.model import train, TrainConfig, detect, evaluate_detection`` is all a notebook needs; see
``docs/model.md``.
"""

from cvops.model.checkpoint import Checkpoint, load_checkpoint, save_checkpoint
from cvops.model.data import AugmentConfig, DetectionDataset
from cvops.model.dataset_folder import DatasetSample, dataset_from_synth_store, write_dataset_folder
from cvops.model.decode import detect
from cvops.model.detection_metrics import ap50_per_class, evaluate_detection
from cvops.model.export import export_torchscript, load_torchscript
from cvops.model.identities import IdentityMap
from cvops.model.network import CenterTrackNet, ModelConfig
from cvops.model.schema import CLASS_NAMES
from cvops.model.train import TrainConfig, TrainResult, train

__all__ = [
    "CLASS_NAMES",
    "AugmentConfig",
    "CenterTrackNet",
    "Checkpoint",
    "DatasetSample",
    "DetectionDataset",
    "IdentityMap",
    "ModelConfig",
    "TrainConfig",
    "TrainResult",
    "ap50_per_class",
    "dataset_from_synth_store",
    "detect",
    "evaluate_detection",
    "export_torchscript",
    "load_checkpoint",
    "load_torchscript",
    "save_checkpoint",
    "train",
    "write_dataset_folder",
]
