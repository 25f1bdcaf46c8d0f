"""The :class:`Pipeline` base class: an ordered set of sub-steps.

Sub-steps are attributes of the pipeline (``pipeline.jump.save_results = True``)
and are configured with ``steps={"jump": {"rejection_threshold": 5}}`` or
``--steps.jump.rejection_threshold=5``. Before running, the pipeline asks CRDS
once for the references of every step that will run (prefetch).
"""

from __future__ import annotations

import logging
from typing import Any, ClassVar

from .params import Param, ParameterError
from .step import Step

__all__ = ["Pipeline", "crds_selection_key"]

#: CRDS parameters that name the file or record processing rather than select
#: references. DATE-OBS/TIME-OBS select them through USEAFTER and stay; the
#: exposure start/mid/end times (EXPSTART...) are not CRDS selectors.
_NOT_SELECTING = ("_fits_hash", "asdf_library.", "history.", "meta.filename", "meta.date",
                  "meta.model_type", "meta.observation.exposure_number",
                  "meta.observation.activity_id", "meta.cal_step.", "meta.ref_file.",
                  "meta.asn.", "meta.group_id", "meta.calibration_software",
                  "meta.exposure.start_time", "meta.exposure.mid_time",
                  "meta.exposure.end_time")  # fmt: skip


def crds_selection_key(parameters: dict[str, Any]) -> tuple:
    """A hashable key of the CRDS parameters that can change the selected references.

    Two exposures with the same key get the same best references, so a pipeline
    over an association asks CRDS once per key.
    """
    return tuple(
        sorted((k, str(v)) for k, v in parameters.items() if not k.startswith(_NOT_SELECTING))
    )


log = logging.getLogger(__name__)


class Pipeline(Step):
    """Base class of pipelines.

    Attributes
    ----------
    step_defs : dict of str to Step subclass
        Sub-step alias -> class, in the official order.
    unimplemented_steps : tuple of str
        Aliases of official sub-steps webbcal does not have yet: parameter files
        may name them when they are skipped (``skip: true``), as official files do.
    inapplicable_steps : tuple of str
        Of those, the ones that do nothing for every mode the pipeline implements
        (the official pipeline turns them off for those modes itself): parameter
        files may name them with any values, which are ignored.
    batch_warm_modules : tuple of str
        Modules the pipeline imports only while it runs (kernels, I/O helpers):
        ``webbcal batch`` imports them in the process its workers are forked from
        (:mod:`webbcal.batch.warm`), so a worker's first exposure does not pay for them.
    batch_warm_models : tuple of str
        stdatamodels classes (names in ``stdatamodels.jwst.datamodels``) whose
        schemas the pipeline loads (its products and reference models); built
        empty there as well, which loads their schemas once for all workers.
    """

    step_defs: ClassVar[dict[str, type[Step]]] = {}
    unimplemented_steps: ClassVar[tuple[str, ...]] = ()
    inapplicable_steps: ClassVar[tuple[str, ...]] = ()
    batch_warm_modules: ClassVar[tuple[str, ...]] = ()
    batch_warm_models: ClassVar[tuple[str, ...]] = ()

    def __init__(
        self,
        name: str | None = None,
        parent: Any = None,
        steps: dict[str, dict[str, Any]] | None = None,
        **kwargs: Any,
    ) -> None:
        object.__setattr__(
            self,
            "_steps",
            {alias: cls(name=alias, parent=self) for alias, cls in self.step_defs.items()},
        )
        super().__init__(name=name, parent=parent, **kwargs)
        for alias, values in (steps or {}).items():
            self.step(alias).update_parameters(values or {})

    def step(self, alias: str) -> Step:
        """Return the sub-step called ``alias``.

        Raises
        ------
        ParameterError
            If the pipeline has no such step.
        """
        try:
            return self._steps[alias]
        except KeyError:
            raise ParameterError(
                f"{self.name}: unknown step {alias!r}; steps are {', '.join(self._steps)}"
            ) from None

    def __getattr__(self, key: str) -> Any:
        steps = object.__getattribute__(self, "_steps")
        if key in steps:
            return steps[key]
        return super().__getattr__(key)

    @classmethod
    def from_configuration(cls, configuration: dict[str, Any]) -> Pipeline:
        """Create a pipeline from ``{param: value, ..., "steps": {alias: {...}}}``."""
        configuration = dict(configuration)
        steps = configuration.pop("steps", {})
        return cls(steps=steps, **configuration)

    def get_parameters(self) -> dict[str, Any]:
        """Pipeline parameters plus ``steps`` with every sub-step's parameters."""
        values = dict(self._values)
        values["steps"] = {alias: s.get_parameters() for alias, s in self._steps.items()}
        return values

    @classmethod
    def all_param_specs(cls) -> dict[str, dict[str, Param]]:
        """Parameter declarations of the pipeline (key ``""``) and each sub-step."""
        out = {"": cls.param_specs()}
        for alias, step_cls in cls.step_defs.items():
            out[alias] = step_cls.param_specs()
        return out

    @classmethod
    def open_for_planning(cls, path: str) -> Any:
        """Open an input whose metadata a batch plans with (``webbcal batch``).

        The planning reads the model's metadata only (CRDS parameters, the
        active steps, the exposure's size); pipelines whose :meth:`open_input`
        leaves the arrays on disk return that. By default the file is opened as a
        data model (:func:`webbcal.datamodels.open_model`).

        Raises
        ------
        Exception
            Whatever opening the file raises (the batch reports it as the
            exposure's failure).
        """
        from ..datamodels import open_model

        return open_model(path)

    def active_steps(self, model: Any) -> list[str]:
        """Aliases of the sub-steps that apply to ``model``, in execution order.

        Pipelines with instrument branches override this; by default every step.
        """
        return list(self._steps)

    def use_references(self, references: dict[str, str | None]) -> None:
        """Use references already selected from CRDS (e.g. by a batch's planning).

        Parameters
        ----------
        references : dict of str to str or None
            Reftype -> local path of the CRDS best reference (None for N/A). They are
            recorded as ``crds://<name>`` like references the pipeline looks up
            itself; reftypes not listed are still looked up when the run starts.
        """
        object.__setattr__(self, "_given_references", dict(references))

    def prefetch(self, model: Any) -> None:
        """Look up, before any step runs, the references of every step that will run.

        For a :class:`~webbcal.datamodels.ModelLibrary` the references of every
        member are looked up, once per distinct set of selection parameters
        (members may be of different detectors, filters or dates); each member's
        steps then use its own answer.
        """
        from ..datamodels.library import ModelLibrary

        if isinstance(model, ModelLibrary):
            sets: dict[tuple, dict[str, str | None]] = {}
            with model:
                for index in range(len(model)):
                    member = model.borrow(index)
                    try:
                        key = crds_selection_key(member.get_crds_parameters())
                        if key not in sets:
                            sets[key] = self._prefetch_one(member)
                    finally:
                        model.shelve(member, index, modify=False)
            log.info("Prefetched references for %d members (%d distinct selections)",
                     len(model), len(sets))  # fmt: skip
            object.__setattr__(self, "_prefetched_sets", sets)
            object.__setattr__(self, "_prefetched", None)
            return
        object.__setattr__(self, "_prefetched_sets", None)
        object.__setattr__(self, "_prefetched", self._prefetch_one(model))

    def _prefetch_one(self, model: Any) -> dict[str, str | None]:
        from ..crds_client import best_references

        given = dict(self.__dict__.get("_given_references") or {})
        reftypes: list[str] = []
        for s in (self._steps[a] for a in self.active_steps(model)):
            for r in s.required_reference_types_for(model):
                if r not in reftypes and r not in given:
                    reftypes.append(r)
        refs: dict[str, str | None] = {}
        if given:
            log.info("Using reference files selected beforehand for %s", ", ".join(given))
            refs.update(given)
        name = getattr(model.meta, "filename", None)
        if reftypes:
            log.info("Prefetching reference files for %s", ", ".join(reftypes))
            refs.update(best_references(model.get_crds_parameters(), reftypes, filename=name))
        for reftype, path in refs.items():
            log.info("Prefetch for %s reference file is '%s'", reftype.upper(), path or "N/A")
        return refs

    def prefetched_for(self, model: Any) -> dict[str, str | None] | None:
        """References prefetched for ``model`` (None when nothing was prefetched for it)."""
        sets = self.__dict__.get("_prefetched_sets")
        if sets:
            return sets.get(crds_selection_key(model.get_crds_parameters()))
        return self._prefetched

    def _run_model(self, model: Any) -> Any:
        if self.skip:
            return super()._run_model(model)
        self.prefetch(model)
        result = self.process(model)
        self.finalize_result(result)
        return result
