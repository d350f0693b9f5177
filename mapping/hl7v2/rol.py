"""ROL for the médecin traitant, as IHE PAM France writes it: ROL-3 ``ODRP`` (PAM FR 2.11.2
§6.8.2, §6.8.6: FHCP is the family doctor, "distinct du médecin traitant") and ROL-4 an XCN
whose identifier is typed only when its type is known (data types v1.8.2 §N.8)."""

from __future__ import annotations

from mapping.hl7v2.er7 import Delimiters, components, escape, segment, subcomponents
from rights.model import MedecinTraitant
from rights.result import LookupReport

__all__ = ["family_doctor_segment", "professional_xcn"]

# HL7 table 0443 as PAM FR 2.11.2 §6.8.2 extends it.
_ODRP = ("ODRP", "Médecin traitant", "HL70443")
# Data types v1.8.2 §N.8: national PS identifiers under the ASIP-SANTE-PS authority.
_PS_AUTHORITY = ("ASIP-SANTE-PS", "1.2.250.1.71.4.2.1", "ISO")
# XCN-10 when a name is given (§N.8: required then; "D" as in the §N.8 examples).
_NAME_TYPE = "D"


def _identifier_type(identifier: str) -> str:
    """XCN-13 for the forms that say what they are (§N.8): 11 digits an RPPS number, 10 digits
    starting "0" (0 + ADELI) or 12 starting "8" (8 + RPPS) a national PS identifier (IDNPS).
    A 9-digit number may be an ADELI or, as CDRi 03.03 returns it, the doctor's n° assurance
    maladie, which is not a PS identifier: its type is unknown ("")."""
    if not identifier.isdigit():
        return ""
    if len(identifier) == 11:
        return "RPPS"
    if (len(identifier), identifier[0]) in ((10, "0"), (12, "8")):
        return "IDNPS"
    return ""


def professional_xcn(doctor: MedecinTraitant, d: Delimiters) -> str:
    """XCN-1..13: a typed identifier with its authority, or no identifier at all when its type
    is not known (an untyped number would be read as any of them)."""
    kind = _identifier_type(doctor.identifier)
    named = bool(doctor.family_name or doctor.given_name)
    return components(
        escape(doctor.identifier, d) if kind else "",
        escape(doctor.family_name, d),
        escape(doctor.given_name, d),
        "",
        "",
        "",
        "",
        "",
        subcomponents(*_PS_AUTHORITY, d=d) if kind else "",
        _NAME_TYPE if named else "",
        "",
        "",
        kind,
        d=d,
    )


def family_doctor_segment(report: LookupReport, d: Delimiters) -> str | None:
    """ROL for the médecin traitant: the one declared on the date of care, else the first known,
    regimes in force first. PAM FR 2.11.2 §6.8.6 places it right after PID/PD1."""
    day = report.query.date_of_care
    regimes = sorted(report.found, key=lambda r: not r.evaluation.in_force)
    declared = [
        r.rights.medecin_traitant
        for r in regimes
        if r.rights is not None and r.rights.medecin_traitant is not None
    ]
    if not declared:
        return None
    doctor = next((m for m in declared if m.period.covers(day)), declared[0])
    period = doctor.period
    return segment(
        "ROL",
        "1",
        "UP",
        components(_ODRP[0], escape(_ODRP[1], d), _ODRP[2], d=d),
        professional_xcn(doctor, d),
        f"{period.start:%Y%m%d}",
        f"{period.end:%Y%m%d}" if period.end else "",
        d=d,
    )
