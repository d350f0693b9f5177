"""The FHIR R4 API: the HTTP application (``create_app``), the `$submit` use case
(``SubmitService``) and the store port it reads and writes through (``FhirStore``)."""

from fhir_server.app import create_app
from fhir_server.store import AnswerStore, FhirStore
from fhir_server.submit import SubmitService

__all__ = ["AnswerStore", "FhirStore", "SubmitService", "create_app"]
