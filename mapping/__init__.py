"""Pure translations between the rights domain and the wire formats, in two independent
packages (decision 0006): ``mapping.hl7v2`` and ``mapping.fhir``; what both say alike is in
``mapping.shared``. Import the one you need; this package itself exports nothing."""

__all__: list[str] = []
