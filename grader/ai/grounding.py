"""What the model is told: pure functions over what the learner may see anyway.

A hint or a tutor's answer is grounded in three things, and nothing else:

- the question's text: the markdown cells of the *student version* (what
  `GET questions/{id}` serves the learner), never the source notebook;
- the learner's code: the code of their *answer cells* (the cells whose grade_id is a
  solution cell of the student version), not the test or locked cells around them;
- the *visible* test results: each visible test's title, outcome and message; of a
  hidden test at most the words "a hidden test failed" (never its name, message, nor
  source: the grader never even stores its source with a submission).

So hidden tests, their messages and the reference solution cannot reach the model:
none of the inputs holds them (tests/test_ai_grounding.py makes a question whose
hidden tests and solution carry marker strings and looks for them in every prompt).
"""

from __future__ import annotations

import string
from dataclasses import dataclass

from ..grading.notebooks import grade_id, is_solution

#: what a course's prompt template may use, and what each is
PLACEHOLDERS = {
    "title": "the question's title",
    "language": "the question's language (Python, R, JavaScript, C)",
    "question": "the question's text: the markdown of the learner's version",
    "code": "the learner's code: their answer cells",
    "results": "their latest visible test results (hidden tests: only that one failed)",
}
MAX_TEMPLATE_CHARS = 8000
# bounds on what one prompt carries, whatever the notebooks hold
MAX_QUESTION_CHARS = 12_000
MAX_CODE_CHARS = 20_000
MAX_RESULTS_CHARS = 8000
MAX_MESSAGE_CHARS = 2000

DEFAULT_TEMPLATE = """\
You are a patient programming tutor in a {language} course. A learner is working on \
the question "{title}".

The question:
{question}

The learner's code:
{code}

Their latest test results (hidden tests are shown to neither them nor you):
{results}

Help them find the way themselves: point at what goes wrong, ask a guiding question, \
explain the idea they need. Never write the complete solution or the corrected code in \
full. Keep your answer short."""

HINT_REQUEST = "I am stuck on this question. Give me one hint for my next step."
HIDDEN_FAILED = "a hidden test failed"


@dataclass(frozen=True)
class Grounding:
    """Everything a prompt may say about the question and the learner's work."""

    title: str
    language: str
    question: str
    code: str
    results: str

    def values(self) -> dict[str, str]:
        return {
            "title": self.title,
            "language": self.language,
            "question": self.question,
            "code": self.code,
            "results": self.results,
        }


def _text(source) -> str:
    return "".join(source) if isinstance(source, list) else str(source or "")


def _bounded(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit] + "\n[… cut]"


def question_text(student_nb) -> str:
    """The markdown cells of the student version (the learner's own copy of the
    task), in order; solution cells (hand-graded answers) left out."""
    parts = [
        _text(cell.get("source")).strip()
        for cell in student_nb.get("cells", ())
        if cell.get("cell_type") == "markdown" and not is_solution(cell)
    ]
    return _bounded("\n\n".join(p for p in parts if p), MAX_QUESTION_CHARS)


def answer_ids(student_nb) -> list[str]:
    """grade_ids of the question's answer cells (code solution cells), in order."""
    return [
        gid
        for cell in student_nb.get("cells", ())
        if cell.get("cell_type") == "code" and is_solution(cell) and (gid := grade_id(cell))
    ]


def answer_code(student_nb, learner_nb) -> str:
    """The code of the learner's answer cells: their cells with the grade_id of one of
    the question's answer cells, in the question's order (each once)."""
    theirs: dict[str, str] = {}
    for cell in learner_nb.get("cells", ()) if isinstance(learner_nb, dict) else ():
        gid = grade_id(cell) if isinstance(cell, dict) else None
        if gid and cell.get("cell_type") == "code" and gid not in theirs:
            theirs[gid] = _text(cell.get("source"))
    parts = [theirs[gid] for gid in answer_ids(student_nb) if gid in theirs]
    return _bounded("\n\n".join(p.rstrip() for p in parts), MAX_CODE_CHARS)


def sent_code(code) -> str:
    """The code the learner's JupyterLab sent with a tutor message (their answer cells'
    current code: a string, or a list of the cells' sources), bounded."""
    if isinstance(code, list):
        code = "\n\n".join(str(c).rstrip() for c in code if isinstance(c, str))
    return _bounded(code if isinstance(code, str) else "", MAX_CODE_CHARS)


def visible_results(tests, score=None, max_score=None, error=None) -> str:
    """A submission's results as the learner sees them, hidden tests reduced to the
    fact that one failed: never a hidden test's name, title or message."""
    if tests is None and error is None and score is None:
        return "No graded submission yet."
    lines = []
    if error:
        lines.append("The submission could not be graded.")
    if score is not None and max_score is not None:
        lines.append(f"Score: {score:g} of {max_score:g} points.")
    for test in tests or ():
        if not isinstance(test, dict):
            continue
        passed = bool(test.get("passed"))
        if test.get("hidden"):
            if not passed:
                lines.append(f"- {HIDDEN_FAILED}")
            continue
        title = str(test.get("title") or test.get("name") or "a test")
        if passed:
            lines.append(f"- {title}: passed")
        else:
            message = str(test.get("message") or "").strip()
            lines.append(f"- {title}: failed" + (f": {message}" if message else ""))
    return _bounded("\n".join(lines) or "No test results.", MAX_RESULTS_CHARS)


def fenced(code: str, language: str) -> str:
    """Code in a markdown fence the code itself cannot close."""
    fence = "```"
    while fence in code:
        fence += "`"
    return f"{fence}{language.lower()}\n{code}\n{fence}" if code.strip() else "(no code yet)"


def grounding(
    title: str, language: str, student_nb, code: str, tests, score=None, max_score=None, error=None
) -> Grounding:
    """The grounding of a prompt: the student version's text, ``code`` (from
    :func:`answer_code` or :func:`sent_code`), the visible results."""
    return Grounding(
        title=title,
        language=language,
        question=question_text(student_nb),
        code=fenced(code, language),
        results=visible_results(tests, score, max_score, error),
    )


# templates -------------------------------------------------------------------------


def template_problem(template) -> str | None:
    """Why ``template`` cannot be a course's prompt template (a sentence), or None.

    Python's format syntax with the names of :data:`PLACEHOLDERS` only: no positional
    ``{}``, no attributes or items (``{code.__class__}``), no conversions or format
    specs; literal braces doubled (``{{``)."""
    if not isinstance(template, str) or not template.strip():
        return "prompt_template must be a non-empty string"
    if len(template) > MAX_TEMPLATE_CHARS:
        return f"prompt_template is longer than {MAX_TEMPLATE_CHARS} characters"
    known = ", ".join("{" + name + "}" for name in PLACEHOLDERS)
    try:
        fields = list(string.Formatter().parse(template))
    except ValueError as e:
        return f"prompt_template is not a valid template ({e}); write literal braces as {{{{ }}}}"
    for _, name, spec, conversion in fields:
        if name is None:
            continue
        if name not in PLACEHOLDERS:
            return f"prompt_template uses {{{name}}}: the placeholders are {known}"
        if spec or conversion:
            return f"prompt_template: {{{name}}} takes no conversion or format spec"
    return None


def system_prompt(template: str, ground: Grounding) -> str:
    """The template filled in (checked by :func:`template_problem` when it was saved;
    the values are text, never read as a template again)."""
    return template.format_map(ground.values())


def hint_messages(template: str, ground: Grounding) -> list[dict]:
    """The chat messages of an AI hint."""
    return [
        {"role": "system", "content": system_prompt(template, ground)},
        {"role": "user", "content": HINT_REQUEST},
    ]


def tutor_messages(
    template: str, ground: Grounding, history: list[tuple[str, str]], text: str
) -> list[dict]:
    """The chat messages of a tutor's turn: the grounding, the conversation so far
    (learner's message, tutor's answer) and the learner's new message."""
    messages = [{"role": "system", "content": system_prompt(template, ground)}]
    for asked, answered in history:
        messages.append({"role": "user", "content": asked})
        if answered:
            messages.append({"role": "assistant", "content": answered})
    messages.append({"role": "user", "content": text})
    return messages
