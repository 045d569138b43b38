"""Constant-velocity Kalman filter over box centre, aspect ratio and height.

Hand-written (the SORT / DeepSORT / ByteTrack formulation, ~100 lines of numpy) because the Kalman libraries
either filter one object at a time (filterpy, unmaintained since 2018) or bring a deep-learning stack; the
tracker needs a batched predict over every live track each frame and the squared Mahalanobis distance of many
measurements to one track for gating, both of which are a few lines here.

State: ``(cx, cy, a, h, vcx, vcy, va, vh)`` with ``a = w / h``. Process and measurement noise scale with the
box height, so a 300 px player near the camera and a 40 px one far away get the same relative uncertainty.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray
from scipy.stats import chi2

STATE_DIM = 8
MEASUREMENT_DIM = 4


def chi2_gate(probability: float) -> float:
    """Squared Mahalanobis distance a measurement stays below with ``probability`` (4 degrees of freedom)."""
    return float(chi2.ppf(probability, df=MEASUREMENT_DIM))


class KalmanBoxFilter:
    """Predict/update for boxes in ``(cx, cy, a, h)`` measurement space; one frame per step.

    ``position_weight`` and ``velocity_weight`` are the noise standard deviations relative to the box height
    (DeepSORT's 1/20 and 1/160 are the defaults in :class:`cvops.tracking.TrackerConfig`).
    """

    def __init__(self, position_weight: float, velocity_weight: float) -> None:
        self.position_weight = position_weight
        self.velocity_weight = velocity_weight
        self._motion = np.eye(STATE_DIM)
        self._motion[:MEASUREMENT_DIM, MEASUREMENT_DIM:] = np.eye(MEASUREMENT_DIM)
        self._observation = np.eye(MEASUREMENT_DIM, STATE_DIM)

    def initiate(self, measurement: NDArray[np.float64]) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """A new track at ``measurement`` with zero velocity and a wide velocity uncertainty."""
        mean = np.concatenate([measurement, np.zeros(MEASUREMENT_DIM)])
        height = measurement[3]
        std = np.array(
            [
                2 * self.position_weight * height,
                2 * self.position_weight * height,
                1e-2,
                2 * self.position_weight * height,
                10 * self.velocity_weight * height,
                10 * self.velocity_weight * height,
                1e-5,
                10 * self.velocity_weight * height,
            ]
        )
        return mean, np.diag(std**2)

    def predict(
        self, means: NDArray[np.float64], covariances: NDArray[np.float64]
    ) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """Advance (N, 8) means and (N, 8, 8) covariances by one frame."""
        if len(means) == 0:
            return means, covariances
        heights = means[:, 3]
        pos = self.position_weight * heights
        vel = self.velocity_weight * heights
        std = np.stack([pos, pos, np.full_like(pos, 1e-2), pos, vel, vel, np.full_like(vel, 1e-5), vel], axis=1)
        process_noise = np.einsum("ni,ij->nij", std**2, np.eye(STATE_DIM))
        new_means = means @ self._motion.T
        new_covariances = self._motion @ covariances @ self._motion.T + process_noise
        return new_means, new_covariances

    def project(
        self, means: NDArray[np.float64], covariances: NDArray[np.float64]
    ) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """Measurement-space distributions of (N, 8) states, measurement noise included: (N, 4), (N, 4, 4)."""
        std = self.position_weight * means[:, 3]
        noise_std = np.stack([std, std, np.full_like(std, 1e-1), std], axis=1)
        noise = np.einsum("ni,ij->nij", noise_std**2, np.eye(MEASUREMENT_DIM))
        projected_means = means @ self._observation.T
        projected_covariances = self._observation @ covariances @ self._observation.T + noise
        return projected_means, projected_covariances

    def update(
        self, mean: NDArray[np.float64], covariance: NDArray[np.float64], measurement: NDArray[np.float64]
    ) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """Correct one (8,) state and (8, 8) covariance with a matched (4,) measurement."""
        projected_means, projected_covariances = self.project(mean[None, :], covariance[None, :, :])
        projected_cov = projected_covariances[0]
        # K = P H^T S^-1, solved rather than inverted (S is symmetric, so K^T = S^-1 H P).
        gain = np.linalg.solve(projected_cov, self._observation @ covariance).T
        new_mean = mean + gain @ (measurement - projected_means[0])
        new_covariance = covariance - gain @ projected_cov @ gain.T
        return new_mean, new_covariance

    def gating_distances(
        self, means: NDArray[np.float64], covariances: NDArray[np.float64], measurements: NDArray[np.float64]
    ) -> NDArray[np.float64]:
        """Squared Mahalanobis distances, shape (N, M), of (M, 4) measurements to (N,) states' projections.

        numpy's batched solver over 4x4 systems: per-track scipy calls cost more in overhead than arithmetic.
        """
        if len(means) == 0 or len(measurements) == 0:
            return np.zeros((len(means), len(measurements)))
        projected_means, projected_covariances = self.project(means, covariances)
        residuals = measurements[None, :, :] - projected_means[:, None, :]
        solved = np.linalg.solve(projected_covariances, np.swapaxes(residuals, 1, 2))
        return np.einsum("nmi,nim->nm", residuals, solved)
