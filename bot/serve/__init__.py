"""``khabar serve``: the HTTP API (native and OpenAI-compatible) and the web chat page."""
