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
pool, generate, make_pool
    DMS association pools, the rule-based association generator (``asn_generate``)
    and pools made from file headers (``asn_make_pool``).

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

__all__ = [
    "MEMBER_ROLES",
    "Association",
    "AssociationError",
    "Member",
    "Product",
    "load_association",
    "write_association",
]
