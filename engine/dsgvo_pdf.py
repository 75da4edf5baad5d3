"""The Art. 15 export as a readable PDF (fpdf2, DejaVu Sans as the ballot minutes use it)."""

from __future__ import annotations

from engine.dsgvo import PersonalDataExport
from engine.voting_pdf import PdfFont, _MinutesPdf, find_font

#: Usable width of an A4 page with the document's margins (mm).
WIDTH = 170
#: Sections with more columns than this are set as "label: value" lines per entry.
MAX_GRID_COLUMNS = 5


def export_pdf(export: PersonalDataExport, *, font: PdfFont | None = None) -> bytes:
    """German PDF of everything in ``export``, one heading per section (tagged title, language)."""
    title = "Auskunft nach Art. 15 DSGVO"
    pdf = _MinutesPdf(font or find_font(), f"Hilfenetz · {title}")
    pdf.set_title(pdf.text_of(f"{title}: {export.subject}"))
    pdf.set_author("Hilfenetz – Kreiskooperationsrunde Soest")
    pdf.set_creator("Hilfenetz")
    pdf.set_lang("de-DE")
    pdf.set_creation_date(export.created_at)
    pdf.add_page()
    pdf.heading(title, 16)
    pdf.pairs(
        [
            ("Person", export.subject),
            ("Art", "Konto einer Fachkraft" if export.kind == "konto" else "Betroffene Person"),
            ("Erstellt am", export.created_at.isoformat(timespec="minutes")),
            ("Erstellt von", export.created_by),
        ]
    )
    for section in export.sections:
        pdf.heading(section.title)
        if section.note:
            pdf.paragraph(section.note)
        if not section.rows:
            pdf.paragraph("Keine Einträge.")
        elif len(section.columns) == 2 and section.key == "konto":
            pdf.pairs([(a, b) for a, b in section.rows])
        elif len(section.columns) <= MAX_GRID_COLUMNS:
            width = WIDTH // len(section.columns)
            pdf.grid(section.columns, section.rows, [width] * len(section.columns))
        else:
            pdf.documents(
                [
                    (
                        f"Eintrag {n}",
                        "\n".join(f"{c}: {v}" for c, v in zip(section.columns, row, strict=True)),
                    )
                    for n, row in enumerate(section.rows, start=1)
                ]
            )
    return bytes(pdf.output())
