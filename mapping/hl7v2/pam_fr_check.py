"""A checker of the IHE PAM France 2.11.2 rules our results follow, for tests and, later, the
conformance kit: ``pam_fr_violations(text)`` lists what a strict receiver would reject.

It checks what the gateway writes, not every rule of the profile: the MSH declaration, the
insurance groups (§6.20), the médecin traitant (§6.8) and the billing NIR (§6.6.1), and that
a Z99 names a movement (§5). Pure: ER7 text in, sentences out.
"""

from __future__ import annotations

from mapping.hl7v2.er7 import Message, Segment

__all__ = ["pam_fr_violations"]

_BASE_PAYERS = {"AMO", "AME", "CMU"}  # §6.20.1 / §6.20.4
_COMPLEMENTARY_PAYERS = {"AMC", "CMUC", "AMEC"}  # §6.20.2 / §6.20.4
_BASE_NATURES = {"10", "13", "30", "41", "90"}  # §6.20.1 IN1-31 nature d'assurance
_CONTRACTS = {"85", "87", "88", "89", "01", "02"}  # §6.20.2 IN1-31 type de contrat
_RATE_KINDS = {"AT", "PB", "PT", "PF", "PC"}  # §6.20.5 table 0148
_PS_TYPES = {"RPPS", "ADELI", "IDNPS", "EI"}  # data types §N.8
_PROFILE = ("2.11", "IHE_FRANCE-2.11-PAM")  # §6.5
_CHARSETS = {"8859/15", "UNICODE UTF-8", "8859/1", "ASCII"}


def pam_fr_violations(text: str) -> list[str]:
    """The PAM FR rules ``text`` (an ADT result we wrote) breaks, one sentence each."""
    message = Message.parse(text)
    out = _msh(message)
    out += _insurance(message)
    out += _roles(message)
    if message.trigger == "Z99":
        zbe = message.first("ZBE")
        if zbe is None or not zbe.value(1) or zbe.value(4) != "UPDATE":
            out.append("§5: a Z99 updates the movement ZBE-1 names (ZBE-4 UPDATE)")
    return out


def _msh(message: Message) -> list[str]:
    msh = message.msh
    out = []
    if (msh.value(12, 1), msh.value(12, 2), msh.value(12, 3)) != ("2.5", "FRA", "2.11"):
        out.append(f"§6.5: MSH-12 {msh.field(12)!r} is not 2.5^FRA^2.11")
    if (msh.value(21, 1), msh.value(21, 2)) != _PROFILE:
        out.append(f"§6.5: MSH-21 {msh.field(21)!r} does not declare 2.11^IHE_FRANCE-2.11-PAM")
    if msh.value(17) != "FRA" or msh.value(19) != "FR":
        out.append("§6.5: MSH-17 FRA and MSH-19 FR expected")
    if msh.value(18) not in _CHARSETS:
        out.append(f"§6.1: MSH-18 {msh.field(18)!r} does not name the charset written")
    return out


def _insurance(message: Message) -> list[str]:
    out = []
    seen_base = False
    for in1 in message.all("IN1"):
        where = f"IN1 {in1.value(1)}"
        payer = in1.value(2, 1)
        if payer in _BASE_PAYERS:
            seen_base = True
            out += _base_group(in1, where)
        elif payer in _COMPLEMENTARY_PAYERS:
            if not seen_base:
                out.append(f"§6.20.2: {where} {payer} does not follow a base group")
            if in1.value(31) not in _CONTRACTS | {""}:
                out.append(f"§6.20.2: {where} IN1-31 {in1.value(31)!r} is no type de contrat")
        else:
            out.append(f"§6.20.4: {where} IN1-2 {payer!r} is not in table 0072")
        if not in1.value(3):
            out.append(f"§6.20: {where} IN1-3 is required")
        if not in1.value(17, 1):
            out.append(f"§6.20: {where} IN1-17 qualité is required")
    for in3 in message.all("IN3"):
        kind = in3.value(5, 1)
        if kind and kind not in _RATE_KINDS:
            out.append(f"§6.20.5: IN3-5.1 {kind!r} is not in table 0148")
    return out


def _base_group(in1: Segment, where: str) -> list[str]:
    out = []
    organisation = in1.value(3)
    if not (len(organisation) == 9 and organisation.isdigit()):
        out.append(f"§6.20.1: {where} IN1-3 {organisation!r} is not régime+caisse+centre")
    if len(in1.value(15)) > 1:
        out.append(f"§6.20.1: {where} IN1-15 {in1.value(15)!r} is not a B2 annexe 9 character")
    if in1.value(31) not in _BASE_NATURES | {""}:
        out.append(f"§6.20.1: {where} IN1-31 {in1.value(31)!r} is no nature d'assurance")
    if in1.value(49, 1):
        if in1.value(49, 5) != "SS":
            out.append(f"§6.6.1: {where} IN1-49 (billing NIR) has CX-5 {in1.value(49, 5)!r}")
        if "INS" in in1.value(49, 4, subcomponent=1):
            out.append(f"§6.6.1: {where} IN1-49 is labelled as an INS")
    return out


def _roles(message: Message) -> list[str]:
    out = []
    for rol in message.all("ROL"):
        if rol.value(3, 1) != "ODRP":
            out.append(f"§6.8.2: ROL-3 {rol.value(3, 1)!r}: the médecin traitant is ODRP")
        if rol.value(4, 1) and (
            rol.value(4, 13) not in _PS_TYPES or not rol.value(4, 9, subcomponent=2)
        ):
            out.append("§N.8: ROL-4 identifier without its type (XCN-13) and authority (XCN-9)")
        if (rol.value(4, 2) or rol.value(4, 3)) and not rol.value(4, 10):
            out.append("§N.8: ROL-4 names a person without XCN-10")
    return out
