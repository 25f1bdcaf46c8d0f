"""Reading stage-1 reference files with astropy alone, as stdatamodels would read them.

Opening a reference through a stdatamodels model walks its schema, validates every
header keyword against it and reads every array, about 0.1 s per file before any
array is used. The streaming executor needs only a few keywords and one or two
arrays (or a few rows and columns of them), so :func:`open_fits_reference` reads
those directly, and only for files whose layout is the plain one the model would
read without surprises:

* the model class is one of the stage-1 reference models listed in
  :data:`FAST_MODELS` and the file has no ``ASDF`` extension (whose tree could
  supply metadata the headers do not);
* every header keyword the model's schema maps is certainly valid under a
  conservative check of its schema rules (``type``, ``enum``, ``pattern``,
  ``anyOf``), so stdatamodels would emit no ``ValidationWarning``;
* the arrays it reads, and the schema's other arrays the file has, are single,
  unscaled or pseudo-unsigned image extensions whose data type is the schema's
  (any byte order) and whose dimensionality is the schema's, stored completely
  in the file; every header card parses without a warning;
* the ``DQ_DEF`` table, when there is one, has the four standard columns and only
  standard flag names.

Anything else returns None, and the caller opens the model as before, so every
message, warning and error of that path is unchanged.

Data quality arrays of reference files store flags in their own bit planes,
defined by the ``DQ_DEF`` table (columns BIT, VALUE, NAME, DESCRIPTION); reading
translates them to the standard JWST pixel flags: a pixel gets the standard flag
of every ``DQ_DEF`` row whose VALUE bits it has set.

References
----------
JWST pipeline documentation, "Reference File Information": "Data quality flags"
(the DQ_DEF extension of reference files) and the per-step reference pages
(MASK, SATURATION, SUPERBIAS, LINEARITY, GAIN, READNOISE, IPC).
stdatamodels: reading FITS files through the model schema (``fits_keyword`` and
``fits_hdu`` entries), validation of keywords on read, and the dynamic DQ mask
applied to reference models with a ``dq_def`` table.
"""

from __future__ import annotations

import functools
import logging
import os
import re
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..dqflags import PIXEL

__all__ = ["FAST_MODELS", "FitsReference", "open_fits_reference", "translate_dq"]

log = logging.getLogger(__name__)

#: Reference model classes read by :func:`open_fits_reference`: class name ->
#: (arrays the stage-1 steps use, primary array, whether DQ is translated through
#: DQ_DEF as the model does for reference files with the default-DQ behaviour).
FAST_MODELS: dict[str, tuple[tuple[str, ...], str, bool]] = {
    "MaskModel": (("dq",), "dq", True),
    "SaturationModel": (("data", "dq"), "data", True),
    "SuperBiasModel": (("data", "dq"), "data", True),
    "LinearityModel": (("coeffs", "dq"), "coeffs", True),
    "GainModel": (("data",), "data", False),
    "ReadnoiseModel": (("data",), "data", False),
    "IPCModel": (("data",), "data", False),
}

#: Schema entries that do not constrain a keyword's value.
_ANNOTATIONS = frozenset(
    {"title", "description", "fits_keyword", "fits_hdu", "default", "blend_table", "blend_rule"}
)
_DQ_DEF_COLUMNS = ("BIT", "VALUE", "NAME", "DESCRIPTION")
#: Widest NAME the schema's DQ_DEF table keeps (longer names would be cut).
_DQ_DEF_NAME_WIDTH = 40


@dataclass(frozen=True)
class _ArraySpec:
    extname: str
    dtype: np.dtype
    ndim: int | None
    max_ndim: int | None


@dataclass(frozen=True)
class _KeywordSpec:
    path: tuple[str, ...]
    keyword: str
    extname: str | int
    schema: dict


@dataclass(frozen=True)
class _Layout:
    arrays: dict[str, _ArraySpec]
    keywords: tuple[_KeywordSpec, ...]
    #: Default values of keyword paths (for keywords absent from the header).
    defaults: dict[tuple[str, ...], Any]


class _Node:
    """A metadata node: attributes the schema defines, None (or default) when unset."""

    def __init__(self, path: tuple[str, ...]) -> None:
        self._path = path

    def __repr__(self) -> str:
        fields = {k: v for k, v in vars(self).items() if not k.startswith("_")}
        return f"<meta {'.'.join(self._path) or 'meta'} {fields}>"


@dataclass
class _ArrayInfo:
    extname: str
    shape: tuple[int, ...]
    #: dtype of the array astropy gives (scaled); the file's integers are stored
    #: with the sign bit flipped when ``pseudo_unsigned`` (BZERO = 2**(bits - 1)).
    dtype: np.dtype
    pseudo_unsigned: bool = False


class FitsReference:
    """A reference file read with astropy: its metadata and lazily read arrays.

    Built by :func:`open_fits_reference`; offers what the stage-1 steps use of a
    stdatamodels reference model (``meta.filename``, ``meta.instrument``,
    ``meta.subarray`` and the arrays as attributes), plus :meth:`read` and
    :meth:`shape` to read part of an array. Arrays are read when asked for, each
    time from the file (which is not kept open); ``dq`` is translated to standard
    flags through DQ_DEF.

    Attributes
    ----------
    path : str
        The file.
    model_name : str
        The stdatamodels class the file stands in for (e.g. ``"SaturationModel"``).
    meta : object
        Metadata nodes of the class's schema filled from the headers.
    native : bool
        Arrays come in native byte order (the file's type otherwise the same).
    """

    def __init__(
        self,
        path: str,
        model_name: str,
        meta: Any,
        arrays: dict[str, _ArrayInfo],
        dq_def: list[tuple[int, int]] | None,
        native: bool = False,
    ) -> None:
        self.path = path
        self.native = native
        self.model_name = model_name
        self.meta = meta
        self._arrays = arrays
        self._dq_def = dq_def

    def __repr__(self) -> str:
        return f"<FitsReference {self.model_name} {os.path.basename(self.path)}>"

    def __getattr__(self, name: str) -> np.ndarray:
        arrays = self.__dict__.get("_arrays", {})
        if name in arrays:
            return self.read(name)
        raise AttributeError(f"{type(self).__name__} has no attribute {name!r}")

    def shape(self, attribute: str) -> tuple[int, ...]:
        """Shape of an array as stored in the file.

        Raises
        ------
        KeyError
            If ``attribute`` was not opened (it is not in :data:`FAST_MODELS`).
        """
        return self._arrays[attribute].shape

    def read(
        self, attribute: str, rows: slice | None = None, cols: slice | None = None
    ) -> np.ndarray:
        """Read an array, or the rows and columns (last two axes) given, from the file.

        Parameters
        ----------
        attribute : str
            ``data``, ``dq`` or ``coeffs``.
        rows, cols : slice or None
            Parts of the last two axes to read (None: all).

        Returns
        -------
        ndarray
            A new array with the dtype the stdatamodels model gives (the file's,
            byte order included, or in native byte order when :attr:`native`);
            ``dq`` as standard JWST flags.
        """
        from astropy.io import fits

        info = self._arrays[attribute]
        # Unscaled integers are read as stored and made unsigned here: a pass
        # cheaper than astropy's scaling, with the same values and dtype.
        with fits.open(
            self.path, memmap=False, lazy_load_hdus=True, do_not_scale_image_data=True
        ) as hdul:
            hdu = hdul[info.extname]
            if rows is None and cols is None:
                raw = hdu.data
            else:
                raw = hdu.section[(Ellipsis, rows or slice(None), cols or slice(None))]
        out = np.asarray(raw).astype(info.dtype, copy=False)
        if self.native and not out.dtype.isnative:
            # The array was just read for us alone: swap its bytes where it lies.
            swapped = out.dtype.newbyteorder("=")
            if out.flags.writeable and out.flags.c_contiguous:
                out = out.byteswap(inplace=True).view(swapped)
            else:
                out = out.astype(swapped)
        if info.pseudo_unsigned:
            out ^= np.array(1 << (8 * info.dtype.itemsize - 1), dtype=info.dtype)
        if attribute == "dq" and self._dq_def is not None:
            out = translate_dq(out, self._dq_def)
        return out


def translate_dq(raw: np.ndarray, dq_def: list[tuple[int, int]]) -> np.ndarray:
    """Standard flags of a reference DQ array stored in the file's own bit planes.

    Parameters
    ----------
    raw : ndarray, unsigned integers, any shape
        DQ as stored in the file.
    dq_def : list of (int, int)
        ``(VALUE, standard flag)`` of the DQ_DEF rows: a pixel with a bit of
        VALUE gets the standard flag (as stdatamodels translates references).

    Returns
    -------
    ndarray, shape and dtype of ``raw``
    """
    from ._dq_translate import translate_flags

    values = np.array([v for v, _ in dq_def], dtype=np.uint64)
    standard = np.array([f for _, f in dq_def], dtype=np.uint64)
    native = raw if raw.dtype.isnative else raw.astype(raw.dtype.newbyteorder("="))
    out = translate_flags(np.ascontiguousarray(native).reshape(-1), values, standard)
    return out.reshape(raw.shape).astype(raw.dtype, copy=False)


def open_fits_reference(
    path: str, model_class: type, *, native: bool = False
) -> FitsReference | None:
    """Open a stage-1 reference file without stdatamodels when that is certainly equivalent.

    Parameters
    ----------
    path : str
        Reference file path.
    model_class : type
        The stdatamodels class the file would be opened as (e.g. ``SaturationModel``);
        its schema gives the keywords, extensions and data types.
    native : bool
        Give arrays in native byte order (FITS stores them big-endian); the
        values and type are the same.

    Returns
    -------
    FitsReference or None
        The reference, or None when the file does not have the plain layout this
        reader handles (see the module documentation); the caller then opens the
        model, which reports any problem as before.
    """
    name = model_class.__name__
    if name not in FAST_MODELS or not os.path.isfile(path):
        return None
    layout = _layout(model_class)
    if layout is None:
        return None
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            ref = _open(path, model_class, layout, native)
    except Exception as exc:  # anything unusual: let the model report it
        log.debug("%s: read through stdatamodels (%s)", path, exc)
        return None
    if caught or ref is None:
        return None
    return ref


def _open(path: str, model_class: type, layout: _Layout, native: bool) -> FitsReference | None:
    from astropy.io import fits

    name = model_class.__name__
    attributes, primary, translate = FAST_MODELS[name]
    with fits.open(path, memmap=False) as hdul:
        names = [hdu.name for hdu in hdul]
        if "ASDF" in names:
            return None
        # The model parses every card (unknown ones go to extra_fits): so do we,
        # so that a malformed card warns (and sends the file to the model) here too.
        for hdu in hdul:
            for _card in hdu.header.cards:
                _card.value  # noqa: B018
        root = _read_meta(hdul, names, layout)
        if root is None:
            return None
        arrays = {}
        size = os.path.getsize(path)
        for attr in dict.fromkeys((*attributes, primary)):
            info = _array_info(hdul, names, layout.arrays.get(attr), size)
            if info is None:
                return None
            arrays[attr] = info
        # Other arrays of the schema the file has (ERR, INV_COEFFS) must be plain too:
        # the model casts some of them when it opens.
        for attr, spec in layout.arrays.items():
            if attr not in arrays and spec.extname in names:
                if _array_info(hdul, names, spec, size) is None:
                    return None
        dq_def = None
        if translate and "DQ_DEF" in names:
            if names.count("DQ_DEF") != 1:
                return None
            dq_def = _read_dq_def(hdul["DQ_DEF"])
            if dq_def is False:
                return None
    _put(root, ("meta", "filename"), os.path.basename(path))
    _put(root, ("meta", "model_type"), name)
    return FitsReference(path, name, root.meta, arrays, dq_def or None, native)


def _read_meta(hdul, names: list[str], layout: _Layout) -> _Node | None:
    """Metadata nodes filled from the headers; None if any value might be invalid."""
    root = _Node(())
    for path, value in layout.defaults.items():
        _put(root, path, value)
    for spec in layout.keywords:
        if isinstance(spec.extname, str):
            if spec.extname not in names:
                continue
            if names.count(spec.extname) != 1:
                return None
            header = hdul[spec.extname].header
        else:
            header = hdul[spec.extname].header
        if spec.keyword not in header:
            continue
        value = header[spec.keyword]
        if type(value) not in (str, int, float, bool) or not _surely_valid(value, spec.schema):
            return None
        _put(root, spec.path, value)
    return root


def _put(root: _Node, path: tuple[str, ...], value: Any) -> None:
    node = root
    for i, key in enumerate(path[:-1]):
        child = node.__dict__.get(key)
        if not isinstance(child, _Node):
            child = _Node(path[: i + 1])
            setattr(node, key, child)
        node = child
    setattr(node, path[-1], value)


def _array_info(hdul, names: list[str], spec: _ArraySpec | None, size: int) -> _ArrayInfo | None:
    """Shape and dtype of a plain image extension matching the schema, else None."""
    from astropy.io.fits import ImageHDU

    if spec is None or names.count(spec.extname) != 1:
        return None
    index = names.index(spec.extname)
    hdu = hdul[index]
    header = hdu.header
    if not isinstance(hdu, ImageHDU) or header.get("EXTVER", 1) != 1:
        return None
    dtype = _file_dtype(header)
    shape = tuple(hdu.shape)
    if dtype is None or not shape or not np.can_cast(dtype, spec.dtype, "equiv"):
        return None
    if spec.ndim is not None and len(shape) != spec.ndim:
        return None
    if spec.max_ndim is not None and len(shape) > spec.max_ndim:
        return None
    nbytes = int(np.prod(shape)) * dtype.itemsize
    if hdul.fileinfo(index)["datLoc"] + nbytes > size:
        return None
    pseudo_unsigned = dtype.kind == "u" and dtype.itemsize > 1
    return _ArrayInfo(spec.extname, shape, dtype, pseudo_unsigned)


def _file_dtype(header) -> np.dtype | None:
    """The dtype astropy gives an image extension's data, for unscaled or
    pseudo-unsigned integers and floats; None for anything else."""
    if "BLANK" in header or header.get("BSCALE", 1) != 1:
        return None
    bitpix, bzero = header.get("BITPIX"), header.get("BZERO", 0)
    if bitpix in (-32, -64):
        return np.dtype(f">f{-bitpix // 8}") if bzero == 0 else None
    if bitpix == 8:
        return np.dtype("u1") if bzero == 0 else None
    if bitpix in (16, 32, 64):
        nbytes = bitpix // 8
        if bzero == 0:
            return np.dtype(f">i{nbytes}")
        if bzero == 2 ** (bitpix - 1):
            return np.dtype(f"u{nbytes}")
    return None


def _read_dq_def(hdu) -> list[tuple[int, int]] | bool:
    """(VALUE, standard flag) of every DQ_DEF row; False if the table is not plain."""
    from astropy.io.fits import BinTableHDU

    if not isinstance(hdu, BinTableHDU) or hdu.header.get("EXTVER", 1) != 1:
        return False
    cols = hdu.columns
    if tuple(c.name.upper() for c in cols) != _DQ_DEF_COLUMNS:
        return False
    formats = [str(c.format) for c in cols]
    widths = [_DQ_DEF_NAME_WIDTH, 80]
    if any(re.fullmatch(r"1?[BIJK]", f) is None for f in formats[:2]):
        return False
    for fmt, width in zip(formats[2:], widths, strict=True):
        match = re.fullmatch(r"(\d*)A", fmt)
        if match is None or int(match.group(1) or 1) > width:
            return False
    table = hdu.data
    if table is None or len(table) == 0:
        return []
    out = []
    for value, flag in zip(table.field(1), table.field(2), strict=True):
        value = int(value)
        flag = flag.decode("ascii") if isinstance(flag, bytes) else str(flag)
        standard = PIXEL.get(flag.strip())
        if standard is None or not 0 <= value < 2**32:
            return False
        out.append((value, int(standard)))
    return out


# --------------------------------------------------------------------------- schema
@functools.cache
def _layout(model_class: type) -> _Layout | None:
    """Keywords and arrays of a model class's schema, as its FITS reader maps them."""
    from stdatamodels.schema import walk_schema

    arrays: dict[str, _ArraySpec] = {}
    keywords: list[_KeywordSpec] = []
    defaults: dict[tuple[str, ...], Any] = {}
    unsupported = []

    def callback(schema, path, combiner, ctx, recurse):
        if not isinstance(schema, dict):
            return None
        if "fits_keyword" in schema:
            if "tag" in schema or combiner is not None:
                unsupported.append(path)
            hdu = schema.get("fits_hdu")
            extname = 0 if hdu in (None, "PRIMARY") else hdu
            keywords.append(_KeywordSpec(tuple(path), schema["fits_keyword"], extname, schema))
            defaults[tuple(path)] = schema.get("default")
        elif "fits_hdu" in schema and ("max_ndim" in schema or "ndim" in schema
                                       or "datatype" in schema):  # fmt: skip
            datatype = schema.get("datatype")
            if len(path) == 1 and isinstance(datatype, str):
                from asdf.tags.core.ndarray import asdf_datatype_to_numpy_dtype

                arrays[path[0]] = _ArraySpec(
                    schema["fits_hdu"], asdf_datatype_to_numpy_dtype(datatype),
                    schema.get("ndim"), schema.get("max_ndim"),
                )  # fmt: skip
        if schema.get("type") == "array" and "fits_hdu" in repr(schema.get("items")):
            unsupported.append(path)
            return True
        return None

    walk_schema(model_class()._schema, callback)
    if unsupported:
        log.debug("%s: schema not read directly (%s)", model_class.__name__, unsupported)
        return None
    return _Layout(arrays, tuple(keywords), defaults)


def _surely_valid(value: Any, schema: dict) -> bool:
    """True only when ``value`` certainly satisfies the keyword's schema rules.

    Understands ``type``, ``enum``, ``pattern`` and ``anyOf``; any other rule, or a
    value that might fail one, gives False (the caller then lets stdatamodels
    validate, and warn, as usual).
    """
    for key, rule in schema.items():
        if key in _ANNOTATIONS:
            continue
        if key == "type":
            ok = any(_is_type(value, t) for t in (rule if isinstance(rule, list) else [rule]))
        elif key == "enum":
            ok = any(type(value) is type(e) and value == e for e in rule)
        elif key == "pattern":
            ok = isinstance(value, str) and re.search(rule, value) is not None
        elif key == "anyOf":
            ok = any(isinstance(s, dict) and _surely_valid(value, s) for s in rule)
        else:
            return False
        if not ok:
            return False
    return True


def _is_type(value: Any, name: str) -> bool:
    if isinstance(value, bool):
        return name == "boolean"
    return {
        "string": isinstance(value, str),
        "integer": isinstance(value, int),
        "number": isinstance(value, (int, float)),
    }.get(name, False)
