"""Regime adapters (one package per wire family) and the embedded regime sandbox."""

__all__: list[str] = []
