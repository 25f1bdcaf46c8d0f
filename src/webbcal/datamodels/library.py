"""ModelLibrary: the exposures of an association, loaded lazily, borrowed and shelved.

A stage-2/3 step that works on many exposures receives a :class:`ModelLibrary`.
Members are opened only when borrowed. Every borrowed model must be shelved
(returned) before the library is closed, so a step cannot leave a modified
member behind by accident::

    library = ModelLibrary("jw01234-o001_image3_00001_asn.json", on_disk=True)
    with library:
        for index, model in enumerate(library):
            model.data -= 1.0
            library.shelve(model, index)          # keep the change
    with library:
        model = library.borrow(0)
        print(model.meta.filename)
        library.shelve(model, 0, modify=False)    # looked at, not changed

With ``on_disk=True`` a shelved, modified model is written to a temporary folder
and dropped from memory: at most the models currently borrowed are held in
memory, whatever the number of members. Otherwise models stay in memory once
loaded.

Exposures of one observation, visit and exposure number (the detectors of one
exposure) share a ``group_id`` (``jw<program><obs><visit>_<visitgroup><seqid>
<actid>_<exposure>``), which alignment and outlier detection use to treat them
together.

References
----------
JWST pipeline documentation, "ModelLibrary" (jwst.datamodels) and "Association
Files"; the official ``group_id`` rule in "tweakreg: exposure groups".
"""

from __future__ import annotations

import gc
import logging
import os
import shutil
import tempfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..associations.asn import Association, AssociationError, Member, load_association

__all__ = ["BorrowError", "ClosedLibraryError", "LibraryMember", "ModelLibrary", "group_id"]

log = logging.getLogger(__name__)

#: Primary-header keyword -> ``meta.observation`` attribute used by the group id.
GROUP_ID_KEYWORDS: dict[str, str] = {
    "PROGRAM": "program_number",
    "OBSERVTN": "observation_number",
    "VISIT": "visit_number",
    "VISITGRP": "visit_group",
    "SEQ_ID": "sequence_id",
    "ACT_ID": "activity_id",
    "EXPOSURE": "exposure_number",
}


class BorrowError(RuntimeError):
    """A model was borrowed twice, shelved without being borrowed, or never returned."""


class ClosedLibraryError(RuntimeError):
    """A model was borrowed or shelved outside a ``with library:`` block."""


def group_id(observation: dict[str, Any], *, source: str = "<model>") -> str:
    """The exposure-group id of an exposure.

    Parameters
    ----------
    observation : dict
        ``meta.observation`` values: program_number, observation_number,
        visit_number, visit_group, sequence_id, activity_id, exposure_number
        (strings as in the FITS headers PROGRAM, OBSERVTN, VISIT, VISITGRP,
        SEQ_ID, ACT_ID, EXPOSURE).
    source : str
        File named in the error.

    Returns
    -------
    str
        ``jw<program><obs><visit>_<visitgroup><seqid><actid>_<exposure>``.

    Raises
    ------
    AssociationError
        If one of the values is missing.

    Examples
    --------
    >>> group_id({"program_number": "01234", "observation_number": "001",
    ...           "visit_number": "001", "visit_group": "01", "sequence_id": "1",
    ...           "activity_id": "01", "exposure_number": "00001"})
    'jw01234001001_01101_00001'
    """
    missing = [
        key for key, attr in GROUP_ID_KEYWORDS.items() if observation.get(attr) in (None, "")
    ]
    if missing:
        raise AssociationError(
            f"{source}: cannot form the exposure group id: missing keyword(s) "
            f"{', '.join(missing)} in the primary header"
        )
    o = observation
    return (
        f"jw{o['program_number']}{o['observation_number']}{o['visit_number']}"
        f"_{o['visit_group']}{o['sequence_id']}{o['activity_id']}_{o['exposure_number']}"
    )


def _header_group_id(path: str) -> str:
    from astropy.io import fits

    try:
        header = fits.getheader(path, 0)
    except Exception as exc:  # astropy raises many types for damaged files
        raise AssociationError(f"{path}: cannot read the primary header: {exc}") from None
    values = {attr: header.get(key) for key, attr in GROUP_ID_KEYWORDS.items()}
    return group_id({k: None if v is None else str(v) for k, v in values.items()}, source=path)


def _model_group_id(model: Any) -> str:
    obs = model.meta.observation
    values = {attr: getattr(obs, attr, None) for attr in GROUP_ID_KEYWORDS.values()}
    return group_id(values, source=getattr(model.meta, "filename", None) or "<model>")


@dataclass
class LibraryMember:
    """What the library knows of a member without opening it.

    Attributes
    ----------
    exptype : str
        Member role (``science``, ``background``...).
    path : str or None
        File of the member (None for a model given in memory).
    expname : str
        Name of the member as in the association.
    group_id : str or None
        Exposure group (computed when first asked for).
    product : str or None
        Name of the association product the member belongs to.
    extra : dict
        Other member keys of the association (``tweakreg_catalog``...).
    """

    exptype: str
    path: str | None
    expname: str
    group_id: str | None = None
    product: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


class ModelLibrary(Sequence):
    """The exposures of an association, loaded lazily and lent out one at a time.

    Parameters
    ----------
    init : str, Association, or sequence of str or DataModel
        An association file (``.json``) or object, a list of product files, or a
        list of open models.
    on_disk : bool
        Keep members on disk: a shelved modified model is written to a temporary
        folder and released (the official ``in_memory=False``).
    asn_exptypes : str or sequence of str or None
        Only members with these roles (e.g. ``"science"``); all when None.
    asn_n_members : int or None
        Only the first ``asn_n_members`` members (after the role filter).
    temp_directory : str or None
        Where on-disk copies are written (a new folder inside it); the system
        temporary folder when None.

    Notes
    -----
    Models given in memory are used as they are (not copied): the library sets
    their ``meta.asn.exptype``, ``meta.asn.pool_name``/``table_name`` and
    ``meta.group_id``, as the official library does.

    Raises
    ------
    AssociationError
        If the association is malformed, a member file does not exist, or the
        selection leaves no member.
    """

    def __init__(
        self,
        init: Any,
        *,
        on_disk: bool = False,
        asn_exptypes: str | Sequence[str] | None = None,
        asn_n_members: int | None = None,
        temp_directory: str | None = None,
    ) -> None:
        self._asn, self._members, models = _members_of(init)
        if asn_exptypes is not None:
            roles = {asn_exptypes} if isinstance(asn_exptypes, str) else set(asn_exptypes)
            roles = {r.lower() for r in roles}
            keep = [i for i, m in enumerate(self._members) if m.exptype in roles]
            self._members = [self._members[i] for i in keep]
            models = {new: models[old] for new, old in enumerate(keep) if old in models}
        if asn_n_members is not None:
            self._members = self._members[:asn_n_members]
            models = {i: m for i, m in models.items() if i < asn_n_members}
        if not self._members:
            raise AssociationError(f"{self._source()}: no member left to process")
        missing = [m.expname for m in self._members if m.path and not os.path.exists(m.path)]
        if missing:
            raise AssociationError(
                f"{self._source()}: {len(missing)} member(s) not found (paths relative to "
                f"{self._asn.base_dir}): {', '.join(missing)}"
            )
        self._init_storage(bool(on_disk), temp_directory)
        for index, model in models.items():
            self._attach(model, self._members[index])
            if self._on_disk:
                self._spill(model, index, release=False)
            else:
                self._loaded[index] = model

    # ------------------------------------------------------------------ description
    @property
    def asn(self) -> Association:
        """The association the library was made from (built for a list of files)."""
        return self._asn

    @property
    def on_disk(self) -> bool:
        """Whether modified members are kept on disk rather than in memory."""
        return self._on_disk

    @property
    def members(self) -> list[LibraryMember]:
        """What is known of each member without opening it (a copy of the list)."""
        return list(self._members)

    def __len__(self) -> int:
        return len(self._members)

    def __getitem__(self, index: Any) -> Any:
        raise TypeError(
            "ModelLibrary members are borrowed, not indexed: use `with library: "
            "model = library.borrow(i) ... library.shelve(model, i)`"
        )

    def _source(self) -> str:
        return self._asn.path or "<model library>"

    def group_id_of(self, index: int) -> str:
        """Exposure group of member ``index``, read from its header (not the whole file)."""
        member = self._members[index]
        if member.group_id is None:
            if index in self._loaded:
                member.group_id = _model_group_id(self._loaded[index])
            elif member.path is not None:
                member.group_id = _header_group_id(self._temp_files.get(index, member.path))
        return member.group_id

    @property
    def group_names(self) -> list[str]:
        """Distinct exposure groups, in member order."""
        return list(self.group_indices)

    @property
    def group_indices(self) -> dict[str, list[int]]:
        """Exposure group -> indices of its members."""
        out: dict[str, list[int]] = {}
        for i in range(len(self)):
            out.setdefault(self.group_id_of(i), []).append(i)
        return out

    def indices(self, *roles: str) -> list[int]:
        """Indices of the members with the given roles (all when none given)."""
        wanted = {r.lower() for r in roles}
        return [i for i, m in enumerate(self._members) if not wanted or m.exptype in wanted]

    # ------------------------------------------------------------------ borrowing
    def __enter__(self) -> ModelLibrary:
        self._open = True
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        self._open = False
        if exc is None and self._ledger:
            names = ", ".join(self._members[i].expname for i in sorted(self._ledger))
            self._ledger.clear()
            raise BorrowError(f"{len(names.split(', '))} model(s) were not shelved: {names}")
        self._ledger.clear()

    def borrow(self, index: int) -> Any:
        """Lend member ``index``; it must be shelved before the library is closed.

        Raises
        ------
        ClosedLibraryError
            Outside a ``with library:`` block.
        BorrowError
            If the member is already borrowed.
        IndexError
            If ``index`` is out of range.
        """
        self._check_open()
        if not 0 <= index < len(self):
            raise IndexError(f"member index {index} out of range (library of {len(self)})")
        if index in self._ledger:
            raise BorrowError(f"member {index} ({self._members[index].expname}) is already lent")
        if index in self._loaded:
            model = self._loaded[index]
        else:
            model = self._load(index)
            if not self._on_disk:
                self._loaded[index] = model
        self._ledger[index] = model
        return model

    def shelve(self, model: Any, index: int | None = None, *, modify: bool = True) -> None:
        """Return a borrowed model (``modify``: keep its changes, or a replacement at ``index``).

        For an on-disk library a modified model is written to the temporary folder
        and released; an unmodified one is simply released. In memory, the model
        at ``index`` becomes ``model`` when ``modify``.

        Raises
        ------
        ClosedLibraryError
            Outside a ``with library:`` block.
        BorrowError
            If ``model`` was not borrowed (and no ``index`` is given) or ``index``
            is not lent.
        """
        self._check_open()
        if index is None:
            found = [i for i, m in self._ledger.items() if m is model]
            if not found:
                raise BorrowError("shelving a model that was not borrowed from this library")
            index = found[0]
        if index not in self._ledger:
            raise BorrowError(f"member {index} was not borrowed; it cannot be shelved")
        del self._ledger[index]
        if self._on_disk:
            if modify:
                self._spill(model, index)
            else:
                _release(model)
        elif modify:
            self._loaded[index] = model

    def __iter__(self) -> Iterator[Any]:
        """Borrow each member in turn (each must be shelved)."""
        for index in range(len(self)):
            yield self.borrow(index)

    def map_function(self, function: Callable[[Any, int], Any], *, modify: bool = False) -> list:
        """Call ``function(model, index)`` on every member and return the results.

        Each model is borrowed and shelved around the call (with ``modify``), so at
        most one member is held at a time in an on-disk library.
        """
        out = []
        with self:
            for index in range(len(self)):
                model = self.borrow(index)
                try:
                    out.append(function(model, index))
                finally:
                    self.shelve(model, index, modify=modify)
        return out

    def _check_open(self) -> None:
        if not self._open:
            raise ClosedLibraryError(
                "the ModelLibrary is closed: borrow and shelve inside `with library:`"
            )

    # ------------------------------------------------------------------ storage
    def _load(self, index: int) -> Any:
        from .io import open_model

        member = self._members[index]
        path = self._temp_files.get(index, member.path)
        if path is None:  # pragma: no cover - models given in memory are always stored
            raise AssociationError(f"member {index} has neither a file nor a model")
        model = open_model(path)
        self._attach(model, member)
        return model

    def _attach(self, model: Any, member: LibraryMember) -> None:
        """Record the member's association facts in the model (``meta.asn``, group id)."""
        if member.group_id is None:
            try:
                member.group_id = _model_group_id(model)
            except AssociationError:
                member.group_id = None
        if member.group_id is not None:
            model.meta.group_id = member.group_id
        model.meta.asn.exptype = member.exptype
        if self._asn.asn_pool:
            model.meta.asn.pool_name = self._asn.asn_pool
        if self._asn.path:
            model.meta.asn.table_name = os.path.basename(self._asn.path)

    def _spill(self, model: Any, index: int, *, release: bool = True) -> None:
        if self._temp_dir is None:
            self._temp_dir = tempfile.mkdtemp(prefix="webbcal_library_", dir=self._temp_root)
        name = os.path.basename(getattr(model.meta, "filename", None) or f"member{index}.fits")
        folder = os.path.join(self._temp_dir, str(index))
        os.makedirs(folder, exist_ok=True)
        path = os.path.join(folder, name)
        old = self._temp_files.get(index)
        model.save(path, overwrite=True)
        if old and old != path and os.path.exists(old):
            os.remove(old)
        self._temp_files[index] = path
        self._loaded.pop(index, None)
        if release:
            _release(model)

    # ------------------------------------------------------------------ steps
    def get_crds_parameters(self) -> dict[str, Any]:
        """CRDS parameters of the first science member (of the first member if none).

        Used to select ``pars-*`` parameter references for a step run on the library.
        """
        science = self.indices("science")
        index = science[0] if science else 0
        with self:
            model = self.borrow(index)
            try:
                return model.get_crds_parameters()
            finally:
                self.shelve(model, index, modify=False)

    def copy_of(self, index: int) -> Any:
        """A copy of member ``index`` that the caller owns (the member itself is unchanged).

        Borrows and shelves the member unmodified around the copy, so this may be
        called outside a ``with library:`` block.
        """
        opened_here = not self._open
        if opened_here:
            self._open = True
        try:
            member = self.borrow(index)
            try:
                return member.copy()
            finally:
                self.shelve(member, index, modify=False)
        finally:
            if opened_here:
                self._open = False

    def member_name(self, index: int) -> str:
        """File name of member ``index`` as written in the association."""
        return os.path.basename(self._members[index].expname)

    def member_file(self, index: int) -> str | None:
        """The file holding member ``index`` as the library would lend it now.

        The on-disk copy of a shelved modification, else the member's own file; None
        when the current version lives only in memory (a model given in memory, or a
        member loaded by an in-memory library, which may have been modified).
        """
        if index in self._temp_files:
            return self._temp_files[index]
        if index in self._loaded:
            return None
        return self._members[index].path

    def exptype(self, index: int) -> str:
        """Role of member ``index`` (``science``, ``background``...)."""
        return self._members[index].exptype

    def derived(self) -> ModelLibrary:
        """An empty library with this one's association, members, roles and groups.

        A step fills it with :meth:`add_result`, one result per member; it is on
        disk when this one is (each result is written to its temporary folder and
        released, so a step's results need not all fit in memory).
        """
        new = ModelLibrary.__new__(ModelLibrary)
        new._asn = self._asn
        new._members = [
            LibraryMember(m.exptype, None, m.expname, m.group_id, m.product, dict(m.extra))
            for m in self._members
        ]
        new._init_storage(self._on_disk, self._temp_root)
        return new

    def _init_storage(self, on_disk: bool, temp_root: str | None) -> None:
        """Empty storage of loaded, lent and spilled members (closed library)."""
        self._on_disk = on_disk
        self._loaded: dict[int, Any] = {}
        self._ledger: dict[int, Any] = {}
        self._temp_files: dict[int, str] = {}
        self._temp_root = temp_root
        self._temp_dir: str | None = None
        self._open = False

    def add_result(self, index: int, model: Any) -> None:
        """Store ``model`` as member ``index`` of a :meth:`derived` library.

        On disk the model is written to the temporary folder and released.
        """
        self._attach(model, self._members[index])
        if self._on_disk:
            self._spill(model, index)
        else:
            self._loaded[index] = model

    def close(self) -> None:
        """Remove the temporary copies of an on-disk library."""
        if self._temp_dir and os.path.isdir(self._temp_dir):
            shutil.rmtree(self._temp_dir, ignore_errors=True)
        self._temp_dir = None
        self._temp_files.clear()

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:  # pragma: no cover - interpreter shutdown
            pass


def _release(model: Any) -> None:
    """Close a model of an on-disk library and free it now.

    Data models hold reference cycles, so their arrays are freed only by the
    cyclic garbage collector, which counts objects, not bytes: without a
    collection here, memory grew by about one member in every five.
    """
    model.close()
    gc.collect()


def _members_of(init: Any) -> tuple[Association, list[LibraryMember], dict[int, Any]]:
    """Association, member descriptions and models given in memory, from ``init``."""
    if isinstance(init, ModelLibrary):
        raise TypeError("a ModelLibrary is already a library; pass it on rather than wrapping it")
    if isinstance(init, (str, os.PathLike)):
        path = os.fspath(init)
        if not path.endswith(".json"):
            raise AssociationError(f"{path}: expected an association file (.json)")
        init = load_association(path)
    if isinstance(init, Association):
        members = [
            LibraryMember(
                exptype=m.exptype,
                path=init.member_path(m),
                expname=m.expname,
                product=p.name,
                extra=dict(m.extra),
            )
            for p, m in init.members()
        ]
        return init, members, {}
    if isinstance(init, Iterable):
        items = list(init)
        members, models, names = [], {}, []
        for index, item in enumerate(items):
            if isinstance(item, (str, os.PathLike)):
                path = os.path.abspath(os.fspath(item))
                members.append(LibraryMember("science", path, os.path.basename(path)))
                names.append(os.path.basename(path))
            else:
                name = getattr(item.meta, "filename", None) or f"member{index}.fits"
                exptype = (getattr(item.meta.asn, "exptype", None) or "science").lower()
                members.append(LibraryMember(exptype, None, name))
                models[index] = item
                names.append(name)
        asn = Association(
            products=[_product_of(names, members)],
            asn_type="None",
            asn_rule="DMS_Level3_Base",
            asn_id="o999",
        )
        return asn, members, models
    raise TypeError(
        f"ModelLibrary takes an association, a list of files or a list of models, "
        f"not {type(init).__name__}"
    )


def _product_of(names: list[str], members: list[LibraryMember]) -> Any:
    from ..associations.asn import Product

    return Product(
        name="product", members=[Member(n, m.exptype) for n, m in zip(names, members, strict=True)]
    )
