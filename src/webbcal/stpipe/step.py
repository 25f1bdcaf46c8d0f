"""The :class:`Step` base class: parameters, references, provenance and saving.

Steps behave as JWST users know them from the official pipeline::

    result = JumpStep.call("x_linearity.fits", rejection_threshold=5.0)
    step = JumpStep()
    step.rejection_threshold = 10
    result = step.run(model)

``call`` merges parameters with the precedence code default < CRDS ``pars-*``
reference < configuration file < explicit arguments; ``run`` uses the
instance's attributes only.

References
----------
JWST pipeline documentation, "stpipe: configuring and running steps".
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Iterable
from typing import Any, ClassVar

from .._version import __version__
from .params import Param, ParameterError

__all__ = ["COMMON_PARAMS", "Step", "StepSkipped"]

log = logging.getLogger(__name__)

COMMON_PARAMS: tuple[Param, ...] = (
    Param("skip", bool, False, "Skip this step"),
    Param("save_results", bool, False, "Save this step's result to a file"),
    Param("output_dir", str, None, "Directory of output files (created if missing)",
          allow_none=True),
    Param("output_file", str, None, "Base name of the output file", allow_none=True),
    Param("suffix", str, None, "Suffix of the saved result (default: the step alias)",
          allow_none=True),
    Param("input_dir", str, None, "Directory searched for relative input file names",
          allow_none=True),
)  # fmt: skip

CRDS_PARS_ENV = ("WEBBCAL_DISABLE_CRDS_STEPPARS", "STPIPE_DISABLE_CRDS_STEPPARS")


class StepSkipped(Exception):
    """Raised inside ``process`` to skip the step with a reason (recorded as SKIPPED)."""


class _LogCollector(logging.Handler):
    """Collect formatted log records of a run to store in the product (``cal_logs``)."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.records: list[str] = []
        self.setFormatter(logging.Formatter("%(asctime)s - %(name)s - %(levelname)s - %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.records.append(self.format(record))
        except Exception:  # pragma: no cover - never let logging break a run
            self.handleError(record)


def _env_true(names: Iterable[str]) -> bool:
    return any(os.environ.get(n, "").strip().lower() in ("1", "true", "yes") for n in names)


class Step:
    """Base class of every webbcal step.

    Subclasses set the class attributes below and implement :meth:`process`.

    Attributes
    ----------
    class_alias : str
        Official step alias (``"jump"``), used on the command line and as the
        default suffix.
    spec : tuple of Param
        The step's own parameters (the common ones and ``override_<reftype>``
        are added automatically).
    reference_file_types : tuple of str
        CRDS reference types the step needs; ``override_<reftype>`` parameters
        are generated from them.
    optional_reference_types : tuple of str
        Reference types used only in some modes: an N/A result does not skip the step.
    cal_step_name : str or None
        Attribute of ``meta.cal_step`` (``S_*`` keyword) that records the status.
    library_mode : str
        What the step does with a :class:`~webbcal.datamodels.ModelLibrary`
        (an association): ``"member"`` runs :meth:`process` on a copy of each
        member and returns a new library of the results; ``"library"`` passes the
        library to :meth:`process`, which returns a library or a combined model.
    """

    class_alias: ClassVar[str] = ""
    spec: ClassVar[tuple[Param, ...]] = ()
    reference_file_types: ClassVar[tuple[str, ...]] = ()
    optional_reference_types: ClassVar[tuple[str, ...]] = ()
    cal_step_name: ClassVar[str | None] = None
    library_mode: ClassVar[str] = "member"
    #: A library step whose ``process`` records each member's status itself (COMPLETE or
    #: SKIPPED per member); finalization then adds provenance only.
    records_member_status: ClassVar[bool] = False

    # ----------------------------------------------------------------- parameters
    @classmethod
    def param_specs(cls) -> dict[str, Param]:
        """All parameters of this step, keyed by name (common, own, overrides)."""
        specs: dict[str, Param] = {p.name: p for p in COMMON_PARAMS}
        for p in cls.spec:
            specs[p.name] = p
        for reftype in cls.reference_file_types:
            name = f"override_{reftype}"
            specs[name] = Param(
                name, str, None,
                f"Use this {reftype} reference file instead of the CRDS best reference "
                "('N/A' skips the step)",
                allow_none=True,
            )  # fmt: skip
        return specs

    @classmethod
    def default_parameters(cls) -> dict[str, Any]:
        """Code defaults of every parameter."""
        return {name: p.default for name, p in cls.param_specs().items()}

    def __init__(self, name: str | None = None, parent: Any = None, **kwargs: Any) -> None:
        object.__setattr__(self, "_values", self.default_parameters())
        object.__setattr__(self, "name", name or self.class_alias)
        object.__setattr__(self, "parent", parent)
        object.__setattr__(self, "_references_used", {})
        object.__setattr__(self, "_prefetched", None)
        object.__setattr__(self, "_log_records", [])
        self.update_parameters(kwargs)

    def update_parameters(self, values: dict[str, Any]) -> None:
        """Validate and set several parameters.

        Raises
        ------
        ParameterError
            If a name is not a parameter of this step or a value is invalid.
        """
        for key, value in values.items():
            setattr(self, key, value)

    def __getattr__(self, key: str) -> Any:
        values = object.__getattribute__(self, "_values")
        if key in values:
            return values[key]
        raise AttributeError(f"{type(self).__name__} has no attribute or parameter {key!r}")

    def __setattr__(self, key: str, value: Any) -> None:
        specs = type(self).param_specs()
        if key in specs:
            self._values[key] = specs[key].convert(value, owner=self.name)
        elif key.startswith("_") or key in type(self).__dict__ or hasattr(type(self), key):
            object.__setattr__(self, key, value)
        else:
            raise ParameterError(
                f"{self.name}: unknown parameter {key!r}; known parameters: "
                f"{', '.join(sorted(specs))}"
            )

    def get_parameters(self) -> dict[str, Any]:
        """Current parameter values (a copy)."""
        return dict(self._values)

    # ----------------------------------------------------------------- calling
    @classmethod
    def call(cls, input: Any, *, config_file: str | None = None, **kwargs: Any) -> Any:
        """Build the step from its merged configuration and run it on ``input``.

        Parameters
        ----------
        input : str or DataModel
            Input product.
        config_file : str or None
            ASDF parameter file in the official layout.
        **kwargs
            Explicit parameter values (highest precedence). ``disable_crds_steppars``
            (bool) turns off the CRDS parameter references.

        Returns
        -------
        DataModel
            The step's result.
        """
        from . import config as _config

        disable = bool(kwargs.pop("disable_crds_steppars", False)) or _env_true(CRDS_PARS_ENV)
        model = cls._open_input(input, kwargs.get("input_dir", ""))
        collector = _LogCollector()
        pkg_logger = logging.getLogger("webbcal")
        if pkg_logger.level == logging.NOTSET:
            pkg_logger.setLevel(logging.INFO)
        pkg_logger.addHandler(collector)
        try:
            if disable:
                log.info("CRDS parameter references are disabled")
            merged = _config.build_configuration(
                cls, model, config_file=config_file, overrides=kwargs, use_crds=not disable
            )
        finally:
            pkg_logger.removeHandler(collector)
        step = cls.from_configuration(merged)
        object.__setattr__(step, "_pre_records", list(collector.records))
        model = step._library_storage(model)
        # A model opened here belongs to this run: no defensive copy.
        return step.run(model, _owned=isinstance(input, (str, os.PathLike)))

    @classmethod
    def from_configuration(cls, configuration: dict[str, Any]) -> Step:
        """Create a step from a flat parameter dictionary."""
        return cls(**configuration)

    @classmethod
    def _open_input(cls, input: Any, input_dir: str = "") -> Any:
        if isinstance(input, (str, os.PathLike)):
            path = os.fspath(input)
            if input_dir and not os.path.isabs(path):
                path = os.path.join(input_dir, path)
            return cls.open_input(path)
        return input

    @classmethod
    def open_input(cls, path: str) -> Any:
        """Open an input file for this step (subclasses may check its kind).

        An association (``.json``) opens as a :class:`~webbcal.datamodels.ModelLibrary`
        (members loaded when used); any other file as a data model.
        """
        from ..datamodels import ModelLibrary, open_model

        if path.endswith(".json"):
            return ModelLibrary(path)
        return open_model(path)

    def _library_storage(self, model: Any) -> Any:
        """Re-open an association opened here on disk when the step asks ``in_memory=False``."""
        from ..datamodels import ModelLibrary

        wants_disk = "in_memory" in self._values and not self._values["in_memory"]
        if isinstance(model, ModelLibrary) and wants_disk and not model.on_disk and model.asn.path:
            return ModelLibrary(model.asn.path, on_disk=True)
        return model

    # ----------------------------------------------------------------- running
    def run(self, input: Any, *, _owned: bool = False) -> Any:
        """Run the step on ``input`` with this instance's parameters.

        The caller's model is never modified: a standalone step works on a copy.
        If the run fails, every product it had already written is removed, so a
        failed run leaves no output behind.

        Returns
        -------
        DataModel
            The result (status recorded in ``meta.cal_step``).
        """
        object.__setattr__(self, "_owns_input",
                           bool(_owned) or isinstance(input, (str, os.PathLike)))  # fmt: skip
        if self.parent is not None:
            result = self._run_model(self._open_input(input, self.input_dir))
            if self.save_results:
                self.save_result(result)
            return result
        collector = _LogCollector()
        self._log_records[:] = self.__dict__.get("_pre_records", [])
        collector.records = self._log_records
        pkg_logger = logging.getLogger("webbcal")
        if pkg_logger.level == logging.NOTSET:
            pkg_logger.setLevel(logging.INFO)
        pkg_logger.addHandler(collector)
        object.__setattr__(self, "_written", [])
        # Large short-lived arrays are allocated without huge-page advice for the whole
        # run (see webbcal.lib.hugepages: first touches stall on compaction otherwise).
        from ..lib.hugepages import without_hugepage_advice

        try:
            with without_hugepage_advice():
                opened_here = isinstance(input, (str, os.PathLike))
                model = self._open_input(input, self.input_dir)
                if opened_here:
                    model = self._library_storage(model)
                object.__setattr__(self, "_input_filename", _model_name(model))
                if not opened_here and not _owned and not _is_library(model):
                    # A library's members are copied when borrowed (see _run_members).
                    model = self._copy_input(model)
                result = self._run_model(model)
                log.info("Results used webbcal version: %s", __version__)
                for product in _as_tuple(result):
                    if not _is_library(product):
                        self._store_logs(product)
                if self.save_results:
                    self.save_result(result)
        except BaseException:
            self._remove_written()
            raise
        finally:
            pkg_logger.removeHandler(collector)
        return result

    def owns_input(self) -> bool:
        """Whether this run's input belongs to the run and may be changed in place.

        True when the run opened it from a file, or when the pipeline that made it
        handed it over (``run(..., _owned=True)``); a model or library given by a
        caller is never changed (the step works on copies).
        """
        return bool(self.__dict__.get("_owns_input", False))

    def _copy_input(self, model: Any) -> Any:
        """The copy a standalone run works on (subclasses may carry extra state)."""
        return model.copy()

    def _remove_written(self) -> None:
        for path in self.__dict__.get("_written", []):
            try:
                os.remove(path)
                log.info("Removed %s written before the failure", path)
            except OSError:
                pass

    def _run_model(self, model: Any) -> Any:
        if _is_library(model) and self.library_mode == "member":
            return self._run_members(model)
        start = time.monotonic()
        log.info("Step %s running with model %s", self.name, _model_name(model))
        if self.skip and _is_library(model):
            log.info("Step %s skipped (skip=True)", self.name)
            return model
        if self.skip:
            log.info("Step %s skipped (skip=True)", self.name)
            self._set_status(model, "SKIPPED")
            return model
        try:
            self._resolve_references(model)
            result = self.process(model)
        except StepSkipped as why:
            log.info("Step %s skipped: %s", self.name, why)
            self._set_status(model, "SKIPPED")
            return model
        for product in _as_tuple(result):
            if _is_library(product):
                self._finalize_library(product, "COMPLETE")
            else:
                self._set_status(product, "COMPLETE")
                self.finalize_result(product)
        log.info("Step %s done in %.2f s", self.name, time.monotonic() - start)
        return result

    def _run_members(self, library: Any) -> Any:
        """Run the step on each member of ``library``; return a new library of the results.

        Each member is borrowed, copied and returned unchanged, so the input
        library is never modified; references are chosen for each member (members
        may be of different detectors or filters) and recorded in its result
        (``R_*``, ``S_*``, CAL_VER, CRDS_CTX).
        """
        start = time.monotonic()
        log.info("Step %s running on %d members of %s", self.name, len(library),
                 _model_name(library))  # fmt: skip
        results = library.derived()
        for index in range(len(library)):
            results.add_result(index, self._run_model(library.copy_of(index)))
        log.info("Step %s done on %d members in %.2f s", self.name, len(library),
                 time.monotonic() - start)  # fmt: skip
        return results

    def _finalize_library(self, library: Any, status: str) -> None:
        """Record status and provenance in every member of a library result (only the
        provenance for a step whose ``process`` records each member's status itself)."""
        with library:
            for index in range(len(library)):
                model = library.borrow(index)
                if not self.records_member_status:
                    self._set_status(model, status)
                self.finalize_result(model)
                library.shelve(model, index)

    def process(self, model: Any) -> Any:
        """Do the step's work on ``model`` and return the result (subclasses)."""
        raise NotImplementedError

    # ----------------------------------------------------------------- references
    def resolve_references(self, model: Any) -> None:
        """Find every reference file the step needs for ``model`` (recorded as R_*).

        Raises
        ------
        StepSkipped
            If a required reference is not applicable (N/A), or the step does
            not apply to the exposure.
        """
        self._resolve_references(model)

    def _resolve_references(self, model: Any) -> None:
        """Find every reference file; skip the step when a required one is N/A."""
        self._references_used.clear()
        for reftype in self.reference_file_types:
            path = self.get_reference_file(model, reftype)
            if path is None and reftype not in self.optional_reference_types:
                raise StepSkipped(f"no {reftype} reference file applies (N/A)")

    def get_reference_file(self, model: Any, reftype: str) -> str | None:
        """Return the path of the ``reftype`` reference, or None when it is N/A.

        An ``override_<reftype>`` parameter wins over CRDS; the value ``"N/A"``
        means not applicable.

        Raises
        ------
        ReferenceLookupError, CrdsUnavailableError
            From the CRDS client when no reference can be found.
        """
        return self.reference_choice(model, reftype).path

    def reference_choice(self, model: Any, reftype: str) -> Any:
        """The ``reftype`` reference for ``model`` and the R_* value it records.

        Found once per run by :func:`webbcal.stpipe.references.choose_reference`
        (``override_<reftype>`` > the pipeline's prefetched answer > CRDS).

        Returns
        -------
        ReferenceChoice
            ``path`` (None for N/A) and ``recorded``.
        """
        from .references import choose_reference

        if reftype not in self._references_used:
            self._references_used[reftype] = choose_reference(
                reftype,
                override=self._values.get(f"override_{reftype}"),
                prefetched=self._prefetched_for(model),
                lookup=lambda rt: self._crds_reference(model, rt),
                owner=self.name,
            )
        return self._references_used[reftype]

    def open_reference(
        self, model: Any, reftype: str, model_class: type, *, fast: bool = False
    ) -> Any:
        """Find, log and open the ``reftype`` reference for ``model``.

        With ``fast`` a plainly valid file is read with astropy alone
        (:func:`webbcal.lib.reffiles.load_reference`); the arrays and errors are
        the same.

        Returns
        -------
        DataModel
            The reference opened as ``model_class``, checked to belong to the
            science instrument and detector.

        Raises
        ------
        ReferenceFileError
            If the file cannot be read or belongs to another detector.
        StepSkipped
            If the reference is not applicable (N/A).
        """
        from ..lib.reffiles import load_reference

        path = self.get_reference_file(model, reftype)
        log.info("Using %s reference file %s", reftype.upper(), path)
        if path is None:
            raise StepSkipped(f"no {reftype} reference file applies (N/A)")
        return load_reference(path, model_class, model, fast=fast)

    def open_reference_section(self, model: Any, reftype: str, geometry: Any, *, ndim: int) -> Any:
        """Find and log the ``reftype`` reference and open it for reading by rows.

        Returns
        -------
        ReferenceSection
            Rows of its arrays read on demand (:mod:`webbcal.lib.refsection`);
            the caller closes it.

        Raises
        ------
        StepSkipped
            If the reference is not applicable (N/A).
        ReferenceFileError
            If the file cannot be read or belongs to another detector.
        SectionUnsupported
            If its SCI cannot be read by sections (the step reads it whole).
        """
        from .references import open_section

        path = self.get_reference_file(model, reftype)
        log.info("Using %s reference file %s", reftype.upper(), path)
        if path is None:
            raise StepSkipped(f"no {reftype} reference file applies (N/A)")
        return open_section(path, model, geometry, ndim=ndim, what=reftype)

    def _crds_reference(self, model: Any, reftype: str) -> str | None:
        from ..crds_client import best_references

        refs = best_references(model.get_crds_parameters(), [reftype], filename=_model_name(model))
        return refs[reftype]

    def _prefetched_for(self, model: Any) -> dict[str, str | None] | None:
        """References the pipeline prefetched for ``model`` (None: nothing prefetched)."""
        return self._root().prefetched_for(model)

    def prefetched_for(self, model: Any) -> dict[str, str | None] | None:
        """References prefetched for ``model`` by this step (a Pipeline prefetches)."""
        return self._prefetched

    def _root(self) -> Step:
        node = self
        while node.parent is not None:
            node = node.parent
        return node

    def required_reference_types(self) -> tuple[str, ...]:
        """Reference types this step would look up (empty when skipped)."""
        if self.skip:
            return ()
        return tuple(
            r for r in self.reference_file_types if self._values.get(f"override_{r}") is None
        )

    def required_reference_types_for(self, model: Any) -> tuple[str, ...]:
        """Reference types this step would look up for ``model`` (a pipeline prefetches
        them); steps whose references depend on the mode override this."""
        return self.required_reference_types()

    # ----------------------------------------------------------------- provenance
    def _set_status(self, model: Any, status: str) -> None:
        if self.cal_step_name and hasattr(model, "meta"):
            setattr(model.meta.cal_step, self.cal_step_name, status)

    def finalize_result(self, result: Any) -> None:
        """Record software versions, CRDS context and reference files in ``result``."""
        if not hasattr(result, "meta"):
            return
        record_software(result)
        if self._references_used:
            for reftype, (_, recorded) in self._references_used.items():
                node = getattr(result.meta.ref_file, reftype, None)
                if node is not None:
                    node.name = recorded
            record_crds(result)

    def _store_logs(self, result: Any) -> None:
        if not hasattr(result, "meta"):
            return
        if not result.hasattr("cal_logs"):
            result.cal_logs = {}
        setattr(result.cal_logs, self.class_alias or self.name, list(self._log_records))

    # ----------------------------------------------------------------- saving
    @property
    def output_suffix(self) -> str:
        """Suffix of this step's saved result."""
        return self.suffix or self.class_alias or self.name

    def product_path(self, model: Any, suffix: str | None = None) -> str:
        """Where :meth:`save_model` writes ``model`` (JWST naming convention)."""
        from .naming import output_path

        root = self._root()
        output_dir = self.output_dir or (root.output_dir if root is not self else None)
        output_file = self.output_file
        if output_file is None and root is not self:
            output_file = root.output_file
        return output_path(
            root._input_name or _model_name(model),
            suffix or self.output_suffix,
            output_dir=output_dir,
            output_file=output_file,
        )

    def save_result(self, result: Any, suffix: str | None = None) -> list[str]:
        """Save a step result: a model, a tuple of models, or every member of a library.

        Returns
        -------
        list of str
            The paths written.
        """
        paths: list[str] = []
        for product in _as_tuple(result):
            if _is_library(product):
                paths += self.save_library(product, suffix)
            else:
                paths.append(self.save_model(product, suffix))
        return paths

    def save_library(self, library: Any, suffix: str | None = None) -> list[str]:
        """Save each member of ``library`` under the level-3 member name.

        ``<member root>_<asn_id>_<suffix>.fits`` (e.g. ``jw..._nrca1_o001_crf.fits``),
        in ``output_dir``.
        """
        paths = self._library_paths(library, suffix)
        existed = [os.path.exists(path) for path in paths]
        try:
            _write_members(library, paths)
        finally:
            self._record_written(paths, existed)
        return paths

    def save_library_beside(self, library: Any, pool: Any,
                            suffix: str | None = None) -> Any:  # fmt: skip
        """:meth:`save_library` in a worker of ``pool`` (:class:`webbcal.lib.forkmap.ForkPool`).

        The members are written as they are now (the worker has its own copy of the
        memory), while this process goes on. Returns a function that waits for the
        worker, registers the files written (removed if the run fails) and returns
        their paths, or raises the worker's error.
        """
        paths = self._library_paths(library, suffix)
        existed = [os.path.exists(path) for path in paths]
        pending = pool.submit(_write_members, library, paths)

        def finish() -> list[str]:
            try:
                pending()
            finally:
                self._record_written(paths, existed)
            return paths

        return finish

    def _library_paths(self, library: Any, suffix: str | None) -> list[str]:
        from .naming import member_output_path

        root = self._root()
        output_dir = self.output_dir or (root.output_dir if root is not self else None)
        suffix = suffix or self.output_suffix
        asn_id = library.asn.asn_id
        return [member_output_path(library.member_name(index), suffix, asn_id=asn_id,
                                   output_dir=output_dir)
                for index in range(len(library))]  # fmt: skip

    def _record_written(self, paths: list[str], existed: list[bool]) -> None:
        """Register the files of ``paths`` this run created (removed if it fails)."""
        written = self._root().__dict__.setdefault("_written", [])
        for path, was in zip(paths, existed, strict=True):
            if not was and os.path.exists(path):
                written.append(path)

    def save_ecsv(self, table: Any, path: str) -> str:
        """Write an astropy table as ECSV (``path`` with its extension made ``.ecsv``),
        atomically (temporary file, then rename), and register it as written by this run.

        Returns
        -------
        str
            The path written.
        """
        import tempfile

        path = os.path.splitext(path)[0] + ".ecsv"
        existed = os.path.exists(path)
        directory = os.path.dirname(os.path.abspath(path))
        os.makedirs(directory, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".tmp_webbcal_", suffix=".ecsv", dir=directory)
        os.close(fd)
        try:
            table.write(tmp, format="ascii.ecsv", overwrite=True)
            os.replace(tmp, path)
        except BaseException:
            if os.path.exists(tmp):
                os.remove(tmp)
            raise
        if not existed:
            self.record_output(path)
        log.info("Wrote %s", path)
        return path

    def save_named(self, result: Any) -> list[str]:
        """Save each model of ``result`` (a model or a tuple of models) under the file
        name it carries (``meta.filename``), in ``output_dir`` (the working folder when
        unset): the pipelines that name their products after association products.

        Returns
        -------
        list of str
            The paths written.
        """
        from ..datamodels import save_model

        output_dir = self.output_dir or os.getcwd()
        paths = []
        for model in _as_tuple(result):
            path = os.path.join(output_dir, model.meta.filename)
            existed = os.path.exists(path)
            save_model(model, path)
            if not existed:
                self.record_output(path)
            paths.append(path)
        return paths

    def save_model(self, model: Any, suffix: str | None = None) -> str:
        """Save ``model`` under the JWST naming convention and return its path."""
        from ..datamodels import save_model

        root = self._root()
        path = self.product_path(model, suffix)
        existed = os.path.exists(path)
        save_model(model, path)
        if not existed:
            root.__dict__.setdefault("_written", []).append(path)
        return path

    def save_model_beside(self, model: Any, pool: Any, suffix: str | None = None) -> Any:
        """:meth:`save_model` in a worker of ``pool`` (:class:`webbcal.lib.forkmap.ForkPool`).

        The metadata that saving updates in the model (``on_save``: file name, model
        type, date) is updated here first, so that this process goes on with the model
        as a save would leave it; the worker writes the model as it is now. Returns a
        function that waits for the worker, registers the file and returns its path,
        or raises the worker's error.
        """
        from ..datamodels import save_model

        path = self.product_path(model, suffix)
        existed = os.path.exists(path)
        model.on_save(path)
        pending = pool.submit(save_model, model, path)

        def finish() -> str:
            try:
                pending()
            finally:
                self._record_written([path], [existed])
            return path

        return finish

    def record_output(self, path: str) -> None:
        """Register a file written by this run, so a failed run removes it."""
        self._root().__dict__.setdefault("_written", []).append(os.fspath(path))

    @property
    def _input_name(self) -> str | None:
        return self.__dict__.get("_input_filename")


def _write_members(library: Any, paths: list[str]) -> None:
    """Write member ``k`` of ``library`` to ``paths[k]`` (atomically, each)."""
    from ..datamodels import save_model

    with library:
        for index, path in enumerate(paths):
            model = library.borrow(index)
            try:
                save_model(model, path)
            finally:
                library.shelve(model, index, modify=False)


def _as_tuple(result: Any) -> tuple:
    return result if isinstance(result, tuple) else (result,)


def _is_library(obj: Any) -> bool:
    from ..datamodels.library import ModelLibrary

    return isinstance(obj, ModelLibrary)


def _model_name(model: Any) -> str:
    if _is_library(model):
        products = model.asn.products
        return (products[0].name if products and products[0].name else None) or (
            os.path.basename(model.asn.path) if model.asn.path else "<model library>"
        )
    meta = getattr(model, "meta", None)
    name = getattr(meta, "filename", None) if meta is not None else None
    return name or "<in-memory model>"


def record_software(model: Any) -> None:
    """Write CAL_VER/CAL_VCS identifying webbcal as the software that made ``model``."""
    model.meta.calibration_software_version = __version__
    model.meta.calibration_software_revision = f"webbcal-{__version__}"


def record_crds(model: Any) -> None:
    """Write CRDS_VER and CRDS_CTX of the CRDS client in use."""
    from ..crds_client import crds_version, get_context_name

    try:
        model.meta.ref_file.crds.sw_version = crds_version()
        model.meta.ref_file.crds.context_used = get_context_name(model.get_crds_parameters())
    except Exception as exc:  # provenance must not fail a finished calibration
        # Said once per process and reason: every step of a run would repeat it.
        text = str(exc)
        if text in _CRDS_CONTEXT_WARNED:
            log.debug("Could not record the CRDS context: %s", text)
        else:
            _CRDS_CONTEXT_WARNED.add(text)
            log.warning("Could not record the CRDS context: %s", text)


#: Reasons already reported by :func:`record_crds` in this process.
_CRDS_CONTEXT_WARNED: set[str] = set()
