"""Sphinx extension: emit each script of a page once.

Under Sphinx 7.4, sphinx-thebe 0.3 and sphinx-togglebutton register their inline configuration
scripts twice (once with filename None, once with ""); the second ``const THEBE_JS_URL`` then throws
"Identifier 'THEBE_JS_URL' has already been declared" in every page's console.
"""

from __future__ import annotations

from typing import Any


def _dedupe(app: Any, pagename: str, templatename: str, context: dict, doctree: Any) -> None:
    seen: set[tuple[str, str]] = set()
    unique = []
    for script in context.get("script_files", []):
        attributes = getattr(script, "attributes", {})
        key = (str(getattr(script, "filename", script) or ""), str(attributes.get("body", "")))
        if key not in seen:
            seen.add(key)
            unique.append(script)
    context["script_files"] = unique


def setup(app: Any) -> dict[str, bool]:
    app.connect("html-page-context", _dedupe, priority=900)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
