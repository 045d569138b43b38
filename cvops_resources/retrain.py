"""When retraining is worth it, as a configurable resource read by ``retrain_sensor`` (sensors take no run config)."""

import dagster as dg
from pydantic import Field

from cvops.datasets.retrain import RetrainPolicy


class RetrainPolicyResource(dg.ConfigurableResource):
    """Retrain when enough selected samples are not in the latest dataset version yet."""

    min_new_samples: int = Field(
        default=RetrainPolicy.min_new_samples, ge=1, description="New ready samples that trigger a retrain."
    )

    def get_policy(self) -> RetrainPolicy:
        return RetrainPolicy(min_new_samples=self.min_new_samples)
