"""The default association rules: name -> rule class, in the order they are tried.

The rules themselves are in :mod:`.rules_level2` and :mod:`.rules_level3`; each
is a constraint tree on pool columns plus how members get their roles and how
the product is named.

References
----------
JWST pipeline documentation, "Stage 2 Associations: Rules", "Level 3
Associations: Rules", "Association Naming"; rule names as in the official
``asn_rule`` field (``candidate_Asn_Lv3Image``...).
"""

from __future__ import annotations

from . import rules_level2, rules_level3
from ._level2 import Level2Asn
from ._level3 import Level3Asn
from .rules_level2 import *  # noqa: F403  (rule classes, for user rule files)
from .rules_level3 import *  # noqa: F403

__all__ = ["DEFAULT_RULES", *rules_level2.__all__, *rules_level3.__all__]


def _rules_of(module, base):
    return {
        name: obj
        for name, obj in vars(module).items()
        if name.startswith("Asn_") and isinstance(obj, type) and issubclass(obj, base)
    }


#: Rule name -> class, in the order rules are tried (level 2, then level 3, each by name).
DEFAULT_RULES: dict[str, type] = {
    **dict(sorted(_rules_of(rules_level2, Level2Asn).items())),
    **dict(sorted(_rules_of(rules_level3, Level3Asn).items())),
}
