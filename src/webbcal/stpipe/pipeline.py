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

__all__ = ["Pipeline"]

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
    """

    step_defs: ClassVar[dict[str, type[Step]]] = {}
    unimplemented_steps: ClassVar[tuple[str, ...]] = ()

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
        """Look up, in one CRDS call, the references of every step that will run."""
        from ..crds_client import best_references

        given = dict(self.__dict__.get("_given_references") or {})
        reftypes: list[str] = []
        for s in (self._steps[a] for a in self.active_steps(model)):
            for r in s.required_reference_types():
                if r not in reftypes and r not in given:
                    reftypes.append(r)
        refs: dict[str, str | None] = {}
        if given:
            log.info("Using reference files selected beforehand for %s", ", ".join(given))
            refs.update(given)
        if reftypes:
            name = getattr(model.meta, "filename", None)
            log.info("Prefetching reference files for %s", ", ".join(reftypes))
            refs.update(best_references(model.get_crds_parameters(), reftypes, filename=name))
        for reftype, path in refs.items():
            log.info("Prefetch for %s reference file is '%s'", reftype.upper(), path or "N/A")
        object.__setattr__(self, "_prefetched", refs)

    def _run_model(self, model: Any) -> Any:
        if self.skip:
            return super()._run_model(model)
        self.prefetch(model)
        result = self.process(model)
        self.finalize_result(result)
        return result
