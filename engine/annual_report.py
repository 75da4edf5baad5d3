"""Jahresbericht: the year's figures of the Auswertung as a PDF (fpdf2, DejaVu Sans as for the
ballot minutes) and as CSV — ready for the network meeting and the funding body.

Both are written from the already suppressed tables of :mod:`engine.dashboard`, so they cannot
show a value the page does not show.
"""

from __future__ import annotations

import csv
import io

from engine.dashboard import Auswertung, Tabelle
from engine.projection import BERLIN
from engine.small_numbers import GESPERRT, KLEIN
from engine.voting_pdf import GermanPdf, PdfFont, find_font

#: Usable width of an A4 page with the margins of GermanPdf (mm).
WIDTH = 170
LEGEND = (
    f"„{KLEIN}“: weniger als fünf Fälle (zum Schutz der Betroffenen nicht genau angegeben; ist die "
    f"Summe einer Zeile „{KLEIN}“, stehen auch ihre Teile von null bis vier so da). "
    f"„{GESPERRT}“: nicht angegeben, weil sich sonst ein kleiner Wert errechnen ließe. "
    "Fälle zählen in dem Zeitraum, in dem sie begonnen haben; ihr Stand ist der am Tag des Berichts."
)


def _widths(table: Tabelle) -> tuple[int, ...]:
    columns = len(table.kopf)
    first = 60 if columns <= 3 else 34
    rest = (WIDTH - first) // (columns - 1)
    return (WIDTH - rest * (columns - 1), *([rest] * (columns - 1)))


def report_pdf(report: Auswertung, *, font: PdfFont | None = None) -> bytes:
    """The annual report for ``report`` (a whole calendar year) as a PDF document."""
    title = f"Jahresbericht {report.jahr}"
    pdf = GermanPdf(font or find_font(), f"Hilfenetz · {title}")
    pdf.set_title(pdf.text_of(f"{title} – Kooperationsnetzwerk Häusliche Gewalt und Kinderschutz"))
    pdf.set_author("Hilfenetz – Kreiskooperationsrunde Soest")
    pdf.set_creator("Hilfenetz")
    pdf.set_lang("de-DE")
    pdf.set_creation_date(report.stand)
    pdf.add_page()
    pdf.heading(title, 16)
    pdf.paragraph("Kooperationsnetzwerk „Häusliche Gewalt und Kinderschutz“ im Kreis Soest", bold=True)
    pdf.paragraph(_period_line(report))
    pdf.paragraph(LEGEND)
    for table in report.tabellen:
        pdf.heading(table.titel)
        if table.hinweis:
            pdf.paragraph(table.hinweis)
            pdf.ln(1)
        if table.zeilen:
            pdf.grid(
                table.kopf,
                [(row.label, *(c.text for c in row.zellen)) for row in table.zeilen],
                _widths(table),
            )
        else:
            pdf.paragraph("Keine.")
    return bytes(pdf.output())


def _period_line(report: Auswertung) -> str:
    period = report.zeitraum
    stand = report.stand.astimezone(BERLIN).strftime("%d.%m.%Y %H:%M")
    scope = f"Organisation: {report.organisation_name}" if report.organisation_name else "ganzes Netzwerk"
    return f"Zeitraum {period.von:%d.%m.%Y} bis {period.bis:%d.%m.%Y}; {scope}; Stand {stand} Uhr."


def report_csv(report: Auswertung) -> bytes:
    """Every table as ``Tabelle;Zeile;Spalte;Wert`` (semicolons and a BOM, as spreadsheets in
    Germany expect)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=";", lineterminator="\r\n")
    writer.writerow(["Tabelle", "Zeile", "Spalte", "Wert"])
    for table in report.tabellen:
        for row in table.zeilen:
            for heading, cell in zip(table.kopf[1:], row.zellen, strict=True):
                writer.writerow([_cell(v) for v in (table.titel, row.label, heading, cell.text)])
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")


def _cell(text: str) -> str:
    """A CSV cell that a spreadsheet never runs as a formula (organisation names are free text)."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text
