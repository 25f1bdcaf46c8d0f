"""The ``rscd`` step adapter."""

import logging

import numpy as np

from ..lib.reffiles import ReferenceFileError
from ..stpipe import Step, StepSkipped
from ..stpipe.blocks import run_block_stage

__all__ = ["RscdStep"]

log = logging.getLogger(__name__)

#: Old name of the MIRI LRS slitless subarray, as found in early data.
_SUBARRAY_ALIASES = {"SUBPRISM": "SLITLESSPRISM"}
#: READPATT values of MIRI exposures (the MIRI entries of the JWST keyword dictionary).
MIRI_READPATTS = (
    "FAST", "FASTR1", "FASTR100", "FASTGRPAVG", "FASTGRPAVG8", "FASTGRPAVG16", "FASTGRPAVG32",
    "FASTGRPAVG64", "SLOW", "SLOWR1",
)  # fmt: skip


class RscdStep(Step):
    """Flag MIRI groups affected by reset-switch charge decay (official alias ``rscd``).

    References
    ----------
    JWST pipeline documentation, "rscd" step.
    """

    class_alias = "rscd"
    cal_step_name = "rscd"
    reference_file_types = ("rscd",)

    def _resolve_references(self, model):
        detector = (model.meta.instrument.detector or "").upper()
        if not detector.startswith("MIR"):
            raise StepSkipped(f"the RSCD correction is for MIRI only (DETECTOR={detector})")
        _check_readpatt(model)
        super()._resolve_references(model)

    def group_skips(self, model, ngroups_data: int, nints_data: int) -> tuple[int, int, int]:
        """Groups to flag in integration 1 and in the others, and NINTS of the exposure.

        Looks up the RSCD_GROUP_SKIP row of the exposure's SUBARRAY and READPATT
        and limits the skips to what the ramp allows
        (:func:`webbcal.rscd.flagging.effective_skips`).

        Parameters
        ----------
        model : DataModel
            The exposure (its metadata).
        ngroups_data, nints_data : int
            Groups and integrations of the data (NGROUPS and NINTS stand in
            when the keywords are absent).

        Returns
        -------
        tuple of int
            ``(skip_int1, skip_int2p, nints)``.

        Raises
        ------
        StepSkipped
            If the table has no row for the exposure or the ramp has fewer than 3 groups.
        ValueError
            If NGROUPS differs from the data's groups.
        ReferenceFileError
            If the table is missing or lacks columns.
        """
        from stdatamodels.jwst.datamodels import RSCDModel

        from .flagging import effective_skips

        ref = self.open_reference(model, "rscd", RSCDModel)
        subarray = (model.meta.subarray.name or "FULL").upper()
        subarray = _SUBARRAY_ALIASES.get(subarray, subarray)
        readpatt = (model.meta.exposure.readpatt or "").upper()
        skips = _lookup_group_skips(ref, subarray, readpatt)
        if skips is None:
            why = (
                f"READPATT={readpatt}, SUBARRAY={subarray} is not in the RSCD_GROUP_SKIP table "
                f"of {ref.meta.filename}"
            )
            log.warning("RSCD step skipped: %s", why)
            raise StepSkipped(why)
        exp = model.meta.exposure
        ngroups = int(exp.ngroups) if exp.ngroups is not None else ngroups_data
        nints = int(exp.nints) if exp.nints is not None else nints_data
        if ngroups < 3:
            raise StepSkipped(f"too few groups ({ngroups}) to flag RSCD groups")
        if ngroups != ngroups_data:
            raise ValueError(
                f"NGROUPS={ngroups} but the data have {ngroups_data} groups; expected them equal"
            )
        skip1, skip2p = effective_skips(ngroups, nints, *skips)
        log.info("RSCD groups to flag: integration 1: %d, integrations 2+: %d", skip1, skip2p)
        return skip1, skip2p, nints

    def block_stage(self, ctx):
        """Flag the RSCD groups of blocks; counts and ``meta.rscd`` from whole-array masks.

        The kernel's walk down the groups (while some pixel of the array is
        saturated) gives the same per-pixel result on a part of the array when
        SATURATED flags stick from group to group, which the saturation step
        guarantees; each block checks it.

        Raises
        ------
        StepSkipped
            As :meth:`group_skips`.
        NotStreamable
            From a block whose SATURATED flags do not stick across groups.
        """
        return _rscd_stage(self, ctx)

    def process(self, model):
        return run_block_stage(self, model)


_PARTS = ("lowered", "no_group", "saturated_next")


def _rscd_stage(step, ctx):
    from ..dqflags import SATURATED
    from ..stpipe.blocks import BlockStage, NotStreamable
    from .flagging import FLUX_ESTIMATED, flag_rscd_groups

    model = ctx.model
    skip1, skip2p, nints = step.group_skips(model, ctx.ngroups, ctx.nints)
    exp = model.meta.exposure
    start = int(exp.integration_start) if exp.integration_start is not None else 1
    ctx.any_integration_flags |= FLUX_ESTIMATED
    # The labels the kernel uses, by integration of the file.
    labels = []
    if start == 1:
        labels.append(("int1", skip1))
    if nints > 1 and ctx.nints > (1 if start == 1 else 0):
        labels.append(("int2p", skip2p))
    masks = {(label, part): ctx.pixel_mask() for label, _ in labels for part in _PARTS}
    if start == 1:
        ctx.dnu_groups[0, :skip1] = True
    if nints > 1:
        ctx.dnu_groups[1 if start == 1 else 0 :, :skip2p] = True
    deepest = max(skip1, skip2p)

    def apply(b):
        if ctx.streaming:
            sat = (b.groupdq[:, 1 : deepest + 2] & SATURATED) != 0
            if np.any(sat[:, :-1] & ~sat[:, 1:]):
                raise NotStreamable("SATURATED flags that do not stick across groups (rscd)")
        res = flag_rscd_groups(
            b.groupdq, b.pixeldq, skip_int1=skip1, skip_int2p=skip2p, nints_total=nints,
            first_integration=start + b.i0, pixel_masks=True,
        )  # fmt: skip
        b.groupdq, b.pixeldq = res.groupdq, res.pixeldq
        if b.count is not None:
            rows = b.counted_rows()
            for label, found in res.masks.items():
                for part, mask in zip(_PARTS, found):
                    masks[label, part][rows] |= mask[b.count]

    def finish():
        meta = model.meta.rscd
        counts = {}
        for label, skip in labels:
            lowered = int(np.count_nonzero(masks[label, "lowered"]))
            any_sat = bool(masks[label, "saturated_next"].any())
            no_group = int(np.count_nonzero(masks[label, "no_group"])) if any_sat else 0
            counts[label] = (lowered, no_group)
            log.info(
                "RSCD %s: flagged %d leading group(s); lowered for saturation in %d pixel(s)",
                label, skip, lowered,
            )  # fmt: skip
        lo1, one1 = counts.get("int1", (0, 0))
        lo2, one2 = counts.get("int2p", (0, 0))
        if start == 1:
            meta.ngroups_skip_int1 = skip1
            meta.keep_groups_saturation_int1 = lo1
            meta.keep_bright_firstgroup_int1 = one1
        if nints > 1:
            meta.ngroups_skip_int2p = skip2p
            meta.keep_groups_saturation_int2p = lo2
            meta.keep_bright_firstgroup_int2p = one2

    return BlockStage(apply, finish=finish)


def _check_readpatt(model) -> None:
    """A MIRI exposure must name a MIRI readout pattern (the RSCD table is keyed on it)."""
    from ..datamodels import InputError

    readpatt = model.meta.exposure.readpatt
    if (readpatt or "").upper() not in MIRI_READPATTS:
        name = model.meta.filename or "the input exposure"
        raise InputError(
            f"{name}: READPATT={readpatt!r} is not a MIRI readout pattern; expected one of "
            f"{', '.join(MIRI_READPATTS)}"
        )


def _lookup_group_skips(ref, subarray, readpatt):
    """``(group_skip1, group_skip)`` for the first matching table row, or None."""
    table = getattr(ref, "rscd_group_skip_table", None)
    if table is None or len(table) == 0:
        raise ReferenceFileError(
            f"{ref.meta.filename}: the RSCD_GROUP_SKIP table is missing or empty"
        )
    names = {n.lower() for n in table.dtype.names}
    missing = {"subarray", "readpatt", "group_skip1", "group_skip"} - names
    if missing:
        raise ReferenceFileError(
            f"{ref.meta.filename}: RSCD_GROUP_SKIP lacks column(s) {', '.join(sorted(missing))}"
        )
    for row in table:
        if _text(row["subarray"]) == subarray and _text(row["readpatt"]) == readpatt:
            return int(row["group_skip1"]), int(row["group_skip"])
    return None


def _text(value):
    if isinstance(value, bytes):
        value = value.decode("ascii", "replace")
    return str(value).strip().upper()
