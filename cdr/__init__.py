"""cdr package."""

__all__: list[str] = []
