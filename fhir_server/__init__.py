"""fhir_server package."""

__all__: list[str] = []
