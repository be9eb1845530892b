"""clean_text: canonical text rules, boilerplate removal, idempotence, the seed article."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from ingest.clean import BOILERPLATE_PATTERNS, clean_text, is_boilerplate

SEED = Path("/work/shared/seed/000_31241798ea01703b.txt")
PROSE_A = "Security guarantees for Ukraine remain highly undefined, officials said on Monday."
PROSE_B = "The coalition met again in Paris to discuss the framework in detail."


def _sandwich(line: str) -> str:
    return f"{PROSE_A}\n\n{line}\n\n{PROSE_B}"


BOILERPLATE_LINES = [
    "5 min read",
    "3 minute read",
    "3-minute read",
    "Reading time: 4 minutes",
    "Est. reading time 2 min",
    "Share this:",
    "Share",
    "Share on Facebook",
    "Share on X",
    "Tweet",
    "Click to share on Twitter (Opens in new window)",
    "Follow us on Twitter",
    "Advertisement",
    "ADVERTISEMENT",
    "Skip to content",
    "Print",
    "Leave a comment",
    "Cancel reply",
    "Your email address will not be published.",
    "Required fields are marked *",
    "Save my name, email, and website in this browser for the next time I comment.",
    "Post Comment",
    "Comment",
    "Name *",
    "Email *",
    "Website",
    "We use cookies to improve your experience. By continuing to browse you agree to our cookie policy.",
    "This site uses cookies. Accept all cookies",
    "Subscribe to our newsletter",
    "Sign up for our weekly newsletter to get the latest news",
    "Related posts",
    "Related Articles",
    "You may also like",
    "Read also: Zelensky meets Macron",
    "## Share this:",
    "- Share on Facebook",
    "**Advertisement**",
]


@pytest.mark.unit
@pytest.mark.parametrize("line", BOILERPLATE_LINES)
def test_each_boilerplate_line_is_removed_and_prose_kept(line: str) -> None:
    assert clean_text(_sandwich(line)) == f"{PROSE_A}\n\n{PROSE_B}"


PROSE_LINES = [
    "Grandma baked cookies for the soldiers.",
    "The EU's cookie consent rules have been criticised by privacy advocates as ineffective.",
    "Reading time matters less than reading carefully, the analyst wrote.",
    "He said the 5 min read was enough to convince him that the treaty would hold.",
    "Share prices in Kyiv rose after the announcement of the new security framework.",
    "Print media in Ukraine reported the talks in detail.",
    "Comment from the ministry was not immediately available.",
    "Subscribers to the treaty must share intelligence with each other.",
    "Leave a reply to the ministry's letter, the minister told his staff, before Friday.",
]


@pytest.mark.unit
@pytest.mark.parametrize("line", PROSE_LINES)
def test_prose_that_resembles_boilerplate_is_kept(line: str) -> None:
    assert clean_text(_sandwich(line)) == _sandwich(line)
    assert not is_boilerplate(line)


@pytest.mark.unit
def test_boilerplate_patterns_are_exposed_as_compiled_regexes() -> None:
    assert len(BOILERPLATE_PATTERNS) >= 10
    assert all(hasattr(p, "fullmatch") for p in BOILERPLATE_PATTERNS)
    assert any(p.fullmatch("5 min read") for p in BOILERPLATE_PATTERNS)


@pytest.mark.unit
def test_long_cookie_line_is_not_treated_as_a_notice() -> None:
    long_line = "This site uses cookies " + "and the article goes on about policy " * 20
    assert len(long_line) > 600
    assert long_line.strip() in clean_text(_sandwich(long_line))


@pytest.mark.unit
def test_trailing_comment_section_is_dropped() -> None:
    raw = (
        f"{PROSE_A}\n\n{PROSE_B}\n\n3 Comments\n\nJohn Smith\nMarch 3, 2025 at 10:12 am\n"
        "Great piece, thanks!\nReply\n\nLeave a Reply\nCancel reply\nName *\nEmail *\n"
    )
    assert clean_text(raw) == f"{PROSE_A}\n\n{PROSE_B}"


@pytest.mark.unit
def test_trailing_markdown_comment_section_with_long_heading_is_dropped() -> None:
    raw = (
        f"{PROSE_A}\n\n## 2 thoughts on “Security guarantees for Ukraine remain highly undefined, "
        f"officials said”\n\nAnna\nMay 1, 2025\nAgreed.\n\n## Leave a Reply\n"
    )
    assert clean_text(raw) == PROSE_A


@pytest.mark.unit
def test_comment_heading_followed_by_article_prose_keeps_the_prose() -> None:
    long_para = "After the talks, " + "the ministers agreed to continue the work on guarantees " * 3
    raw = f"{PROSE_A}\n\nLeave a comment\n\n{long_para.strip()}\n\n{PROSE_B}"
    out = clean_text(raw)
    assert long_para.strip() in out and PROSE_B in out and PROSE_A in out
    assert "Leave a comment" not in out


@pytest.mark.unit
@pytest.mark.parametrize(
    "raw",
    [
        "  Title  \r\n\r\n\r\n\r\nPara\u00a0one\u200b with\tspaces.   \n\n\n  •   item one\n",
        "secu-\nrity and de-\nfence\n\n5 min read\n\n\ufeffText ﬁnal…",
        "a-\nAdvertisement\nb and e\u0301",
        "\n\n\nx\u00ad\u2060y  \n\n\n",
        "Intro.\n\nAdver-\ntisement\n\nEnd.",  # the join makes a boilerplate line: needs a 2nd pass
    ],
)
def test_clean_text_is_idempotent(raw: str) -> None:
    once = clean_text(raw)
    assert clean_text(once) == once


@pytest.mark.unit
def test_clean_text_is_idempotent_on_random_mixtures() -> None:
    pieces = [
        "ab",
        " ",
        "\n",
        "\n\n\n",
        "\t",
        "-",
        "•",
        "* ",
        "1. ",
        "\u00a0",
        "\u200b",
        "\u00ad",
        "e\u0301",
        "\u0301",
        "ﬁ",
        "\r",
        "5 min read",
        "Share",
        "Leave a Reply",
        "cookies",
        "we use cookies",
        "3 comments",
        "x" * 45,
        "A",
        "\x07",
        "–",
        "’",
        "…",
    ]
    rng = random.Random(1234)
    for _ in range(1000):
        raw = "".join(rng.choice(pieces) for _ in range(rng.randint(0, 30)))
        once = clean_text(raw)
        assert clean_text(once) == once, repr(raw)


@pytest.mark.unit
def test_nfc_but_not_nfkc() -> None:
    # e + combining acute composes (NFC); typographic quote, ellipsis, superscript stay.
    out = clean_text("Cafe\u0301 ’Finlandization’ x² is yet to come…")
    assert out == "Caf\u00e9 ’Finlandization’ x² is yet to come…"
    assert "..." not in out and "'" not in out


@pytest.mark.unit
def test_spaces_zero_width_soft_hyphen_bom_and_ligatures() -> None:
    raw = "\ufeffinitiatives,\u00a0 the\u2009idea\u200b of\u202fneu\u00adtrality\tis ﬁne, ﬂat, eﬀort"
    assert clean_text(raw) == "initiatives, the idea of neutrality is fine, flat, effort"


@pytest.mark.unit
def test_line_endings_and_blank_lines() -> None:
    raw = "\n\n  First line  \r\nsecond line\r\rthird\n\n\n\n\nfourth   \n\n"
    assert clean_text(raw) == "First line\nsecond line\n\nthird\n\nfourth"


@pytest.mark.unit
def test_bullet_lines_keep_marker_with_one_space() -> None:
    raw = (
        "Features:\n  •   Israel is not a formal ally.\n\t-  second item\n  *  third\n"
        "  –  fourth\n 1.   numbered\n 2)  other\n•glued bullet"
    )
    assert clean_text(raw).split("\n") == [
        "Features:",
        "• Israel is not a formal ally.",
        "- second item",
        "* third",
        "– fourth",
        "1. numbered",
        "2) other",
        "• glued bullet",
    ]


@pytest.mark.unit
def test_minus_and_emphasis_are_not_mistaken_for_bullets() -> None:
    assert clean_text("-5 degrees\n*emphasis* here\n1.5 million") == "-5 degrees\n*emphasis* here\n1.5 million"


@pytest.mark.unit
def test_hyphen_join_only_between_lowercase_letters() -> None:
    raw = "the secu-\nrity guarantee\nAnglo-\nSaxon law\nCOVID-\n19 era\nwell-\n  known fact"
    assert clean_text(raw) == "the security guarantee\nAnglo-\nSaxon law\nCOVID-\n19 era\nwellknown fact"


@pytest.mark.unit
def test_does_not_rewrite_sentences() -> None:
    raw = "Despite Zelenskyy has said that 26 countries are ready, territorial consessions remain 'open'."
    assert clean_text(raw) == raw


# ------------------------------------------------------------------ the seed article


def _norm(s: str) -> str:
    return " ".join(s.split())


SEED_BOILERPLATE = (
    "5 min read",
    "Leave a Reply",
    "Your email address will not be published",
    "This website uses cookies",
)


@pytest.fixture(scope="module")
def seed() -> tuple[str, str]:
    if not SEED.is_file():
        pytest.skip(f"seed article not present at {SEED}")
    raw = SEED.read_text(encoding="utf-8")
    return raw, clean_text(raw)


@pytest.mark.unit
def test_seed_boilerplate_is_gone(seed: tuple[str, str]) -> None:
    raw, clean = seed
    for marker in SEED_BOILERPLATE:
        assert marker in raw, marker  # the test would be empty if the seed changed
        assert marker not in clean, marker
    assert "Required fields" not in clean and "Privacy and Cookie Policy" not in clean


@pytest.mark.unit
def test_seed_every_article_paragraph_survives(seed: tuple[str, str]) -> None:
    raw, clean = seed
    paragraphs = [p for p in raw.split("\n\n") if p.strip()]
    body = [p for p in paragraphs if not any(m in p for m in SEED_BOILERPLATE)]
    assert len(paragraphs) - len(body) == 4
    assert len(body) > 20
    clean_paragraphs = {_norm(p) for p in clean.split("\n\n")}
    for para in body:
        assert _norm(para) in clean_paragraphs, para[:80]
    # Only whitespace differs: the non-space characters of the body are all still there.
    assert "".join("".join(body).split()) == "".join(clean.split())


@pytest.mark.unit
def test_seed_headings_title_and_bullets_are_lines(seed: tuple[str, str]) -> None:
    raw, clean = seed
    lines = clean.split("\n")
    assert lines[0] == raw.split("\n")[0].strip()
    for heading in ("An Israel model", "A South Korean model", "’Finlandization’"):
        assert heading in lines
    bullets = [ln for ln in lines if ln.startswith("•")]
    assert len(bullets) == 3 and all(ln.startswith("• ") and ln[2] != " " for ln in bullets)
    assert "\u00a0" not in clean and "  " not in clean and "\n\n\n" not in clean
    assert clean_text(clean) == clean
