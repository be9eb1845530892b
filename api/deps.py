"""What routes receive through FastAPI's dependency injection: the settings and the answerer.

Both live on `app.state` (set by `create_app` and its lifespan); tests may override either with
`app.dependency_overrides[...]`.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from rag.chain import Answerer
from rag.errors import IndexNotReadyError
from rag.settings import Settings


def get_settings(request: Request) -> Settings:
    return request.app.state.settings


def get_answerer(request: Request) -> Answerer:
    answerer = request.app.state.answerer
    if answerer is None:
        reason = request.app.state.not_ready or "the index was not loaded"
        raise IndexNotReadyError(f"{reason}; then restart the server")
    return answerer


SettingsDep = Annotated[Settings, Depends(get_settings)]
AnswererDep = Annotated[Answerer, Depends(get_answerer)]
