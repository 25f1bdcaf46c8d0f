"""CRDS access through the real ``crds`` client, and local CRDS context writing."""

from webbcal.crds_client.client import (
    DEFAULT_CRDS_PATH,
    DEFAULT_SERVER_URL,
    CrdsUnavailableError,
    Recommendations,
    ReferenceLookupError,
    best_references,
    crds_environment,
    crds_version,
    get_context_name,
    pars_reference,
    recommend_references,
    reset_crds_state,
)
from webbcal.crds_client.local_context import (
    RmapEntry,
    mapping_checksum,
    write_local_context,
    write_server_config,
)
from webbcal.crds_client.real_context import install_mappings

__all__ = [
    "DEFAULT_CRDS_PATH",
    "DEFAULT_SERVER_URL",
    "CrdsUnavailableError",
    "Recommendations",
    "ReferenceLookupError",
    "RmapEntry",
    "best_references",
    "crds_environment",
    "crds_version",
    "get_context_name",
    "install_mappings",
    "mapping_checksum",
    "pars_reference",
    "recommend_references",
    "reset_crds_state",
    "write_local_context",
    "write_server_config",
]
