"""JWST associations: reading, validating and writing association files, and making them.

An association (official JSON format) lists the exposures that a stage-2 or
stage-3 pipeline processes together: ``products[{name, members[{expname,
exptype}]}]`` plus the identification fields ``asn_type``, ``asn_rule``,
``asn_id``, ``program``, ``target``, ``asn_pool`` and ``version_id``.

Modules
-------
asn
    The :class:`Association` object, :func:`load_association`, :func:`write_association`.
from_list
    :func:`asn_from_list` (the official ``asn_from_list``).
pool, generate, make_pool, rules
    DMS association pools (:func:`read_pool`), the rule-based association
    generator (``generate.generate``, ``webbcal asn generate``, the official
    ``asn_generate``), the default rules, and pools made from file headers
    (``make_pool.make_pool``, ``webbcal asn make-pool``, the official
    ``asn_make_pool``).

References
----------
JWST pipeline documentation, "Associations": "Association Files", "Level 2
Associations: Technical Specifications", "Level 3 Associations: Technical
Specifications", "asn_from_list", "asn_generate", "asn_make_pool".
"""

from .asn import (
    MEMBER_ROLES,
    Association,
    AssociationError,
    Member,
    Product,
    load_association,
    write_association,
)
from .generate import GenerateError
from .pool import Pool, PoolError, read_pool

__all__ = [
    "MEMBER_ROLES",
    "Association",
    "AssociationError",
    "GenerateError",
    "Pool",
    "PoolError",
    "Member",
    "Product",
    "load_association",
    "read_pool",
    "write_association",
]
