"""The README's in-process LangChain example, run exactly as written (the code block is read from
README.md) against a real index of one shipped brief: its citations are structured and exact."""

from __future__ import annotations

import re

import pytest

from tests.conftest import REPO, make_settings, one_brief_corpus

pytestmark = pytest.mark.integration


def readme_example() -> str:
    """The README's python block that uses the answerer in-process (under its LangChain part)."""
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    after = readme[readme.index("**LangChain.**") :]
    [block] = [b for b in re.findall(r"```python\n(.*?)```", after, re.S) if "load_answerer" in b]
    return block


@pytest.fixture(scope="module")
def brief_index(tmp_path_factory, embeddings):
    from ingest.pipeline import ingest_paths

    root = tmp_path_factory.mktemp("langchain-example")
    settings = make_settings(root / "data", one_brief_corpus(root))
    summary = ingest_paths(None, settings, embedder_factory=lambda: embeddings, progress=False)
    assert summary.added == 1 and summary.failed == []
    return settings


def test_the_readme_example_gives_structured_exact_citations(brief_index, monkeypatch, capsys):
    from langchain_core.retrievers import BaseRetriever

    # The example reads its settings from the environment, as a user's script would.
    monkeypatch.setenv("QA_DATA_DIR", str(brief_index.data_dir))
    monkeypatch.setenv("QA_CORPUS_DIR", str(brief_index.corpus_dir))
    names: dict = {}
    exec(compile(readme_example(), "README.md", "exec"), names)  # the README block, verbatim

    answer, docs = names["answer"], names["docs"]
    assert not answer.abstained and "1994" in answer.answer
    texts = {sid: doc.text for sid, doc in names["answerer"].snapshot.sources.items()}
    assert answer.citations and [c.n for c in answer.citations] == list(range(1, len(answer.citations) + 1))
    for citation in answer.citations:
        assert texts[citation.source_id][citation.start : citation.end] == citation.quote
        assert f"[{citation.n}]" in answer.answer
    assert isinstance(names["answerer"].retriever, BaseRetriever) and docs
    for doc in docs:
        meta = doc.metadata
        assert " ".join(texts[meta["source_id"]][meta["start"] : meta["end"]].split()) == " ".join(
            doc.page_content.split()
        )
    printed = capsys.readouterr().out
    assert answer.citations[0].quote in printed and answer.citations[0].title in printed
