"""The one JSON response class of the API: ASCII output, so every body can be encoded.

A request may carry `\\ud800`-style escapes (lone surrogates), and a message or rejection that
quotes them cannot be written as UTF-8; escaping non-ASCII (`\\u00e9`) is valid JSON that any client
reads back as the same text, and never turns a helpful 4xx into a 500.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi.responses import JSONResponse

__all__ = ["JsonResponse"]


class JsonResponse(JSONResponse):
    def render(self, content: Any) -> bytes:
        return json.dumps(content, ensure_ascii=True, allow_nan=False, separators=(",", ":")).encode()
