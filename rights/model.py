"""The rights model: what a lookup asks and what a regime answers.

It mirrors the CDRi response entities (03.01 beneficiary … 03.10 special situation) rather than
any portal's display text, so that FHIR Coverage and HL7 IN1/IN2/IN3 can both be derived from it.
All values are immutable; dates are ``datetime.date``.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import date

from rights.identifiers import Nir

__all__ = [
    "AccidentDeclaration",
    "AmoPeriod",
    "Beneficiary",
    "Exoneration",
    "ManagingOrganisation",
    "MedecinTraitant",
    "OuvrantDroit",
    "Period",
    "Qualite",
    "RegimeRights",
    "Requester",
    "RightsQuery",
    "Situation",
    "SituationKind",
    "SncfContract",
]


@dataclass(frozen=True, slots=True)
class Period:
    """A validity period; ``end`` None means open-ended. Both bounds are inclusive."""

    start: date
    end: date | None = None

    def covers(self, day: date) -> bool:
        return self.start <= day and (self.end is None or day <= self.end)

    def is_before(self, day: date) -> bool:
        """The whole period ended before ``day``."""
        return self.end is not None and self.end < day

    def is_after(self, day: date) -> bool:
        """The period starts after ``day``."""
        return self.start > day


class Qualite(enum.StrEnum):
    """Qualité of the beneficiary relative to the ouvrant droit (Vitale group 104, 2 digits)."""

    ASSURE = "00"
    ASCENDANT_DESCENDANT_COLLATERAL = "01"
    CONJOINT = "02"
    CONJOINT_DIVORCE = "03"
    CONCUBIN = "04"
    CONJOINT_SEPARE = "05"
    ENFANT = "06"
    HORS_ARTICLE_313 = "07"
    CONJOINT_VEUF = "08"
    AUTRE_AYANT_DROIT = "09"

    @property
    def label(self) -> str:
        return _QUALITE_LABELS[self]


_QUALITE_LABELS = {
    Qualite.ASSURE: "assuré",
    Qualite.ASCENDANT_DESCENDANT_COLLATERAL: "ascendant, descendant ou collatéral",
    Qualite.CONJOINT: "conjoint",
    Qualite.CONJOINT_DIVORCE: "conjoint divorcé",
    Qualite.CONCUBIN: "concubin",
    Qualite.CONJOINT_SEPARE: "conjoint séparé",
    Qualite.ENFANT: "enfant",
    Qualite.HORS_ARTICLE_313: "hors article 313",
    Qualite.CONJOINT_VEUF: "conjoint veuf",
    Qualite.AUTRE_AYANT_DROIT: "autre ayant droit",
}


@dataclass(frozen=True, slots=True)
class Requester:
    """Who asks: the structure (FINESS), and the professional (RPPS) when a person asks."""

    finess: str
    rpps: str | None = None
    label: str = ""


@dataclass(frozen=True, slots=True)
class RightsQuery:
    """One rights lookup. ``regime`` None means discovery across every regime that can serve."""

    nir: Nir
    date_of_care: date
    birth_date: str | None = None  # YYYY-MM-DD; may be lunar (day or month out of range)
    rang: int = 1
    regime: str | None = None
    requester: Requester = field(default_factory=lambda: Requester(finess=""))
    family_name: str | None = None
    given_name: str | None = None

    @property
    def is_discovery(self) -> bool:
        return self.regime is None


@dataclass(frozen=True, slots=True)
class Beneficiary:
    """CDRi 03.01: the patient whose rights are returned."""

    family_name: str
    given_names: tuple[str, ...]
    birth_date: str  # YYYY-MM-DD as on the card; lunar dates are kept as given
    rang: int
    qualite: Qualite
    nir: str | None = None  # certified NIR of the beneficiary, when the regime has it
    usual_name: str | None = None


@dataclass(frozen=True, slots=True)
class OuvrantDroit:
    """CDRi 03.02: the insured person who opens the rights."""

    family_name: str
    given_names: tuple[str, ...]
    nir: str


@dataclass(frozen=True, slots=True)
class ManagingOrganisation:
    """CDRi 03.04: régime (2) + caisse (3) + centre (4), code gestion, and the CDR regime."""

    regime_code: str
    caisse: str
    centre: str
    code_gestion: str
    cdr_regime: str

    @property
    def number(self) -> str:
        """The 9-character organisation number (régime + caisse + centre)."""
        return self.regime_code + self.caisse + self.centre[-4:]


@dataclass(frozen=True, slots=True)
class AmoPeriod:
    """Base AMO rights for one period; ``nature_pj`` 2 = CDR (attestation of open rights)."""

    period: Period
    nature_pj: str = "2"


class SituationKind(enum.StrEnum):
    C2S = "c2s"
    AME = "ame"


@dataclass(frozen=True, slots=True)
class Situation:
    """CDRi 03.10: C2S (1/2 managed by the caisse, 3 by a complementary body) or AME (10)."""

    code: str
    period: Period

    @property
    def kind(self) -> SituationKind:
        return SituationKind.AME if self.code == "10" else SituationKind.C2S

    @property
    def complementary_id(self) -> str:
        # FIDES SP03/SP06: gestion conjointe 99999997, separate AMC 88888888, AME 75500017.
        if self.code == "10":
            return "75500017"
        return "88888888" if self.code == "3" else "99999997"


@dataclass(frozen=True, slots=True)
class Exoneration:
    """CDRi 03.05 (ETM) or 03.07 (MTM): a code and its period."""

    code: str
    period: Period


@dataclass(frozen=True, slots=True)
class MedecinTraitant:
    """CDRi 03.03: the declared médecin traitant."""

    family_name: str
    given_name: str
    identifier: str  # n° Assurance Maladie (or RPPS when known)
    period: Period


@dataclass(frozen=True, slots=True)
class AccidentDeclaration:
    """CDRi 03.09: a declared work accident or occupational disease."""

    number: str  # 8 digits + key
    organisation: str  # régime + caisse + centre handling it
    period: Period


@dataclass(frozen=True, slots=True)
class SncfContract:
    """CPRP SNCF "contrat particulier": one of 18-21 plus 0..n of 22-25."""

    codes: tuple[str, ...]
    period: Period


@dataclass(frozen=True, slots=True)
class RegimeRights:
    """Everything one regime returns for one beneficiary."""

    beneficiary: Beneficiary
    ouvrant_droit: OuvrantDroit
    organisation: ManagingOrganisation
    amo: tuple[AmoPeriod, ...] = ()
    situations: tuple[Situation, ...] = ()
    exonerations: tuple[Exoneration, ...] = ()
    modulations: tuple[Exoneration, ...] = ()
    medecin_traitant: MedecinTraitant | None = None
    default_at_organisation: str | None = None
    accidents: tuple[AccidentDeclaration, ...] = ()
    sncf_contract: SncfContract | None = None
