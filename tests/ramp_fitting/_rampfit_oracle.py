"""Run the official stcal OLS_C ramp fit on the same inputs as webbcal (tests only)."""

import numpy as np


def run_official(
    data,
    groupdq,
    pixeldq,
    readnoise,
    gain,
    *,
    frame_time,
    group_time,
    nframes,
    groupgap,
    dropframes1=0,
    suppress_one_group=True,
    zeroframe=None,
    firstgroup=None,
    lastgroup=None,
    average_dark_current=None,
    instrument="NIRCAM",
):
    """Call ``stcal.ramp_fitting.ramp_fit.ramp_fit`` the way ``RampFitStep`` does.

    Copies of every input are handed over (the official code modifies the
    group DQ and the read-noise array in place). Returns ``(image_info,
    integ_info)`` dictionaries, or ``(None, None)``.
    """
    from jwst.ramp_fitting.ramp_fit_step import set_groupdq
    from stcal.ramp_fitting import ramp_fit
    from stdatamodels.jwst import datamodels
    from stdatamodels.jwst.datamodels import dqflags

    model = datamodels.RampModel(
        data=np.array(data, dtype=np.float32),
        groupdq=np.array(groupdq, dtype=np.uint8),
        pixeldq=np.array(pixeldq, dtype=np.uint32),
    )
    model.meta.instrument.name = instrument
    model.meta.exposure.frame_time = frame_time
    model.meta.exposure.group_time = group_time
    model.meta.exposure.nframes = nframes
    model.meta.exposure.groupgap = groupgap
    model.meta.exposure.drop_frames1 = dropframes1
    if zeroframe is not None:
        model.zeroframe = np.array(zeroframe, dtype=np.float32)
    if average_dark_current is not None:
        model.average_dark_current = np.array(average_dark_current, dtype=np.float32)
    if firstgroup is not None or lastgroup is not None:
        set_groupdq(firstgroup, lastgroup, model.data.shape[1], model.groupdq, dqflags.group)
    image_info, integ_info, _ = ramp_fit.ramp_fit(
        model,
        False,
        np.array(readnoise, dtype=np.float32),
        np.array(gain, dtype=np.float32),
        "OLS_C",
        "optimal",
        "1",
        dqflags.pixel,
        suppress_one_group=suppress_one_group,
    )
    model.close()
    return image_info, integ_info
