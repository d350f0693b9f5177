"""The embedded regime sandbox: simulated regime services over real HTTP, a synthetic
population of test beneficiaries, and fault injection per regime."""

__all__: list[str] = []
