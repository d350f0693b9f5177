"""hl7_listener package."""

__all__: list[str] = []
