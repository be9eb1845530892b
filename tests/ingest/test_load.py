"""load: discovery, source ids, metadata layers and every file format, good and broken."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from ingest.load import SUPPORTED_SUFFIXES, discover, load_file, source_id_for
from rag.errors import LoadError
from tests.ingest.pdf_files import make_pdf


def _write(path: Path, data: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(data, str):
        path.write_text(data, encoding="utf-8")
    else:
        path.write_bytes(data)
    return path


# ------------------------------------------------------------------ discovery and ids


@pytest.mark.unit
def test_discover_orders_and_skips(tmp_path: Path) -> None:
    for rel in (
        "b.txt",
        "a.md",
        "sub/z.html",
        "sub/c.pdf",
        "sub/deeper/d.markdown",
        "x.htm",
        "a.meta.yaml",
        "sub/c.meta.yml",
        ".hidden.txt",
        ".git/e.txt",
        "sub/.cache/f.md",
        "README.md",
        "sub/README.md",
        ".qaignore",
        "notes.docx",
        "data.json",
    ):
        _write(tmp_path / rel, "x")
    found = [p.relative_to(tmp_path).as_posix() for p in discover([tmp_path], tmp_path)]
    assert found == [
        "README.md",
        "a.md",
        "b.txt",
        "sub/README.md",
        "sub/c.pdf",
        "sub/deeper/d.markdown",
        "sub/z.html",
        "x.htm",
    ]
    # Deterministic and de-duplicated when a file is also named explicitly.
    again = discover([tmp_path / "x.htm", tmp_path, tmp_path / "b.txt"], tmp_path)
    assert [p.relative_to(tmp_path).as_posix() for p in again] == found


@pytest.mark.unit
def test_a_qaignore_lists_what_is_not_a_source_wherever_the_folder_is_given_from(tmp_path: Path) -> None:
    other = tmp_path / "elsewhere" / "corpus"
    _write(other / ".qaignore", "# documents the folder\n/README.md\ndrafts/\n*.old.txt\n")
    _write(other / "README.md", "About this corpus: read the Budapest Memorandum brief first.")
    kept = _write(other / "brief.txt", "x")
    nested_readme = _write(other / "sub" / "README.md", "a document that happens to be called README")
    _write(other / "drafts" / "notes.txt", "unfinished")
    _write(other / "sub" / "report.old.txt", "superseded")
    # A deeper .qaignore has the last word, as in git: it takes one file back.
    _write(other / "sub" / ".qaignore", "!keep.old.txt\n")
    taken_back = _write(other / "sub" / "keep.old.txt", "kept after all")
    found = discover([other], tmp_path / "configured-corpus")
    assert found == [kept, nested_readme, taken_back]
    # Named on its own, an ignored file stays out; a folder without a .qaignore keeps everything.
    assert discover([other / "README.md", other / "brief.txt"], tmp_path) == [kept]
    plain = tmp_path / "plain"
    readme = _write(plain / "README.md", "a source like any other here")
    assert discover([plain], plain) == [readme]


@pytest.mark.unit
def test_a_qaignore_that_cannot_be_read_stops_discovery_with_its_name(tmp_path: Path) -> None:
    folder = tmp_path / "corpus"
    _write(folder / "a.txt", "x")
    (folder / ".qaignore").write_bytes(b"/README.md\n\xff\xfe drafts/\n")
    with pytest.raises(LoadError, match=r"\.qaignore: not UTF-8"):
        discover([folder], folder)


@pytest.mark.unit
def test_discover_explicit_files(tmp_path: Path) -> None:
    txt = _write(tmp_path / "one.txt", "x")
    assert discover([txt], tmp_path) == [txt]
    bad = _write(tmp_path / "notes.docx", "x")
    with pytest.raises(LoadError, match=r"notes\.docx"):
        discover([bad], tmp_path)
    with pytest.raises(LoadError, match=r"missing\.txt"):
        discover([tmp_path / "missing.txt"], tmp_path)
    assert ".pdf" in SUPPORTED_SUFFIXES and ".htm" in SUPPORTED_SUFFIXES


@pytest.mark.unit
def test_source_id_for(tmp_path: Path) -> None:
    root = tmp_path / "corpus"
    assert source_id_for(root / "000_31241798ea01703b.txt", root) == "000_31241798ea01703b"
    assert source_id_for(root / "sub" / "a.md", root) == "sub/a"
    assert source_id_for(root / "sub" / "my file (v2)!.tar.md", root) == "sub/my_file__v2__.tar"
    assert source_id_for(root / "Безпека.txt", root) == "_______"
    assert source_id_for(tmp_path / "elsewhere" / "b.pdf", root) == "b"
    assert source_id_for(Path("/etc/passwd.txt"), root) == "passwd"
    escaping = source_id_for(root / ".." / ".." / "etc" / "x.txt", root)
    assert escaping == "x"
    for sid in (escaping, source_id_for(root / "..." / "x.md", root)):
        assert ".." not in sid.split("/") and not sid.startswith("/")
        assert all(part.strip(".") for part in sid.split("/"))


# ------------------------------------------------------------------ text and markdown


@pytest.mark.unit
def test_markdown_front_matter_is_metadata_not_text(tmp_path: Path) -> None:
    src = _write(
        tmp_path / "sub" / "note.md",
        (
            "---\ntitle: Guarantees explained\nauthor: Jane Analyst\ndate: 2025-09-14\n"
            "language: en\nkind: analysis\nurl: https://example.org/g\ntags: [a, b]\n"
            "edition: 3\nreviewed: true\nsource_id: hijack\npages: 7\n---\n# Heading\n\nBody text here.\n"
        ),
    )
    [doc] = load_file(src, tmp_path)
    # Markdown arrives rendered: the "#" is markup, the heading is declared to the structure stage.
    assert doc.page_content == "Heading\n\nBody text here."
    assert doc.metadata["headings"] == ["Heading"]
    m = doc.metadata
    assert m["source_id"] == "sub/note" and m["path"] == "sub/note.md" and m["format"] == "markdown"
    assert (m["title"], m["author"], m["date"]) == ("Guarantees explained", "Jane Analyst", "2025-09-14")
    assert (m["language"], m["kind"], m["url"]) == ("en", "analysis", "https://example.org/g")
    assert m["origin"] == "sub/note.md"
    assert m["edition"] == 3 and m["reviewed"] is True
    assert m["tags"] == '["a", "b"]'  # a list the loader has no slot for is kept, JSON-encoded
    assert "pages" not in m  # reserved: the pipeline keeps a PDF's page offsets there
    assert "page" not in m
    assert m["content_sha256"] == hashlib.sha256(src.read_bytes()).hexdigest()


@pytest.mark.unit
def test_text_defaults_unknown_is_none(tmp_path: Path) -> None:
    src = _write(tmp_path / "000_abc.txt", "\ufeff\n\n  A   title line  \n\nBody.\n")
    [doc] = load_file(src, tmp_path)
    m = doc.metadata
    assert doc.page_content == "\n\n  A   title line  \n\nBody.\n"  # raw: BOM gone, nothing cleaned
    assert m["title"] == "A title line" and m["format"] == "text" and m["kind"] == "document"
    assert m["author"] is None and m["date"] is None and m["url"] is None and m["language"] is None
    assert m["origin"] == "000_abc.txt"


@pytest.mark.unit
def test_title_is_capped(tmp_path: Path) -> None:
    [doc] = load_file(_write(tmp_path / "t.txt", "word " * 200), tmp_path)
    assert len(doc.metadata["title"]) == 300


@pytest.mark.unit
def test_sidecar_overrides_front_matter_and_changes_hash(tmp_path: Path) -> None:
    src = _write(tmp_path / "000_x.txt", "---\ntitle: From front matter\nauthor: A\n---\nText.\n")
    before = load_file(src, tmp_path)[0].metadata
    side = _write(
        tmp_path / "000_x.meta.yaml", "title: From sidecar\ndate: 2024-01-31\norigin: https://news.example/a\nauthor:\n"
    )
    after = load_file(src, tmp_path)[0].metadata
    assert before["title"] == "From front matter" and after["title"] == "From sidecar"
    assert after["date"] == "2024-01-31" and after["origin"] == "https://news.example/a"
    assert after["author"] == "A"  # an empty sidecar value does not erase a known one
    assert after["content_sha256"] == hashlib.sha256(src.read_bytes() + side.read_bytes()).hexdigest()
    assert after["content_sha256"] != before["content_sha256"]


@pytest.mark.unit
def test_broken_yaml_names_file(tmp_path: Path) -> None:
    src = _write(tmp_path / "bad.md", "---\ntitle: [unclosed\n---\nText.\n")
    with pytest.raises(LoadError, match=r"bad\.md.*YAML"):
        load_file(src, tmp_path)
    ok = _write(tmp_path / "ok.txt", "Text.\n")
    _write(tmp_path / "ok.meta.yaml", "title: : :\n  - nope\n")
    with pytest.raises(LoadError, match=r"ok\.txt.*ok\.meta\.yaml"):
        load_file(ok, tmp_path)


@pytest.mark.unit
def test_non_utf8_text_names_file_and_offset(tmp_path: Path) -> None:
    src = _write(tmp_path / "latin.txt", "Caf\u00e9 au lait".encode("latin-1"))
    with pytest.raises(LoadError, match=r"latin\.txt: not valid UTF-8 text \(byte 0xe9 at offset 3\)"):
        load_file(src, tmp_path)


@pytest.mark.unit
@pytest.mark.parametrize(
    "name,data,message",
    [
        ("bin.txt", b"abc\x00def", "looks binary"),
        ("empty.txt", b"", "is empty"),
        ("blank.md", b"  \n\n\t\n", "is empty"),
        ("only_front.md", b"---\ntitle: x\n---\n\n  \n", "is empty"),
        ("empty.html", b"", "is empty"),
    ],
)
def test_bad_text_files(tmp_path: Path, name: str, data: bytes, message: str) -> None:
    src = _write(tmp_path / name, data)
    with pytest.raises(LoadError, match=message) as info:
        load_file(src, tmp_path)
    assert name in str(info.value)


@pytest.mark.unit
def test_oversized_file(tmp_path: Path) -> None:
    src = _write(tmp_path / "big.txt", "x" * 2000)
    with pytest.raises(LoadError, match=r"big\.txt.*2000.*1000"):
        load_file(src, tmp_path, max_bytes=1000)
    assert load_file(src, tmp_path, max_bytes=2000)[0].page_content == "x" * 2000


@pytest.mark.unit
def test_unreadable_or_missing_file(tmp_path: Path) -> None:
    with pytest.raises(LoadError, match=r"gone\.txt"):
        load_file(tmp_path / "gone.txt", tmp_path)
    with pytest.raises(LoadError, match=r"notes\.docx"):
        load_file(_write(tmp_path / "notes.docx", "x"), tmp_path)


# ------------------------------------------------------------------ HTML

ARTICLE_PARAS = [
    "In the peace process two core issues are in focus: territorial questions and the "
    "security guarantees to be provided to Ukraine once the war with Russia is over.",
    "A relationship modeled on the US-Israel relationship that focuses on weapons supplies "
    "and military assistance could help Ukraine deter future attacks, analysts argue.",
    "South Korea's postwar economic trajectory and powerful air defenses could serve as an "
    "example for Ukraine if the United States backs Kyiv as it did Seoul.",
    "After 1940, the Soviet Union annexed about 9 percent of Finland's territory; still, the "
    "country preserved its independence and its Western orientation.",
]

HTML_PAGE = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>Security guarantees for Ukraine | Example News</title>
<meta name="author" content="Jane Analyst">
<meta property="article:published_time" content="2025-09-14T10:00:00Z">
<link rel="canonical" href="https://example.org/ukraine-guarantees">
<script>var tracking = "SCRIPT_MARKER";</script><style>.x {{ color: red }}</style>
</head><body>
<header><nav><ul><li><a href="/">Home</a></li><li><a href="/world">NAV_MARKER World</a></li>
<li><a href="/about">About us</a></li></ul></nav></header>
<main><article>
<h1>Security guarantees for Ukraine</h1>
<p>{ARTICLE_PARAS[0]}</p>
<h2>An Israel model</h2>
<p>{ARTICLE_PARAS[1]}</p>
<ul><li>Israel is not a formal treaty ally.</li><li>Written assurances date from 1975 and 1981.</li></ul>
<h2>A South Korean model</h2>
<p>{ARTICLE_PARAS[2]} Costs are 5 &lt; 6 and *never* snake_case.</p>
<h2>Finlandization</h2>
<p>{ARTICLE_PARAS[3]}</p>
</article>
<section id="comments" class="comments"><h3>3 comments</h3>
<div class="comment"><p>COMMENT_MARKER great article, thanks a lot for writing it!</p></div>
<form><label>Name *</label><input name="n"><textarea></textarea><button>Post Comment</button></form>
</section></main>
<footer><p>FOOTER_MARKER Copyright 2025 Example News. All rights reserved.</p></footer>
<script>console.log("SCRIPT2_MARKER")</script>
</body></html>"""


@pytest.mark.unit
def test_html_main_content_only(tmp_path: Path) -> None:
    src = _write(tmp_path / "page.html", HTML_PAGE)
    [doc] = load_file(src, tmp_path)
    text = doc.page_content
    for marker in (
        "SCRIPT_MARKER",
        "SCRIPT2_MARKER",
        "NAV_MARKER",
        "FOOTER_MARKER",
        "COMMENT_MARKER",
        "Post Comment",
        "About us",
        "color: red",
    ):
        assert marker not in text, marker
    for para in ARTICLE_PARAS:
        assert para in text
    blocks = text.split("\n\n")
    # Headings are lines of their own without "#" marks (a reader sees none); they are declared.
    assert blocks[0] == "Security guarantees for Ukraine"
    assert "An Israel model" in blocks and "Finlandization" in blocks
    assert "#" not in text
    assert doc.metadata["headings"] == [
        "Security guarantees for Ukraine",
        "An Israel model",
        "A South Korean model",
        "Finlandization",
    ]
    # List items carry the bullet a browser draws, not a Markdown "-".
    assert "• Israel is not a formal treaty ally.\n• Written assurances date from 1975 and 1981." in blocks
    # Rendered from the XML, not trafilatura's markdown: no backslash escapes in prose.
    assert "5 < 6 and *never* snake_case." in text and "\\" not in text
    m = doc.metadata
    assert m["format"] == "html" and m["title"] == "Security guarantees for Ukraine"
    assert (m["author"], m["date"], m["url"]) == (
        "Jane Analyst",
        "2025-09-14",
        "https://example.org/ukraine-guarantees",
    )


@pytest.mark.unit
def test_html_without_meta_has_no_invented_values(tmp_path: Path) -> None:
    page = (
        "<html><head><meta charset='windows-1252'></head><body><article><h1>Plain page</h1>"
        + "".join(f"<p>{p}</p>" for p in ARTICLE_PARAS)
        + "<p>Caf\u00e9 society \u2013 opinions differ.</p></article>"
        + "<footer>\u00a9 2023 Some Site</footer></body></html>"
    )
    src = _write(tmp_path / "plain.htm", page.encode("cp1252"))
    [doc] = load_file(src, tmp_path)
    assert "Caf\u00e9 society \u2013 opinions differ." in doc.page_content
    m = doc.metadata
    assert m["title"] == "Plain page"
    assert m["author"] is None and m["url"] is None
    assert m["date"] is None  # not guessed from the copyright line


@pytest.mark.unit
def test_html_without_main_content(tmp_path: Path) -> None:
    src = _write(
        tmp_path / "nav.html", "<html><head><title>x</title></head><body><script>var a = 1;</script></body></html>"
    )
    with pytest.raises(LoadError, match=r"nav\.html.*no main content"):
        load_file(src, tmp_path)


@pytest.mark.unit
def test_html_with_wrong_charset_bytes(tmp_path: Path) -> None:
    src = _write(tmp_path / "bad.html", b"<html><body><p>caf\xe9 " + b"text " * 50 + b"</p></body></html>")
    with pytest.raises(LoadError, match=r"bad\.html.*0xe9"):
        load_file(src, tmp_path)


# ------------------------------------------------------------------ PDF

PAGE1 = ["Security guarantees for Ukraine", "The first page discusses the Israel model."]
PAGE2 = ["The second page discusses Finlandization.", "And the South Korean model."]


@pytest.mark.unit
def test_pdf_two_pages(tmp_path: Path) -> None:
    src = _write(tmp_path / "report.pdf", make_pdf([PAGE1, PAGE2], author="Think Tank"))
    docs = load_file(src, tmp_path)
    assert [d.metadata["page"] for d in docs] == [1, 2]
    for doc, lines in zip(docs, (PAGE1, PAGE2), strict=False):
        for line in lines:
            assert line in doc.page_content
    assert "Finlandization" not in docs[0].page_content and "Israel" not in docs[1].page_content
    m = docs[0].metadata
    assert m["title"] == "Security guarantees for Ukraine"  # first line, no /Title
    assert m["author"] == "Think Tank" and m["format"] == "pdf" and m["source_id"] == "report"
    assert docs[1].metadata["title"] == m["title"]
    assert m["content_sha256"] == hashlib.sha256(src.read_bytes()).hexdigest()


@pytest.mark.unit
def test_pdf_title_metadata_and_blank_page_skipped(tmp_path: Path) -> None:
    src = _write(tmp_path / "t.pdf", make_pdf([[], PAGE2], title="Official (Title)"))
    [doc] = load_file(src, tmp_path)
    assert doc.metadata["page"] == 2 and doc.metadata["title"] == "Official (Title)"


@pytest.mark.unit
def test_pdf_broken_truncated_empty_encrypted(tmp_path: Path) -> None:
    good = make_pdf([PAGE1, PAGE2])
    cases = {
        "garbage.pdf": b"this is not a pdf at all\n" * 10,
        "header_only.pdf": b"%PDF-1.4\n%%EOF\n",
        "cut.pdf": good[: len(good) // 2],
        "mid_garbage.pdf": good[:15] + b"\x8f\x12 garbage (( << >> endobj stream" * 20 + good[-40:],
        "no_root.pdf": good.replace(b"/Root 1 0 R", b"/Root 99 0 R").replace(b"/Catalog", b"/Catalox"),
        "bad_kids.pdf": good.replace(b"/Kids [", b"/Kids 5 ["),
        "no_text.pdf": make_pdf([[], []]),
    }
    from io import BytesIO

    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter()
    writer.append(PdfReader(BytesIO(good)))
    writer.encrypt(user_password="secret", owner_password="owner", algorithm="RC4-128")
    buf = BytesIO()
    writer.write(buf)
    cases["locked.pdf"] = buf.getvalue()
    messages = {}
    for name, data in cases.items():
        with pytest.raises(LoadError) as info:
            load_file(_write(tmp_path / name, data), tmp_path)
        assert name in str(info.value), name
        # What follows the file name: tmp_path itself contains words like "truncated".
        messages[name] = str(info.value).split(name, 1)[1]
    assert "truncated" in messages["cut.pdf"]
    assert "encrypted" in messages["locked.pdf"]
    assert "no extractable text" in messages["no_text.pdf"]


@pytest.mark.unit
@pytest.mark.parametrize("algorithm", ["RC4-128", "AES-128", "AES-256"])
def test_pdf_with_empty_user_password_is_readable(tmp_path: Path, algorithm: str) -> None:
    # AES needs the `cryptography` package (pypdf[crypto]); without it pypdf raises DependencyError.
    from io import BytesIO

    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter()
    writer.append(PdfReader(BytesIO(make_pdf([PAGE1]))))
    writer.encrypt(user_password="", owner_password="owner", algorithm=algorithm)
    buf = BytesIO()
    writer.write(buf)
    [doc] = load_file(_write(tmp_path / "perm.pdf", buf.getvalue()), tmp_path)
    assert PAGE1[1] in doc.page_content


@pytest.mark.unit
def test_an_aes_pdf_with_a_real_password_is_refused_by_name(tmp_path: Path) -> None:
    from io import BytesIO

    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter()
    writer.append(PdfReader(BytesIO(make_pdf([PAGE1]))))
    writer.encrypt(user_password="secret", owner_password="owner", algorithm="AES-256")
    buf = BytesIO()
    writer.write(buf)
    with pytest.raises(LoadError, match=r"locked\.pdf: PDF is encrypted \(needs a password\)"):
        load_file(_write(tmp_path / "locked.pdf", buf.getvalue()), tmp_path)
