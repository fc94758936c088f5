"""Sphinx extension: fixes to the HTML that the theme and extensions emit.

Each fix was found by the browser check of the built site (`make site-check`,
tools/site_check.py); it is enabled in _config.yml under `sphinx: local_extensions:`.

- **Duplicate inline scripts.** sphinx-thebe and sphinx-togglebutton add inline scripts after
  the HTML builder has started; Sphinx 7 then lists each of them twice on every page (it compares
  a script with no file name, ``None``, to ``''``). The second copy of sphinx-thebe's
  ``const THEBE_JS_URL = ...`` throws "Identifier 'THEBE_JS_URL' has already been declared" on
  every page. Identical scripts are kept once.
- **Bibliography roles.** docutils marks each entry of a citation list with
  ``role="doc-biblioentry"``, a role that DPUB-ARIA 1.1 deprecated; a ``role="list"`` must contain
  list items, so axe reports the bibliography as a critical violation (aria-required-children).
  The entries get ``role="listitem"``, the role the deprecated one was a kind of.
"""
from __future__ import annotations

from typing import Any

from sphinx.application import Sphinx


def _script_key(script: Any) -> tuple:
    filename = str(getattr(script, "filename", script) or "")
    attributes = getattr(script, "attributes", {})
    return filename, tuple(sorted((key, str(value)) for key, value in attributes.items()))


def drop_duplicate_scripts(app: Sphinx, pagename: str, templatename: str, context: dict,
                           doctree: Any) -> None:
    """Keep the first of identical <script> entries (the builder restores the list per page)."""
    scripts = context.get("script_files")
    if not scripts:
        return
    seen: set[tuple] = set()
    unique = []
    for script in scripts:
        key = _script_key(script)
        if key not in seen:
            seen.add(key)
            unique.append(script)
    scripts[:] = unique


def fix_citation_roles(app: Sphinx, pagename: str, templatename: str, context: dict,
                       doctree: Any) -> None:
    """Citation entries are list items of their role="list" container."""
    body = context.get("body")
    if body and 'role="doc-biblioentry"' in body:
        context["body"] = body.replace('role="doc-biblioentry"', 'role="listitem"')


def setup(app: Sphinx) -> dict:
    app.connect("html-page-context", drop_duplicate_scripts)
    app.connect("html-page-context", fix_citation_roles)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
