"""The HTTP service: the chat page, a JSON API with streaming, and an OpenAI-compatible endpoint.

Owns the app factory and its lifespan (api/main.py), request and response schemas, error
translation to status codes, the API key and body-size guards, and the page. Every route answers
through the `Answerer` that rag builds; `qa serve` (api/cli.py) runs it under uvicorn.
"""
