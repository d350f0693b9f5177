"""One module per wire family: the sandbox side of each regime protocol."""

__all__: list[str] = []
