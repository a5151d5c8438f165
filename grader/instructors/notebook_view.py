"""A learner's notebook as an instructor reads it: a plain model of its cells and
outputs for a template to show as text, never the learner's HTML.

A submitted notebook is the learner's to write, outputs included, so anything in it may
be aimed at whoever opens it: a `text/html` output with `<script>` or `<img onerror>`,
JavaScript, a markdown cell with raw HTML or `javascript:` links, an SVG with scripts.
Nothing of it is rendered: sources (markdown too) and text outputs are text the template
escapes; an HTML, JavaScript, LaTeX or SVG output is shown as its source, labelled with
its type. Raster images (PNG, JPEG, GIF, and only when their bytes are one) are shown
through `output_image`, served by the grader at a URL of the page's own origin with their
type and a sandboxing Content-Security-Policy: the pages' policy allows images from
`'self'` only (no `data:`).

Long texts are cut (`MAX_TEXT`), so a notebook with megabytes of output is still a page
a browser shows.
"""

from __future__ import annotations

import base64
import binascii
import json
import re

MAX_TEXT = 20_000  # characters of a source or an output shown
ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")

#: raster image types shown as images, and how their bytes begin
IMAGE_SIGNATURES = {
    "image/png": (b"\x89PNG\r\n\x1a\n",),
    "image/jpeg": (b"\xff\xd8\xff",),
    "image/gif": (b"GIF87a", b"GIF89a"),
}
#: a rich output's text shown, best first, when it has no image
TEXT_TYPES = ("text/plain", "text/markdown", "text/latex", "text/html", "image/svg+xml")


def notebook_cells(nb) -> list[dict]:
    """``[{"index", "type", "source", "cut", "role", "grade_id", "execution_count",
    "outputs": [...]}]`` of a stored notebook; ``role`` is "answer", "answer graded by
    hand", "test" or None.
    An output is ``{"kind": "text", "label", "text", "cut", "error"}`` or ``{"kind":
    "image", "mime", "index"}`` (its ``index`` in the cell's outputs, for
    `output_image`)."""
    cells = nb.get("cells") if isinstance(nb, dict) else None
    if not isinstance(cells, list):
        # not a notebook (another question type's answer): its JSON as text
        text, cut = _cut(json.dumps(nb, indent=1, ensure_ascii=False))
        return [_cell(0, "raw", text, cut, {}, [])]
    model = []
    for index, cell in enumerate(cells):
        if not isinstance(cell, dict):
            continue
        kind = cell.get("cell_type") if cell.get("cell_type") in ("code", "markdown") else "raw"
        source, cut = _cut(_text(cell.get("source")))
        outputs = cell.get("outputs") if kind == "code" else None
        shown = [
            _output(i, output)
            for i, output in enumerate(outputs if isinstance(outputs, list) else [])
            if isinstance(output, dict)
        ]
        model.append(_cell(index, kind, source, cut, cell, shown))
    return model


def output_image(nb, cell_index: int, output_index: int) -> tuple[str, bytes] | None:
    """(type, bytes) of a raster image output, or None if that output is not one."""
    try:
        output = nb["cells"][cell_index]["outputs"][output_index]
        data = output["data"]
    except (KeyError, IndexError, TypeError):
        return None
    return _image(data) if isinstance(data, dict) else None


def _image(data: dict) -> tuple[str, bytes] | None:
    """The first raster image of an output's data whose bytes are what its type says."""
    for mime, signatures in IMAGE_SIGNATURES.items():
        encoded = data.get(mime)
        if not isinstance(encoded, str | list):
            continue
        try:
            raw = base64.b64decode(_text(encoded))
        except (binascii.Error, ValueError):
            continue
        if raw.startswith(signatures):
            return mime, raw
    return None


def _cell(index, kind, source, cut, cell, outputs) -> dict:
    metadata = cell.get("metadata")
    nbgrader = metadata.get("nbgrader") if isinstance(metadata, dict) else None
    nbgrader = nbgrader if isinstance(nbgrader, dict) else {}
    role = None
    if nbgrader.get("solution"):
        role = "answer graded by hand" if nbgrader.get("grade") else "answer"
    elif nbgrader.get("grade") and kind == "code":
        role = "test"
    gid = nbgrader.get("grade_id")
    count = cell.get("execution_count")
    return {
        "index": index,
        "type": kind,
        "source": source,
        "cut": cut,
        "role": role,
        "grade_id": gid if isinstance(gid, str) and gid else None,
        "execution_count": count if isinstance(count, int) else None,
        "outputs": outputs,
    }


def _output(index: int, output: dict) -> dict:
    kind = output.get("output_type")
    if kind == "stream":
        name = output.get("name") if output.get("name") in ("stdout", "stderr") else "stream"
        return _text_output(name, ANSI.sub("", _text(output.get("text"))), error=name == "stderr")
    if kind == "error":
        lines = output.get("traceback")
        text = "\n".join(_text(line) for line in lines) if isinstance(lines, list) else ""
        if not text:
            text = f"{_text(output.get('ename'))}: {_text(output.get('evalue'))}"
        return _text_output("error", ANSI.sub("", text), error=True)
    data = output.get("data")
    if kind not in ("execute_result", "display_data") or not isinstance(data, dict):
        return _text_output(str(kind or "output"), json.dumps(output, ensure_ascii=False))
    image = _image(data)
    if image is not None:
        return {"kind": "image", "mime": image[0], "index": index}
    for mime in TEXT_TYPES:
        if mime in data:
            label = "" if mime == "text/plain" else f"{mime}, shown as its source"
            return _text_output(label, _text(data[mime]))
    mimes = ", ".join(sorted(str(m) for m in data)) or "nothing"
    return _text_output("", f"[an output of type {mimes}, not shown]")


def _text_output(label: str, text: str, error: bool = False) -> dict:
    text, cut = _cut(text)
    return {"kind": "text", "label": label, "text": text, "cut": cut, "error": error}


def _text(value) -> str:
    """A notebook string (one string, or a list of lines)."""
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        return "".join(v for v in value if isinstance(v, str))
    return "" if value is None else json.dumps(value, ensure_ascii=False)


def _cut(text: str) -> tuple[str, int]:
    """The text up to `MAX_TEXT`, and how many characters were left out."""
    if len(text) <= MAX_TEXT:
        return text, 0
    return text[:MAX_TEXT], len(text) - MAX_TEXT
