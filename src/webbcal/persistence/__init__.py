"""persistence: flag groups inside the persistence window of earlier bright or saturated pixels."""

from .flagging import flag_persistence, mjd_to_unix
from .step import PersistenceStep

__all__ = ["PersistenceStep", "flag_persistence", "mjd_to_unix"]
