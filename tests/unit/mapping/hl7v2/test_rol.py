"""The médecin traitant's XCN: identifiers typed only when their form says what they are
(IHE France data types v1.8.2 §N.8), ROL-3 ODRP (PAM FR 2.11.2 §6.8.2)."""

from __future__ import annotations

from datetime import date

import pytest

from mapping.hl7v2.er7 import Delimiters
from mapping.hl7v2.rol import professional_xcn
from rights.model import MedecinTraitant, Period

_PS = "ASIP-SANTE-PS&1.2.250.1.71.4.2.1&ISO"


@pytest.mark.parametrize(
    ("identifier", "xcn"),
    [
        ("10001234567", f"10001234567^Réault^Pierre^^^^^^{_PS}^D^^^RPPS"),
        ("810001234567", f"810001234567^Réault^Pierre^^^^^^{_PS}^D^^^IDNPS"),
        ("0751012344", f"0751012344^Réault^Pierre^^^^^^{_PS}^D^^^IDNPS"),
        # CDRi 03.03's n° assurance maladie (9 digits, like an ADELI): no type known, left out.
        ("751001017", "^Réault^Pierre^^^^^^^D"),
        ("", "^Réault^Pierre^^^^^^^D"),
    ],
)
def test_an_identifier_is_typed_when_its_form_says_what_it_is(identifier: str, xcn: str) -> None:
    doctor = MedecinTraitant("Réault", "Pierre", identifier, Period(date(2020, 1, 1)))
    assert professional_xcn(doctor, Delimiters()) == xcn
