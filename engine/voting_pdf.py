"""Minutes of a steering-group ballot as PDF (fpdf2): the same content as the Markdown minutes.

Text is set in DejaVu Sans, a Unicode TrueType font from Debian's ``fonts-dejavu-core`` (installed by
``make setup``), so umlauts, ß and typographic quotes („…“, –, …) come out as written. Without it
the PDF falls back to the built-in Helvetica in the Windows-1252 encoding, which still holds every
German letter and those quotes; any other character becomes "?". Nothing is downloaded at run time.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from fpdf import FPDF
from fpdf.enums import TableCellFillMode, XPos, YPos
from fpdf.fonts import FontFace

from engine.read_models import BallotMinutes
from engine.voting import GESCHLOSSEN
from engine.voting_minutes import elector_name, elector_state, fact_rows, result_rows, running_line

#: Where Debian (fonts-dejavu-core) and other distributions put DejaVu Sans, regular and bold.
FONT_DIRS = (
    Path("/usr/share/fonts/truetype/dejavu"),
    Path("/usr/share/fonts/dejavu"),
    Path("/usr/share/fonts/TTF"),
    Path("/usr/local/share/fonts"),
)
FONT_FILES = ("DejaVuSans.ttf", "DejaVuSans-Bold.ttf")
FALLBACK_ENCODING = "windows-1252"
LINE = 5.5


@dataclass(frozen=True)
class PdfFont:
    """The regular and bold TrueType files, or None for the built-in Helvetica."""

    regular: Path | None
    bold: Path | None

    @property
    def unicode(self) -> bool:
        return self.regular is not None


def find_font(dirs: Sequence[Path] = FONT_DIRS) -> PdfFont:
    """The first directory holding both DejaVu Sans files; Helvetica when none does."""
    for directory in dirs:
        regular, bold = (directory / name for name in FONT_FILES)
        if regular.is_file() and bold.is_file():
            return PdfFont(regular, bold)
    return PdfFont(None, None)


class _MinutesPdf(FPDF):
    def __init__(self, font: PdfFont, footer_text: str) -> None:
        super().__init__(format="A4")
        self.footer_text = footer_text
        if font.regular is not None and font.bold is not None:
            self.add_font("DejaVu", "", str(font.regular))
            self.add_font("DejaVu", "B", str(font.bold))
            self.body_font = "DejaVu"
        else:
            self.core_fonts_encoding = FALLBACK_ENCODING
            self.body_font = "Helvetica"
        self.is_unicode = font.unicode
        self.set_auto_page_break(auto=True, margin=18)
        self.set_margins(20, 18, 20)

    def text_of(self, text: str) -> str:
        """The text as the font can set it (Helvetica: characters outside Windows-1252 become "?")."""
        if self.is_unicode:
            return text
        return text.encode(FALLBACK_ENCODING, "replace").decode(FALLBACK_ENCODING)

    def footer(self) -> None:
        self.set_y(-13)
        self.set_font(self.body_font, "", 8)
        self.cell(0, 5, self.text_of(f"{self.footer_text} — Seite {self.page_no()} von {{nb}}"), align="C")

    def heading(self, text: str, size: float = 13) -> None:
        self.ln(3)
        self.set_font(self.body_font, "B", size)
        self.multi_cell(0, size * 0.5, self.text_of(text), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        self.ln(1.5)

    def paragraph(self, text: str, *, bold: bool = False) -> None:
        self.set_font(self.body_font, "B" if bold else "", 10)
        self.multi_cell(0, LINE, self.text_of(text), new_x=XPos.LMARGIN, new_y=YPos.NEXT)

    def pairs(self, rows: Sequence[tuple[str, str]], *, bold_last: bool = False) -> None:
        """Label and text side by side, as a table without header row."""
        self.set_font(self.body_font, "", 10)
        with self.table(
            col_widths=(55, 115),
            first_row_as_headings=False,
            borders_layout="HORIZONTAL_LINES",
            line_height=LINE,
            padding=1.2,
            text_align="LEFT",
        ) as table:
            for number, (label, text) in enumerate(rows, start=1):
                row = table.row()
                emphasis = FontFace(emphasis="BOLD") if bold_last and number == len(rows) else None
                row.cell(self.text_of(label), style=FontFace(emphasis="BOLD"))
                row.cell(self.text_of(text), style=emphasis)

    def documents(self, items: Sequence[tuple[str, str]]) -> None:
        """Label, then the text as paragraphs: a table row cannot break across pages, and an
        application's texts may be longer than a page."""
        for label, text in items:
            self.set_font(self.body_font, "B", 10)
            self.multi_cell(0, LINE, self.text_of(label), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
            self.set_font(self.body_font, "", 10)
            self.multi_cell(0, LINE, self.text_of(text), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
            self.ln(1.5)

    def grid(self, headings: Sequence[str], rows: Sequence[Sequence[str]], widths: Sequence[int]) -> None:
        """A table with a header row that is repeated on every page it spans."""
        self.set_font(self.body_font, "", 9)
        with self.table(
            col_widths=tuple(widths),
            headings_style=FontFace(emphasis="BOLD", fill_color=(230, 230, 230)),
            cell_fill_color=(247, 247, 247),
            cell_fill_mode=TableCellFillMode.ROWS,
            line_height=5,
            padding=1.2,
            text_align="LEFT",
            repeat_headings=1,
        ) as table:
            table.row([self.text_of(h) for h in headings])
            for values in rows:
                table.row([self.text_of(v) for v in values])


def minutes_pdf(m: BallotMinutes, *, created_at: datetime, font: PdfFont | None = None) -> bytes:
    """The German minutes of ``m`` as a PDF document (A4, tagged with title and language)."""
    font = font or find_font()
    title = f"Protokoll der Abstimmung Nr. {m.id}"
    pdf = _MinutesPdf(font, f"Hilfenetz · {title}")
    pdf.set_title(pdf.text_of(f"{title}: {m.subject}"))
    pdf.set_subject(pdf.text_of(m.subject))
    pdf.set_author("Hilfenetz – Kreiskooperationsrunde Soest")
    pdf.set_creator("Hilfenetz")
    pdf.set_lang("de-DE")
    pdf.set_creation_date(created_at)
    pdf.add_page()
    pdf.heading(title, 16)
    pdf.paragraph(m.subject, bold=True)
    pdf.ln(2)
    pdf.pairs([*fact_rows(m), ("Stand", "geschlossen" if m.status == GESCHLOSSEN else "offen")])
    if m.documents:
        pdf.heading("Antrag / Unterlagen")
        pdf.documents([(d.label, d.value) for d in m.documents])
    pdf.heading("Stimmberechtigte (festgelegt bei Eröffnung)")
    pdf.grid(
        ("Mitglied", "Stand"),
        [(elector_name(e), elector_state(e)) for e in m.electorate],
        (95, 75),
    )
    pdf.heading("Ergebnis")
    if m.status == GESCHLOSSEN:
        pdf.pairs(result_rows(m), bold_last=True)
    else:
        pdf.paragraph(running_line(m))
    return bytes(pdf.output())


#: The same page set-up (A4, DejaVu Sans, footer with page numbers) for other German documents,
#: e.g. the annual report (engine/annual_report.py).
GermanPdf = _MinutesPdf
