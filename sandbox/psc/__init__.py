"""A Pro Santé Connect look-alike: the OpenID provider the portal logs in with in the sandbox
(discovery, JWKS, authorize, token, userinfo), with synthetic health professionals."""

from sandbox.psc.people import PROFESSIONALS, Professional
from sandbox.psc.provider import PscClient, create_psc_app

__all__ = ["PROFESSIONALS", "Professional", "PscClient", "create_psc_app"]
