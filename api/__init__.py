"""The HTTP service: the chat page, a JSON API with streaming, and an OpenAI-compatible endpoint.

`api.main.create_app()` builds the app; `qa serve` (api/cli.py) runs it under uvicorn. Every
route answers through the same `Answerer` the CLI and the evals use.
"""
