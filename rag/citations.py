"""Citations as checked data: every quote is source_text[start:end], verified before it leaves rag/."""

from __future__ import annotations

from collections.abc import Mapping

from pydantic import BaseModel, Field

from rag.errors import CitationError


class Citation(BaseModel):
    n: int = Field(ge=1, description="the marker number used in the answer text, [n]")
    source_id: str
    title: str
    section: str
    quote: str = Field(description="exactly source_text[start:end] of the cleaned source")
    start: int = Field(ge=0)
    end: int = Field(ge=0)
    page: int | None = Field(default=None, description="PDF page where the quote starts")


# A source title longer than this is cut at a word where sources are listed (titles of news pages
# run to 20 words; the full title stays in the JSON and in `qa ask --verbose`).
TITLE_CHARS = 60


def short_title(title: str) -> str:
    """`title`, or its first words up to TITLE_CHARS followed by an ellipsis."""
    if len(title) <= TITLE_CHARS:
        return title
    return title[:TITLE_CHARS].rsplit(" ", 1)[0].rstrip(" ,;:—-") + "…"


def make_citation(
    n: int, source_id: str, title: str, section: str, text: str, start: int, end: int, page: int | None = None
) -> Citation:
    return Citation(
        n=n, source_id=source_id, title=title, section=section, quote=text[start:end], start=start, end=end, page=page
    )


def verify_citations(citations: list[Citation], source_texts: Mapping[str, str]) -> None:
    """Raise CitationError unless each quote is the exact span it claims and markers are 1..n."""
    for expected_n, citation in enumerate(citations, start=1):
        if citation.n != expected_n:
            raise CitationError(f"citation numbers must run 1..{len(citations)}, got {citation.n} at {expected_n}")
        text = source_texts.get(citation.source_id)
        if text is None:
            raise CitationError(f"citation [{citation.n}] names unknown source {citation.source_id!r}")
        if not (0 <= citation.start < citation.end <= len(text)):
            raise CitationError(
                f"citation [{citation.n}] span {citation.start}:{citation.end} is outside "
                f"{citation.source_id!r} (length {len(text)})"
            )
        if text[citation.start : citation.end] != citation.quote or not citation.quote.strip():
            raise CitationError(
                f"citation [{citation.n}] quote is not {citation.source_id!r}[{citation.start}:{citation.end}]"
            )
