"""Where question notebooks live in the learner's home, and which paths may be submitted.

Paths here are Jupyter *API paths*: relative to the server's root directory, with ``/``
separators, as the contents manager uses them. The checks are deliberately stricter
than the contents manager's own (no hidden segments at all, no ``..`` even when it
would stay inside the root), so every refusal can name the problem plainly.
"""

import copy
import datetime
import re

import nbformat

#: Where an instructor's previews of a question's student version are written.
PREVIEW_FOLDER = "coursehub-preview"

# A slug becomes one path segment: it must not contain a separator, start with a dot
# (hidden, or `..`) or hold characters a shell or a file browser would trip over.
SLUG_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


class LearnerPathError(ValueError):
    """A path a learner sent cannot be used; ``str(e)`` says why, for a 400."""


def check_learner_path(path) -> str:
    """Return ``path`` normalised as an API path inside the learner's root directory.

    Refuses (with :class:`LearnerPathError`) empty, absolute, parent-relative (``..``)
    and hidden (``.name``) paths.
    """
    if not isinstance(path, str) or not path.strip():
        raise LearnerPathError('A "path" to the notebook, relative to your home, is required.')
    if "\0" in path:
        raise LearnerPathError("The path contains a NUL character.")
    if path.startswith(("/", "\\", "~")) or re.match(r"^[A-Za-z]:[\\/]", path):
        raise LearnerPathError(
            f"{path!r} is an absolute path: give the path relative to your home directory."
        )
    segments = [s for s in path.replace("\\", "/").split("/") if s not in ("", ".")]
    if ".." in segments:
        raise LearnerPathError(f"{path!r} leaves your home directory ('..' is not allowed).")
    if any(s.startswith(".") for s in segments):
        raise LearnerPathError(f"{path!r} is hidden: notebooks in hidden folders cannot be used.")
    if not segments:
        raise LearnerPathError(f"{path!r} is your home directory, not a notebook.")
    return "/".join(segments)


def question_module_slug(question: dict) -> str | None:
    """The slug of the question's module, from whichever field the grader filled.

    The v1 API sends ``module_slug``; older or other graders may send ``module`` as
    the slug itself or as an object with a ``slug``.
    """
    for value in (question.get("module_slug"), question.get("module")):
        if isinstance(value, dict):
            value = value.get("slug")
        if isinstance(value, str) and value:
            return value
    return None


def question_notebook_path(question: dict, question_id: str) -> str:
    """``<module-slug>/<question-slug>.ipynb``: where a question is opened.

    Falls back to ``question-<id>`` for a question without a slug and to the root
    directory for one without a module. Raises ``ValueError`` for a slug that cannot
    be a file name (a grader bug, never learner input).
    """
    slug = question.get("slug") or f"question-{question.get('id', question_id)}"
    module = question_module_slug(question)
    for name in (slug, module):
        if name is not None and (not isinstance(name, str) or not SLUG_PATTERN.match(name)):
            raise ValueError(f"the grading service sent a slug that is not a file name: {name!r}")
    filename = f"{slug}.ipynb"
    return f"{module}/{filename}" if module else filename


def tag_notebook(notebook: dict, question_id) -> nbformat.NotebookNode:
    """A copy of ``notebook`` with ``metadata.coursehub.question_id`` set.

    Submitting reads the id back, so a notebook cannot be sent as an answer to a
    different question by mistake. Raises ``ValueError`` if it is not a notebook.
    """
    if not isinstance(notebook, dict) or not isinstance(notebook.get("cells"), list):
        raise ValueError("the grading service sent a question without a notebook")
    nb = nbformat.from_dict(copy.deepcopy(notebook))
    nb.setdefault("metadata", nbformat.NotebookNode())
    nb.metadata.setdefault("coursehub", nbformat.NotebookNode())
    nb.metadata.coursehub["question_id"] = question_id
    return nb


def recorded_question_id(notebook: dict):
    """The question id recorded by :func:`tag_notebook`, or None."""
    coursehub = (notebook.get("metadata") or {}).get("coursehub") or {}
    return coursehub.get("question_id") if isinstance(coursehub, dict) else None


def preview_notebook(notebook: dict, question_id) -> nbformat.NotebookNode:
    """A copy of a student version to look at, not to work in.

    Every cell is marked read-only (``editable``/``deletable`` false, which JupyterLab
    honours). ``metadata.coursehub`` says only ``{"preview": <question id>}``: no
    ``question_id``, so the copy gets no Submit button and cannot be sent as an answer,
    and none of the source's authoring fields (its ``id`` above all, which the student
    version inherits), so the Instructor panel never takes the copy for the source.
    Raises ``ValueError`` if it is not a notebook.
    """
    if not isinstance(notebook, dict) or not isinstance(notebook.get("cells"), list):
        raise ValueError("the grading service sent a question without a notebook")
    nb = nbformat.from_dict(copy.deepcopy(notebook))
    nb.setdefault("metadata", nbformat.NotebookNode())
    nb.metadata["coursehub"] = nbformat.NotebookNode(preview=question_id)
    for cell in nb.cells:
        cell.setdefault("metadata", nbformat.NotebookNode())
        cell.metadata["editable"] = False
        cell.metadata["deletable"] = False
    return nb


#: The folder, beside a question's notebook, where fresh copies for a review go.
REVIEWS_FOLDER = "reviews"


def review_notebook_path(question: dict, question_id: str, day: datetime.date, n: int = 1) -> str:
    """``<module>/reviews/<question-slug>-<YYYY-MM-DD>[-n].ipynb``: the ``n``-th fresh
    copy of a question opened on ``day`` to review it (``-n`` from the second on), beside
    the question's own notebook, which keeps the learner's earlier work.

    Raises ``ValueError`` like :func:`question_notebook_path` for a slug that cannot be
    a file name.
    """
    own = question_notebook_path(question, question_id)
    folder, _, filename = own.rpartition("/")
    suffix = "" if n <= 1 else f"-{n}"
    name = f"{filename.removesuffix('.ipynb')}-{day.isoformat()}{suffix}.ipynb"
    return "/".join(p for p in (folder, REVIEWS_FOLDER, name) if p)


#: The folder, beside a question's notebook, where copies of past submissions go.
SUBMISSIONS_FOLDER = "submissions"


def submitted_notebook_path(question: dict, question_id: str, submission_id) -> str:
    """``<module>/submissions/<question-slug>-<submission id>.ipynb``: where the notebook
    of a past submission is written, beside the question's own notebook.

    Raises ``ValueError`` like :func:`question_notebook_path` for a slug that cannot be a
    file name, or for a submission id that is not a number.
    """
    if not str(submission_id).isdigit():
        raise ValueError(f"a submission id must be a number, not {submission_id!r}")
    own = question_notebook_path(question, question_id)
    folder, _, filename = own.rpartition("/")
    name = f"{filename.removesuffix('.ipynb')}-{submission_id}.ipynb"
    return "/".join(p for p in (folder, SUBMISSIONS_FOLDER, name) if p)


def submitted_notebook(notebook, question_id, submission_id: int) -> nbformat.NotebookNode:
    """A submission's notebook as a copy to look at: every cell read-only and
    ``metadata.coursehub`` saying only ``{"submission", "question"}`` (no ``question_id``,
    so it has no Submit button and is not sent as an answer by mistake).

    Raises ``ValueError`` if it is not a notebook.
    """
    if not isinstance(notebook, dict) or not isinstance(notebook.get("cells"), list):
        raise ValueError("the grading service sent a submission without a notebook")
    nb = nbformat.from_dict(copy.deepcopy(notebook))
    nb.setdefault("metadata", nbformat.NotebookNode())
    nb.metadata["coursehub"] = nbformat.NotebookNode(submission=submission_id, question=question_id)
    for cell in nb.cells:
        cell.setdefault("metadata", nbformat.NotebookNode())
        cell.metadata["editable"] = False
        cell.metadata["deletable"] = False
    return nb
