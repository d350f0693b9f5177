"""conformance package."""

__all__: list[str] = []
