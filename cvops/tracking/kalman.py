"""Constant-velocity Kalman filter over box centre, aspect ratio and height, batched over every track.

Written here in numpy (the SORT / DeepSORT / ByteTrack formulation) rather than taken from filterpy. filterpy is
maintained (2.0.0 was released in 2026-10), but it filters one object per ``KalmanFilter`` instance, and its
``batch_filter`` batches the time steps of one object, not many objects: a frame of 30 tracks would be 30
Python-level predicts and updates, which is where this tracker spent its time when it kept one state per track
object. Here every step is a few stacked array operations over all tracks at once: predict, the update of every
track matched in a frame, the camera-motion warp, and the squared Mahalanobis distances of many measurements to
many tracks for gating (numpy's batched 4x4 solver).

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
    """Predict/update for boxes in ``(cx, cy, a, h)`` measurement space; one frame per step; every method takes
    stacked states: (N, 8) means and (N, 8, 8) covariances.

    ``position_weight`` and ``velocity_weight`` are the noise standard deviations relative to the box height
    (DeepSORT's 1/20 and 1/160 are the defaults in :class:`cvops.tracking.TrackerConfig`).
    """

    def __init__(
        self,
        position_weight: float,
        velocity_weight: float,
        measurement_weight: float | None = None,
        aspect_noise: tuple[float, float] = (1e-2, 1e-5),
    ) -> None:
        self.position_weight = position_weight
        self.velocity_weight = velocity_weight
        self.measurement_weight = position_weight if measurement_weight is None else measurement_weight
        self.aspect_noise = aspect_noise
        """Process noise std of the aspect ratio and of its velocity, per frame (absolute: w/h has no scale)."""
        self._motion = np.eye(STATE_DIM)
        self._motion[:MEASUREMENT_DIM, MEASUREMENT_DIM:] = np.eye(MEASUREMENT_DIM)

    def initiate(self, measurements: NDArray[np.float64]) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """New tracks at (N, 4) ``measurements`` with zero velocity and a wide velocity uncertainty."""
        measurements = np.atleast_2d(measurements)
        means = np.concatenate([measurements, np.zeros_like(measurements)], axis=1)
        pos = 2 * self.position_weight * measurements[:, 3]
        vel = 10 * self.velocity_weight * measurements[:, 3]
        std = np.stack([pos, pos, np.full_like(pos, 1e-2), pos, vel, vel, np.full_like(vel, 1e-5), vel], axis=1)
        return means, _diagonal(std**2)

    def predict(
        self, means: NDArray[np.float64], covariances: NDArray[np.float64]
    ) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """Advance (N, 8) means and (N, 8, 8) covariances by one frame."""
        if len(means) == 0:
            return means, covariances
        new_means = means @ self._motion.T
        new_covariances = self._motion @ covariances @ self._motion.T
        heights = means[:, 3]
        pos = (self.position_weight * heights) ** 2
        vel = (self.velocity_weight * heights) ** 2
        aspect, aspect_velocity = (noise**2 for noise in self.aspect_noise)
        for index, variance in enumerate((pos, pos, aspect, pos, vel, vel, aspect_velocity, vel)):
            new_covariances[:, index, index] += variance
        return new_means, new_covariances

    def project(
        self, means: NDArray[np.float64], covariances: NDArray[np.float64]
    ) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """Measurement-space distributions of (N, 8) states, measurement noise included: (N, 4), (N, 4, 4)."""
        variance = (self.measurement_weight * means[:, 3]) ** 2
        projected = covariances[:, :MEASUREMENT_DIM, :MEASUREMENT_DIM].copy()
        for index, noise in enumerate((variance, variance, 1e-2, variance)):
            projected[:, index, index] += noise
        return means[:, :MEASUREMENT_DIM], projected

    def update(
        self, means: NDArray[np.float64], covariances: NDArray[np.float64], measurements: NDArray[np.float64]
    ) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """Correct (N, 8) states and (N, 8, 8) covariances with one matched (N, 4) measurement each."""
        if len(means) == 0:
            return means, covariances
        projected_means, projected_covariances = self.project(means, covariances)
        # K = P H^T S^-1, solved rather than inverted (S is symmetric, so K^T = S^-1 H P); H only selects the
        # first four state components, so H P is a slice.
        gain = np.swapaxes(np.linalg.solve(projected_covariances, covariances[:, :MEASUREMENT_DIM, :]), 1, 2)
        innovation = measurements - projected_means
        new_means = means + np.einsum("nij,nj->ni", gain, innovation)
        new_covariances = covariances - gain @ projected_covariances @ np.swapaxes(gain, 1, 2)
        return new_means, new_covariances

    def gating_distances(
        self, means: NDArray[np.float64], covariances: NDArray[np.float64], measurements: NDArray[np.float64]
    ) -> NDArray[np.float64]:
        """Squared Mahalanobis distances, shape (N, M), of (M, 4) measurements to (N,) states' projections."""
        if len(means) == 0 or len(measurements) == 0:
            return np.zeros((len(means), len(measurements)))
        projected_means, projected_covariances = self.project(means, covariances)
        residuals = measurements[None, :, :] - projected_means[:, None, :]
        solved = np.linalg.solve(projected_covariances, np.swapaxes(residuals, 1, 2))
        return np.einsum("nmi,nim->nm", residuals, solved)


def warp_states(
    means: NDArray[np.float64], covariances: NDArray[np.float64], affine: NDArray[np.float64]
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """States moved by a camera motion: ``affine`` (2, 3) maps the previous frame's pixels to the current one's.

    The centre goes through the whole transform, its velocity through the linear part, and the height and its
    velocity scale with the transform's zoom ``sqrt(|det A|)``; the aspect ratio stays (BoT-SORT's camera-motion
    compensation warps centre and velocity the same way). Covariances follow as ``J P J^T``.
    """
    if len(means) == 0:
        return means, covariances
    linear, shift = affine[:, :2], affine[:, 2]
    zoom = float(np.sqrt(abs(np.linalg.det(linear))))
    jacobian = np.zeros((STATE_DIM, STATE_DIM))
    for start in (0, 4):
        jacobian[start : start + 2, start : start + 2] = linear
        jacobian[start + 2, start + 2] = 1.0
        jacobian[start + 3, start + 3] = zoom
    new_means = means @ jacobian.T
    new_means[:, :2] += shift
    return new_means, jacobian @ covariances @ jacobian.T


def _diagonal(variances: NDArray[np.float64]) -> NDArray[np.float64]:
    """(N, d) variances as (N, d, d) diagonal matrices."""
    n, d = variances.shape
    out = np.zeros((n, d, d))
    out[:, np.arange(d), np.arange(d)] = variances
    return out
