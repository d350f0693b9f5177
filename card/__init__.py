"""CPx cards in PC/SC readers (issue 14): nothing is built here yet, so nothing is exported."""

__all__: list[str] = []
