"""The pure rights domain: identifiers, the regime catalogue, the rights model, the lookup use case.

Nothing here reads a clock, the environment or the network: adapters are passed in. The names
below are the entry points; the modules hold the rest.
"""

from rights.catalogue import RegimeCatalogue, default_catalogue
from rights.errors import CdrError
from rights.lookup import RightsLookup
from rights.model import RightsQuery
from rights.ports import Clock, LookupStore, RegimeGateway
from rights.queries import build_query
from rights.result import LookupReport

__all__ = [
    "CdrError",
    "Clock",
    "LookupReport",
    "LookupStore",
    "RegimeCatalogue",
    "RegimeGateway",
    "RightsLookup",
    "RightsQuery",
    "build_query",
    "default_catalogue",
]
