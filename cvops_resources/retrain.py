"""When retraining is worth it, as a configurable resource read by ``retrain_sensor``."""

import dagster as dg
from pydantic import Field


class RetrainPolicyResource(dg.ConfigurableResource):
    """Retrain when enough selected samples are not in the latest dataset version yet."""

    min_new_samples: int = Field(default=200, ge=1, description="New ready samples that trigger a retrain.")
