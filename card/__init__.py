"""card package."""

__all__: list[str] = []
