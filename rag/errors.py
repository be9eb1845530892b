"""Errors of the assistant, one small tree; only api/ and the CLI translate them.

QAError
├── ConfigError          bad settings or arguments
├── InputError           a bad question or request
│   ├── UnknownFilterError   a filter naming a source or section the index does not have
│   └── UnknownSourceError   a source id the index does not have (a document to delete)
├── ConflictError        an ingest is running, or a document by that name is there already
├── LoadError            a corpus file that cannot be read (reported, skipped)
├── IndexNotReadyError   no index, or one built by another embedder/chunker
├── StorageError         the data directory cannot be written: full, or read-only
├── LLMUnavailableError  the generative mode's LLM server is missing or does not answer
└── CitationError        a quote that is not the exact span it claims
"""


class QAError(Exception):
    """Base of every error the assistant raises on purpose."""


class ConfigError(QAError):
    """A setting or argument is out of range or inconsistent."""


class InputError(QAError):
    """A question or request that cannot be answered as given (empty, too long, malformed)."""


class UnknownFilterError(InputError):
    """A filter that names a source or section the index does not have (not found, not malformed)."""


class UnknownSourceError(InputError):
    """A source id the index does not have, named where one must be (deleting a document)."""


class ConflictError(QAError):
    """The request cannot run now or as given: another ingest holds the lock, or a document of
    that name is in the corpus already."""


class LoadError(QAError):
    """A corpus file that cannot be read; ingest reports it by name and goes on."""


class IndexNotReadyError(QAError):
    """The index is missing, empty, or was built by a different embedder or chunker."""


class StorageError(QAError):
    """Writing the index failed for want of space or of write access; what was there before stays."""


class LLMUnavailableError(QAError):
    """The OpenAI-compatible server of the llm mode is not configured or did not answer."""


class CitationError(QAError):
    """A citation whose quote is not exactly source_text[start:end]; never leaves rag/."""
