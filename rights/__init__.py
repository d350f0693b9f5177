"""The pure rights domain: identifiers, the regime catalogue, the rights model, the lookup use case.

Nothing here reads a clock, the environment or the network: adapters are passed in.
"""

__all__: list[str] = []
