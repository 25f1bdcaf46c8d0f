"""A step's block stage: the same result on blocks of rows (with halos) as on the whole array."""

from __future__ import annotations

import logging

import numpy as np
import pytest

from webbcal.stpipe.blocks import Block, BlockStage, RowCache, StreamContext, run_block_stage
from webbcal.stpipe.references import ReferenceChoice, choose_reference


def _by_blocks(stage: BlockStage, ramp, rows: int) -> Block:
    """Run ``stage`` over blocks of ``rows`` rows (plus its halo), keep each block's own rows."""
    nints, ngroups, ny, nx = ramp.data.shape
    out = Block(0, ny, np.empty_like(ramp.data), np.empty_like(ramp.groupdq),
                np.empty_like(ramp.pixeldq), None)  # fmt: skip
    for a in range(0, ny, rows):
        b = min(ny, a + rows)
        e0, e1 = max(0, a - stage.halo), min(ny, b + stage.halo)
        blk = Block(e0, e1, ramp.data[:, :, e0:e1].copy(), ramp.groupdq[:, :, e0:e1].copy(),
                    ramp.pixeldq[e0:e1].copy(), None, count=slice(a - e0, b - e0))  # fmt: skip
        stage.apply(blk)
        own = slice(a - e0, b - e0)
        out.data[:, :, a:b] = blk.data[:, :, own]
        out.groupdq[:, :, a:b] = blk.groupdq[:, :, own]
        out.pixeldq[a:b] = blk.pixeldq[own]
    if stage.finish is not None:
        stage.finish()
    return out


@pytest.mark.parametrize("n_grow", [1, 2])
def test_saturation_blocks_equal_whole_array(case_builder, tmp_path, caplog, n_grow):
    """Saturation growth crosses block edges: the halo rows make blocks exact, and the
    saturated-pixel total is logged once with the whole array's number."""
    from webbcal.datamodels import open_ramp_input, to_ramp_model
    from webbcal.dq_init import DQInitStep
    from webbcal.saturation import SaturationStep

    case = case_builder(tmp_path / "case", subarray="SUB64P", readpatt="BRIGHT2", ngroups=4,
                        nints=2, cr_rate=0.0, seed=41)  # fmt: skip
    refs = {f"override_{k}": str(v) for k, v in case.refs.items()}
    with case.crds():
        ramp = DQInitStep(override_mask=refs["override_mask"]).run(
            to_ramp_model(open_ramp_input(str(case.uncal)))
        )
    # Saturated pixels next to the edges of 5-row blocks (rows 4|5, 9|10), from group 3
    # (grown SATURATED) or reached through frame averaging in group 2.
    data = np.array(ramp.data)
    for i, (y, x, g) in enumerate([(4, 10, 2), (5, 30, 3), (9, 50, 2), (10, 20, 1), (33, 7, 2)]):
        data[i % 2, g:, y, x] = 65000.0
    ramp.data = data
    with case.crds():
        step = SaturationStep(
            n_pix_grow_sat=n_grow, override_saturation=refs["override_saturation"],
            override_superbias=refs["override_superbias"],
        )  # fmt: skip
        caplog.set_level(logging.INFO, logger="webbcal")
        whole = step.run(ramp)
        whole_log = [m for m in caplog.messages if m.startswith("Detected")]
        caplog.clear()
        step.resolve_references(ramp)
        stage = step.block_stage(StreamContext.of_model(ramp))
        blocks = _by_blocks(stage, ramp, rows=5)
    assert stage.halo == 2 * n_grow  # BRIGHT2 averages frames: growth counts twice
    assert np.count_nonzero(whole.groupdq & 2) > 0
    np.testing.assert_array_equal(blocks.groupdq, whole.groupdq)
    np.testing.assert_array_equal(blocks.pixeldq, whole.pixeldq)
    block_log = [m for m in caplog.messages if m.startswith("Detected")]
    assert block_log == whole_log and len(whole_log) == 2


def test_run_block_stage_replaces_arrays_and_finishes():
    from stdatamodels.jwst.datamodels import RampModel

    model = RampModel(data=np.ones((1, 3, 4, 5), np.float32))
    seen = []

    class Double:
        def block_stage(self, ctx):
            assert (ctx.nints, ctx.ngroups, ctx.ny, ctx.nx) == (1, 3, 4, 5)
            assert not ctx.streaming and not ctx.zeroframe_used

            def apply(b):
                seen.append((b.r0, b.r1, b.count))
                b.data = b.data * 2

            return BlockStage(apply, finish=lambda: seen.append("finish"))

    out = run_block_stage(Double(), model)
    assert out is model
    np.testing.assert_array_equal(model.data, 2.0)
    assert seen == [(0, 4, slice(None)), "finish"]


def test_row_cache_reads_once_per_rows_and_columns():
    reads = []
    cache = RowCache(lambda b: reads.append((b.r0, b.r1)) or len(reads))
    z = np.zeros((1, 1, 2, 3))
    blk = Block(0, 2, z, z, z[0, 0], None)
    assert cache.get(blk) == cache.get(blk) == 1
    assert cache.get(Block(0, 2, z, z, z[0, 0], None, cols=np.array([0, 2]))) == 2
    assert cache.get(Block(2, 4, z, z, z[0, 0], None)) == 3
    assert reads == [(0, 2), (0, 2), (2, 4)]


def test_choose_reference_precedence(tmp_path):
    asked = []

    def lookup(reftype):
        asked.append(reftype)
        return "/cache/jwst_nircam_dark_0001.fits"

    kw = dict(owner="dark_current", lookup=lookup)
    path = tmp_path / "mydark.fits"
    path.write_bytes(b"")
    assert choose_reference("dark", override=str(path), prefetched=None, **kw) == (
        ReferenceChoice(str(path), str(path))
    )
    assert choose_reference("dark", override="n/a", prefetched=None, **kw) == (None, "N/A")
    assert choose_reference("dark", override=None, prefetched={"dark": None}, **kw) == (
        None, "N/A",
    )  # fmt: skip
    assert asked == []
    got = choose_reference("dark", override=None, prefetched={"gain": None}, **kw)
    assert got == ("/cache/jwst_nircam_dark_0001.fits", "crds://jwst_nircam_dark_0001.fits")
    assert asked == ["dark"]
    with pytest.raises(FileNotFoundError, match=r"dark_current: override_dark='nope.fits'"):
        choose_reference("dark", override="nope.fits", prefetched=None, **kw)


def test_group_scale_on_a_level1b_model():
    """A step whose stage touches only the data runs on a model without DQ arrays."""
    from stdatamodels.jwst.datamodels import Level1bModel

    from webbcal.group_scale import GroupScaleStep

    model = Level1bModel(data=np.full((1, 2, 3, 4), 10, np.uint16))
    model.meta.exposure.nframes = 4
    model.meta.exposure.frame_divisor = 2
    out = GroupScaleStep().run(model)
    np.testing.assert_array_equal(out.data, 5.0)
    assert out.meta.cal_step.group_scale == "COMPLETE"


def test_run_block_stage_runs_the_first_pass_on_the_model():
    """A first pass reads the model's own reference pixels (columns, integrations) before
    the block; the reason it returns skips the step."""
    from stdatamodels.jwst.datamodels import RampModel

    from webbcal.stpipe import StepSkipped

    rng = np.random.default_rng(5)
    data = rng.normal(100.0, 5.0, (3, 2, 6, 8)).astype(np.float32)
    pixeldq = np.zeros((6, 8), np.uint32)
    pixeldq[:, [0, 7]] = 2**31  # REFERENCE_PIXEL
    model = RampModel(data=data.copy(), groupdq=np.zeros(data.shape, np.uint8), pixeldq=pixeldq)
    events = []

    class RefCols:
        reason = None

        def block_stage(self, ctx):
            found = {}

            def first_pass(up):
                cols = np.array([0, 7])
                parts = [up.read(0, ctx.ny, cols, slice(i, i + 1)) for i in range(ctx.nints)]
                assert [p.i0 for p in parts] == [0, 1, 2]
                assert np.array_equal(up.predicted_pixeldq, pixeldq) and up.halo == 0
                pdq = None
                for p in parts:
                    pdq = up.merge_pixeldq(pdq, p.pixeldq)
                assert np.array_equal(pdq, pixeldq[:, cols])
                found["mean"] = np.concatenate([p.data for p in parts]).mean(axis=(2, 3))
                events.append("first_pass")
                return self.reason

            def apply(b):
                events.append("apply")
                b.data = b.data - found["mean"][:, :, None, None].astype(np.float32)

            return BlockStage(apply, first_pass=first_pass)

    run_block_stage(RefCols(), model)
    expected = data - data[..., [0, 7]].mean(axis=(2, 3))[:, :, None, None].astype(np.float32)
    np.testing.assert_array_equal(model.data, expected)
    assert events == ["first_pass", "apply"]
    step = RefCols()
    step.reason = "no usable reference column"
    with pytest.raises(StepSkipped, match="no usable reference column"):
        run_block_stage(step, model)
    assert events[-1] == "first_pass"
