"""The ``charge_migration`` step adapter."""

import logging

from ..stpipe import Param, Step, StepSkipped

__all__ = ["ChargeMigrationStep"]

log = logging.getLogger(__name__)


class ChargeMigrationStep(Step):
    """Flag groups affected by charge migration (brighter-fatter) (alias ``charge_migration``).

    Skipped by default, as in the official pipeline; CRDS parameter files enable it.
    """

    class_alias = "charge_migration"
    cal_step_name = "charge_migration"
    spec = (
        Param("skip", bool, True, "Skip this step"),
        Param("signal_threshold", float, 25000.0,
              "Groups above this signal and later ones are flagged CHARGELOSS", minimum=0.0,
              unit="DN"),
    )  # fmt: skip

    def process(self, model):
        from .flagging import flag_charge_migration

        ngroups = model.data.shape[1]
        if ngroups < 3:
            raise StepSkipped(f"charge migration needs at least 3 groups; there are {ngroups}")
        log.info("Using signal_threshold: %.2f", self.signal_threshold)
        model.groupdq = flag_charge_migration(
            model.data, model.groupdq, signal_threshold=self.signal_threshold
        )
        return model
