"""Real PDF files for the ingest tests, written byte by byte (no PDF library is a project
dependency for writing): Helvetica text, one list of lines per page, a correct xref table. Also
the pages of a survey with a running header and "Page N of M" footers."""

from __future__ import annotations


def _pdf_string(text: str) -> bytes:
    return b"(" + text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)").encode("latin-1") + b")"


def make_pdf(pages: list[list[str]], title: str | None = None, author: str | None = None) -> bytes:
    """A minimal valid PDF (Helvetica text, correct xref) with one list of lines per page."""
    n_pages = len(pages)
    font_id, first_page_id = 3, 4
    info_id = first_page_id + 2 * n_pages
    objects: dict[int, bytes] = {
        1: b"<< /Type /Catalog /Pages 2 0 R >>",
        2: b"<< /Type /Pages /Kids ["
        + b" ".join(f"{first_page_id + 2 * i} 0 R".encode() for i in range(n_pages))
        + b"] /Count "
        + str(n_pages).encode()
        + b" >>",
        font_id: b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>",
    }
    for i, lines in enumerate(pages):
        page_id, content_id = first_page_id + 2 * i, first_page_id + 2 * i + 1
        stream = b"BT /F1 12 Tf 16 TL 72 720 Td " + b" ".join(_pdf_string(line) + b" Tj T*" for line in lines) + b" ET"
        objects[page_id] = (
            f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] "
            f"/Resources << /Font << /F1 {font_id} 0 R >> >> "
            f"/Contents {content_id} 0 R >>"
        ).encode()
        objects[content_id] = b"<< /Length " + str(len(stream)).encode() + b" >>\nstream\n" + stream + b"\nendstream"
    info = (
        b"<<"
        + (b" /Title " + _pdf_string(title) if title else b"")
        + (b" /Author " + _pdf_string(author) if author else b"")
        + b" >>"
    )
    objects[info_id] = info
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = {}
    for obj_id in sorted(objects):
        offsets[obj_id] = len(out)
        out += f"{obj_id} 0 obj\n".encode() + objects[obj_id] + b"\nendobj\n"
    xref_at = len(out)
    size = max(objects) + 1
    out += f"xref\n0 {size}\n0000000000 65535 f \n".encode()
    for obj_id in range(1, size):
        out += f"{offsets[obj_id]:010d} 00000 n \n".encode()
    out += (f"trailer\n<< /Size {size} /Root 1 0 R /Info {info_id} 0 R >>\nstartxref\n{xref_at}\n%%EOF\n").encode()
    return bytes(out)


HEADER = "Varnia Water Board - Annual Survey 2024"
TITLE = "Reservoirs and Pumping Stations of the Varnia Basin"
# A three-page survey: numbered headings, a numbered list, and two sentences across page breaks.
BODY = [
    [
        TITLE,
        "The water board runs four reservoirs and eleven pumping stations across the",
        "basin. Its engineers inspect every station twice a year.",
        "1. Reservoir levels",
        "Spring rainfall filled the northern reservoirs to capacity by the end of April,",
        "and the southern ones reached ninety percent a month later. The board expects",
        "the levels to hold through a dry summer because the upper",
    ],
    [
        "catchment stores more snow than in any of the past ten years.",
        "2. Pumping stations",
        "Three stations received new motors this year. The work followed three steps:",
        "1. The old motors were lifted out by crane.",
        "2. The foundations were checked for cracks.",
        "3. The new motors were bolted in place and tested.",
        "After the tests the stations returned to service within a week, and the board",
    ],
    [
        "reported no outages during the changeover.",
        "3. Costs and funding",
        "The motors cost 2.4 million crowns, paid from the reserve fund of the board.",
    ],
]
CROSSING = (
    "The board expects\nthe levels to hold through a dry summer because the upper\n"
    "catchment stores more snow than in any of the past ten years."
)


def survey_pages(header: str = HEADER) -> list[list[str]]:
    """The three pages of the survey, each with the running header on top and its number below."""
    return [[header, *body, f"Page {n} of {len(BODY)}"] for n, body in enumerate(BODY, 1)]
