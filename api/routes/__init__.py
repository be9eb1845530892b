"""The API's routers, one module per group of endpoints: ask (our JSON API and its stream), chat
(OpenAI-compatible), sources, health and the page."""
