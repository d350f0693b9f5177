"""mapping package."""

__all__: list[str] = []
