"""``cdr conformance validate FILE…``: a file a tester's system produced, judged by the gateway's
own rules. An ER7 message goes to the HL7 checks, a JSON body to the FHIR ones."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path

from conformance.fhir_validate import fhir_findings, looks_like_json
from conformance.findings import Finding
from conformance.hl7_validate import hl7_findings, looks_like_hl7
from rights.catalogue import RegimeCatalogue
from rights.model import Requester

__all__ = ["FileVerdict", "validate_file"]


@dataclass(frozen=True, slots=True)
class FileVerdict:
    path: str
    kind: str  # "hl7", "fhir", or "" when the file could not be read as either
    findings: tuple[Finding, ...] = ()
    unreadable: str = ""  # why the file could not be judged

    @property
    def valid(self) -> bool:
        return not self.unreadable and not self.findings

    def lines(self) -> list[str]:
        if self.unreadable:
            return [f"{self.path}: cannot be read: {self.unreadable}"]
        if not self.findings:
            return [f"{self.path}: valid"]
        return [f"{self.path}: {finding.line()}" for finding in self.findings]


def validate_file(
    path: str, *, catalogue: RegimeCatalogue, requester: Requester, today: date
) -> FileVerdict:
    try:
        raw = Path(path).read_bytes()
    except OSError as exc:
        return FileVerdict(path, "", unreadable=exc.strerror or type(exc).__name__)
    if looks_like_hl7(raw):
        found = hl7_findings(raw, catalogue=catalogue, requester=requester, today=today)
        return FileVerdict(path, "hl7", tuple(found))
    if looks_like_json(raw):
        found = fhir_findings(raw, catalogue=catalogue, default_requester=requester, today=today)
        return FileVerdict(path, "fhir", tuple(found))
    return FileVerdict(
        path, "", unreadable="neither an HL7 v2 message (MSH|…) nor a FHIR JSON resource"
    )
