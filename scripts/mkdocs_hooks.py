"""mkdocs hooks for the documentation site (mkdocs.yml).

docs/plugins.md marks the examples that tests/test_plugin_docs.py runs with a second word after the language of the
fence (```` ```python runnable ````). GitHub shows such a fence as Python; Python-Markdown's fenced-code extension
does not recognise it and would render the rest of the page as one paragraph, so the marker is dropped here.
"""

from __future__ import annotations

import re
from typing import Any

RUNNABLE_FENCE = re.compile(r"^```python runnable\s*$", re.MULTILINE)


def on_page_markdown(markdown: str, **_: Any) -> str:
    return RUNNABLE_FENCE.sub("```python", markdown)
