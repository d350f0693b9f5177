"""The printable attestation of a consultation: a PDF (fpdf2, pure Python) with the lookup
reference, time, structure, professional and every right shown on the result page."""

from __future__ import annotations

from fpdf import FPDF

from fhir_server.portal.professional import Professional
from fhir_server.portal.views import RegimeBlock, ResultView

__all__ = ["attestation_pdf"]

# The PDF core fonts cover Latin-1: French letters are there, a few typographic signs are not.
_LATIN1 = str.maketrans(
    {"—": "-", "–": "-", "’": "'", "œ": "oe", "Œ": "OE", "…": "...", "€": "EUR"}
)


def _text(value: str) -> str:
    return value.translate(_LATIN1).encode("latin-1", "replace").decode("latin-1")


class _Attestation(FPDF):
    def footer(self) -> None:
        self.set_y(-15)
        self.set_font("Helvetica", "I", 8)
        self.cell(0, 10, _text(f"Page {self.page_no()}/{{nb}}"), align="C")


def _line(pdf: FPDF, label: str, value: str) -> None:
    if not value:
        return
    pdf.set_font("Helvetica", "B", 10)
    pdf.cell(60, 6, _text(label))
    pdf.set_font("Helvetica", "", 10)
    pdf.multi_cell(0, 6, _text(value), new_x="LMARGIN", new_y="NEXT")


def _heading(pdf: FPDF, text: str) -> None:
    pdf.ln(2)
    pdf.set_font("Helvetica", "B", 12)
    pdf.cell(0, 8, _text(text), new_x="LMARGIN", new_y="NEXT")


def _block(pdf: FPDF, block: RegimeBlock) -> None:
    _heading(pdf, f"Régime {block.regime_label}")
    _line(
        pdf,
        "Situation",
        ("Droits ouverts" if block.in_force else "Droits fermés") + f" ({block.reason})",
    )
    _line(pdf, "Bénéficiaire", block.beneficiary_name)
    _line(pdf, "Né(e) le / rang", f"{block.beneficiary_birth_date} / rang {block.beneficiary_rang}")
    _line(pdf, "Qualité", block.qualite)
    _line(pdf, "NIR du bénéficiaire", block.beneficiary_nir)
    _line(pdf, "Ouvrant droit", block.ouvrant_droit_name)
    _line(pdf, "NIR de l'ouvrant droit", block.ouvrant_droit_nir)
    _line(
        pdf,
        "Régime - caisse - centre",
        f"{block.regime_code} - {block.caisse} - {block.centre} "
        f"(code gestion {block.code_gestion})",
    )
    _line(pdf, "Droits de base (AMO)", "; ".join(block.amo_periods) or "aucune période")
    _line(pdf, "C2S", "; ".join(block.c2s))
    _line(pdf, "AME", "; ".join(block.ame))
    _line(pdf, "Exonérations (ETM)", "; ".join(block.etm))
    _line(pdf, "Modulations", "; ".join(block.modulations))
    _line(pdf, "Médecin traitant", f"{block.medecin_traitant} {block.medecin_traitant_period}")
    if block.returns_atmp:
        _line(pdf, "Organisme AT/MP", block.default_at_organisation)
        _line(pdf, "AT/MP déclarés", "; ".join(block.accidents) or "aucun")
    for warning in block.warnings:
        _line(pdf, "Alerte", warning)


def attestation_pdf(view: ResultView, user: Professional, structure_finess: str) -> bytes:
    pdf = _Attestation(format="A4")
    pdf.set_title("Attestation de consultation des droits")
    pdf.set_creator("CDR Gateway")
    pdf.add_page()
    pdf.set_font("Helvetica", "B", 16)
    pdf.cell(0, 10, _text("Attestation de consultation des droits"), new_x="LMARGIN", new_y="NEXT")
    _line(pdf, "Référence", view.lookup_id)
    _line(pdf, "Consultation du", view.asked_at)
    _line(
        pdf, "Structure", f"{user.structure} (FINESS {user.structure_finess or structure_finess})"
    )
    _line(pdf, "Professionnel", f"{user.display_name}, {user.profession} (RPPS {user.rpps})")
    _line(pdf, "Date des soins", view.date_of_care)
    _line(pdf, "Régime interrogé", view.regime_asked)
    _heading(pdf, view.headline)
    for warning in view.warnings:
        _line(pdf, "Alerte", warning)
    for block in view.blocks:
        _block(pdf, block)
    if view.discovery:
        _heading(pdf, "Réponse de chaque régime")
        for line in view.regimes:
            _line(pdf, line.label, line.status)
    pdf.ln(4)
    pdf.set_font("Helvetica", "I", 9)
    pdf.multi_cell(
        0,
        5,
        _text(
            "Informations transmises par le régime au moment de la consultation. "
            "Cette attestation ne vaut que pour la date des soins indiquée."
        ),
    )
    return bytes(pdf.output())
