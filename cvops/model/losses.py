"""FairMOT's training objective: CenterNet detection losses plus identity classification, balanced by learned
uncertainty weights.

* heatmap: CenterNet's penalty-reduced focal loss (alpha 2, beta 4), normalised by the number of objects;
* size and offset: L1 at object centres (size weighted 0.1 as in CenterNet, since it is in cells and larger);
* identity: the embedding at each centre, L2-normalised and scaled by ``sqrt(2) * log(n_ids - 1)``
  (FairMOT), fed to a linear classifier over the training set's identities, cross-entropy; objects with
  unknown identity are ignored;
* balance: ``0.5 * (exp(-s_det) * L_det + exp(-s_id) * L_id + s_det + s_id)`` with learned ``s`` (Kendall
  et al., as FairMOT). The total can go negative as ``s`` grows; compare the components to judge progress.

The classifier belongs to training only (inference uses the embedding), so it lives here, not in the network.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from cvops.model.network import gather_cells
from cvops.model.targets import BatchTargets

FOCAL_EPS = 1e-4


def focal_loss(heatmap_logits: torch.Tensor, target: torch.Tensor, *, per_class: bool = False) -> torch.Tensor:
    """CenterNet's focal loss between predicted logits and a Gaussian target heatmap (peaks exactly 1).

    CenterNet divides the whole sum by the number of objects. With ``per_class``, each class channel is divided
    by its own count and the classes are summed: the ball (one per frame, against ~20 players) then weighs as
    much as the players instead of 1/20 of them.
    """
    prediction = torch.sigmoid(heatmap_logits.float()).clamp(FOCAL_EPS, 1 - FOCAL_EPS)
    positive = target.eq(1).float()
    negative_weight = torch.pow(1 - target, 4) * (1 - positive)
    positive_loss = torch.log(prediction) * torch.pow(1 - prediction, 2) * positive
    negative_loss = torch.log(1 - prediction) * torch.pow(prediction, 2) * negative_weight
    if per_class:
        per_channel = (positive_loss + negative_loss).sum(dim=(0, 2, 3))
        return -(per_channel / positive.sum(dim=(0, 2, 3)).clamp(min=1)).sum()
    return -(positive_loss + negative_loss).sum() / positive.sum().clamp(min=1)


def masked_l1(prediction: torch.Tensor, target: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean absolute error over the real (unpadded) objects; ``mask`` is ``(B, N)``."""
    weights = mask.unsqueeze(-1).expand_as(prediction)
    return (torch.abs(prediction.float() - target) * weights).sum() / (weights.sum() + FOCAL_EPS)


@dataclass(frozen=True)
class LossWeights:
    heatmap: float = 1.0
    size: float = 0.1
    offset: float = 1.0
    per_class_heatmap: bool = False
    """Normalise the focal loss per class (see :func:`focal_loss`) rather than over all objects as CenterNet
    does. Measured on the synthetic league it traded player AP for goalkeeper AP and did not teach the ball
    (docs/model.md), so it is off by default."""


class FairMOTLoss(nn.Module):
    """Detection + re-ID loss with the identity classifier and the uncertainty weights as parameters."""

    def __init__(
        self,
        num_identities: int,
        embedding_dim: int,
        weights: LossWeights | None = None,
        uncertainty: bool = True,
    ) -> None:
        super().__init__()
        self.weights = weights or LossWeights()
        self.uncertainty = uncertainty
        self.num_identities = num_identities
        self.classifier = nn.Linear(embedding_dim, num_identities) if num_identities > 0 else None
        self.embedding_scale = math.sqrt(2) * math.log(num_identities - 1) if num_identities > 2 else 1.0
        self.detection_log_var = nn.Parameter(torch.tensor(-1.85))
        self.identity_log_var = nn.Parameter(torch.tensor(-1.05))

    def forward(
        self, outputs: dict[str, torch.Tensor], embeddings: torch.Tensor, targets: BatchTargets
    ) -> tuple[torch.Tensor, dict[str, float]]:
        """The scalar to minimise and its components (as floats, for logging). ``embeddings``: the network's
        vectors at the target centres, ``(B, N, D)`` (:meth:`~cvops.model.network.CenterTrackNet.embed`)."""
        heatmap = focal_loss(outputs["heatmap"], targets.heatmap, per_class=self.weights.per_class_heatmap)
        box = gather_cells(outputs["box"], targets.index)
        size = masked_l1(box[..., :2], targets.size, targets.mask)
        offset = masked_l1(box[..., 2:], targets.offset, targets.mask)
        detection = self.weights.heatmap * heatmap + self.weights.size * size + self.weights.offset * offset
        identity = self.identity_loss(embeddings, targets)
        if self.uncertainty and identity is not None:
            total = 0.5 * (
                torch.exp(-self.detection_log_var) * detection
                + torch.exp(-self.identity_log_var) * identity
                + self.detection_log_var
                + self.identity_log_var
            )
        else:
            total = detection if identity is None else detection + identity
        stats = {
            "total": float(total.detach()),
            "heatmap": float(heatmap.detach()),
            "size": float(size.detach()),
            "offset": float(offset.detach()),
            "identity": float(identity.detach()) if identity is not None else 0.0,
        }
        return total, stats

    def identity_loss(self, embeddings: torch.Tensor, targets: BatchTargets) -> torch.Tensor | None:
        """Cross-entropy of the identity classifier at known-identity centres; ``None`` without identities."""
        if self.classifier is None:
            return None
        known = (targets.identity >= 0) & (targets.mask > 0)
        if not bool(known.any()):
            return embeddings.sum() * 0.0
        logits = self.classifier(self.embedding_scale * F.normalize(embeddings[known].float(), dim=1))
        return F.cross_entropy(logits, targets.identity[known])
