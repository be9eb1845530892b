"""Behaviour tests with the real components (model, Chroma, uvicorn, Chromium); they mirror the
source tree, and tests/test_architecture.py holds the layout itself."""
