"""Importing an nbgrader course directory as a coursehub course.

An nbgrader course directory holds `nbgrader_config.py` and the instructor's notebooks in
`source/<assignment>/<notebook>.ipynb`. It becomes one course (its slug from
`c.CourseDirectory.course_id`, else the folder's name), one module per assignment and
one question per notebook, graded as `nbgrader autograde` grades that notebook.

Reading (:func:`read_nbgrader_course`) and loading (:func:`load_nbgrader_course`) are
separate steps: reading validates every notebook and reports every problem at once (a
teacher fixes them all in one go, not one per run) and writes nothing; the description
it returns says what will be loaded and what will not (`warnings`), so a caller can show
it first.

What nbgrader itself skips is skipped, found the way nbgrader finds it: the config is
read by traitlets' loader and interpreted by nbgrader's own `CourseDirectory` (so
`source_directory`, `notebook_id` and `ignore` apply), assignments and notebooks are
globbed like `nbgrader generate_assignment` globs them (hidden files and
`.ipynb_checkpoints` never match). Other files of an assignment (data files), which
nbgrader would copy next to the notebooks, cannot be given to learners yet: they are
listed in `warnings`, never dropped without a word.

Reading runs `nbgrader_config.py`, Python code, exactly as nbgrader does: only import
course directories you would run nbgrader on. Both steps block (files, the database):
run them in a worker thread from async code.
"""

from __future__ import annotations

import glob
import logging
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from traitlets.config import Config, PyFileConfigLoader

from .. import orm
from ..grading.notebooks import NotebookFormatError, read_notebook, validate_source
from ..scopes import INSTRUCTORS_SUFFIX, SLUG
from .authoring import QuestionError, QuestionFields, check_difficulty
from .content import (
    CourseError,
    finish_load,
    retired_questions,
    upsert_course,
    upsert_question,
)

log = logging.getLogger(__name__)

CONFIG_FILE = "nbgrader_config.py"
# a markdown ATX heading: "# Title", "## Title ##"
HEADING = re.compile(r"^ {0,3}#{1,6}[ \t]+(.+?)(?:[ \t]+#+)?[ \t]*$")


class NbgraderCourseError(CourseError):
    """An nbgrader course directory that cannot be imported: ``problems`` lists every bad
    file, each message naming the file (relative to the course directory) and what is
    wrong with it."""

    def __init__(self, course_dir: Path, problems: list[str]):
        self.course_dir = course_dir
        self.problems = problems
        lines = "\n".join(f"  {problem}" for problem in problems)
        super().__init__(f"{course_dir}: cannot import this nbgrader course:\n{lines}")


@dataclass(frozen=True)
class NbgraderNotebook:
    """A notebook of an assignment, as the question it becomes."""

    slug: str
    title: str
    path: Path
    source: bytes  # the file as read and validated: what is loaded
    category: str = ""
    difficulty: str = ""
    tags: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class NbgraderAssignment:
    """An assignment folder, as the module it becomes; notebooks in name order."""

    slug: str
    title: str
    name: str  # nbgrader's assignment name: the folder's
    notebooks: list[NbgraderNotebook]


@dataclass(frozen=True)
class NbgraderCourse:
    """What importing a course directory loads, and what it leaves out (``warnings``)."""

    slug: str
    title: str
    course_id: str  # nbgrader's, "" when the config sets none
    root: Path
    assignments: list[NbgraderAssignment]
    warnings: list[str]


def readable(name: str) -> str:
    """A title from a file or folder name: "ps1-word_count" -> "Ps1 word count"."""
    words = re.sub(r"[-_\s]+", " ", name).strip()
    return words[:1].upper() + words[1:]


def slug_for(name: str) -> str:
    """A coursehub slug from an nbgrader name: the name itself when it is one (ps1,
    week-2), else lower-cased with runs of other characters as "-" ("Week 2" ->
    "week-2"); "" if nothing is left."""
    slug = re.sub(r"[^a-z0-9_-]+", "-", name.lower()).strip("-_")[:100]
    return slug if SLUG.match(slug) else ""


def natural_key(name: str) -> list:
    """Sort "ps2" before "ps10"."""
    return [int(part) if part.isdigit() else part.lower() for part in re.split(r"(\d+)", name)]


def read_config(course_dir: Path) -> Config:
    """The course's `nbgrader_config.py`, loaded like nbgrader loads it (an empty config
    if there is none: nbgrader runs without one too)."""
    if not (course_dir / CONFIG_FILE).is_file():
        return Config()
    try:
        return PyFileConfigLoader(CONFIG_FILE, path=str(course_dir), log=log).load_config()
    except Exception as e:  # anything the file's code raises
        raise NbgraderCourseError(course_dir, [f"{CONFIG_FILE}: cannot be loaded: {e}"]) from None


def read_nbgrader_course(course_dir: Path) -> NbgraderCourse:
    """Describe the course in ``course_dir``, or raise NbgraderCourseError listing every
    bad file (each notebook is checked with :func:`validate_source`)."""
    from nbgrader.coursedir import CourseDirectory

    course_dir = Path(course_dir).resolve()
    # the folder given is the course, wherever the config says its root was
    coursedir = CourseDirectory(config=read_config(course_dir), root=str(course_dir), log=log)
    problems: list[str] = []
    warnings: list[str] = []

    course_id = coursedir.course_id
    slug = slug_for(course_id or course_dir.name)
    if not slug or slug.endswith(INSTRUCTORS_SUFFIX):
        where = f"{CONFIG_FILE}: course_id {course_id!r}" if course_id else "the folder's name"
        problems.append(
            f"{where} makes no usable course slug (lower-case letters, digits, '-' and '_', "
            f"not ending in {INSTRUCTORS_SUFFIX!r})"
        )

    assignments = []
    for name, folder in _source_assignments(coursedir):
        assignment = _read_assignment(coursedir, name, folder, problems, warnings)
        if assignment is not None:
            assignments.append(assignment)
    _check_unique(
        [(a.slug, f"{coursedir.source_directory}/{a.name}") for a in assignments], problems
    )
    if not assignments and not problems:
        source = course_dir / coursedir.source_directory
        problems.append(
            f"{coursedir.source_directory}/: no assignment with notebooks"
            + ("" if source.is_dir() else " (the folder is missing: not an nbgrader course?)")
        )
    if problems:
        raise NbgraderCourseError(course_dir, problems)
    return NbgraderCourse(
        slug=slug,
        title=readable(course_id or course_dir.name),
        course_id=course_id,
        root=course_dir,
        assignments=assignments,
        warnings=warnings,
    )


def _source_assignments(coursedir) -> list[tuple[str, str]]:
    """(name, folder) of every assignment in the source directory, as nbgrader's
    `get_source_assignments` finds them (its glob skips hidden folders)."""
    pattern = coursedir.format_path(coursedir.source_directory, ".", "*")
    regex = coursedir.format_path(
        coursedir.source_directory, ".", "(?P<assignment_id>.*)", escape=True
    )
    found = []
    for folder in glob.glob(pattern):
        match = re.match(regex, folder)
        if os.path.isdir(folder) and match:
            found.append((match.group("assignment_id"), folder))
    return sorted(found, key=lambda item: (natural_key(item[0]), item[0]))


def _read_assignment(
    coursedir, name: str, folder: str, problems: list[str], warnings: list[str]
) -> NbgraderAssignment | None:
    from nbgrader.utils import find_all_files

    root = Path(coursedir.root)
    where = f"{coursedir.source_directory}/{name}"
    slug = slug_for(name)
    if not slug:
        problems.append(f"{where}: the name makes no module slug (it needs a letter or digit)")
    # the notebooks `nbgrader generate_assignment` converts
    paths = glob.glob(os.path.join(folder, coursedir.notebook_id + ".ipynb"))
    paths = sorted((Path(p) for p in paths), key=lambda p: (natural_key(p.stem), p.stem))
    notebooks = []
    for path in paths:
        notebook = _read_notebook(root, path, problems)
        if notebook is not None:
            notebooks.append(notebook)
    _check_unique([(n.slug, str(n.path.relative_to(root))) for n in notebooks], problems)
    # what it would copy beside them (it skips `ignore` and notebooks), hidden files aside
    for file in sorted(find_all_files(folder, coursedir.ignore)):
        relative = Path(file).relative_to(root)
        if Path(file) in paths or any(
            part.startswith(".") for part in Path(file).relative_to(folder).parts
        ):
            continue
        if file.endswith(".ipynb"):
            warnings.append(
                f"{relative}: skipped, as nbgrader skips it (only notebooks at the top of "
                "an assignment folder matching CourseDirectory.notebook_id are assignments)"
            )
        else:
            warnings.append(
                f"{relative}: data files are not supported yet; learners will not get it"
            )
    if not paths:
        warnings.append(f"{where}: no notebooks; the assignment is skipped")
        return None
    return NbgraderAssignment(slug=slug, title=readable(name), name=name, notebooks=notebooks)


def _read_notebook(root: Path, path: Path, problems: list[str]) -> NbgraderNotebook | None:
    relative = path.relative_to(root)
    slug = slug_for(path.stem)
    if not slug:
        problems.append(f"{relative}: the name makes no question slug (it needs a letter or digit)")
    try:
        source = path.read_bytes()
        nb = read_notebook(source)
        validate_source(nb)
    except OSError as e:
        problems.append(f"{relative}: cannot be read: {e.strerror or e}")
        return None
    except NotebookFormatError as e:
        problems.append(f"{relative}: {e}")
        return None
    language = (
        nb.metadata.get("kernelspec", {}).get("language")
        or nb.metadata.get("language_info", {}).get("name")
        or "python"
    )
    if str(language).lower() != "python":
        problems.append(f"{relative}: in {language}; coursehub grades Python notebooks only")
        return None
    meta = nb.metadata.get("coursehub", {})
    if not isinstance(meta, dict):
        problems.append(f"{relative}: metadata.coursehub must be an object")
        return None
    tags = meta.get("tags", [])
    if not isinstance(tags, list) or not all(isinstance(t, str) and t.strip() for t in tags):
        problems.append(f"{relative}: metadata.coursehub.tags must be a list of non-empty strings")
        return None
    try:
        difficulty = check_difficulty(str(meta.get("difficulty") or ""))
    except QuestionError as e:
        problems.append(f"{relative}: metadata.coursehub.difficulty: {e}")
        return None
    title = str(meta.get("title") or "").strip() or _first_heading(nb) or readable(path.stem)
    return NbgraderNotebook(
        slug=slug,
        title=title[:255],
        path=path,
        source=source,
        category=str(meta.get("category") or ""),
        difficulty=difficulty,
        tags=sorted({t.strip() for t in tags}),
    )


def _first_heading(nb) -> str | None:
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            for line in cell.source.splitlines():
                match = HEADING.match(line)
                if match:
                    return match.group(1).strip()
    return None


def _check_unique(slugs: list[tuple[str, str]], problems: list[str]) -> None:
    """Two names that make one slug ("PS1", "ps1") would be one module or question."""
    first: dict[str, str] = {}
    for slug, where in slugs:
        if slug and slug in first:
            problems.append(f"{where}: has the slug {slug!r} of {first[slug]}; rename one")
        first.setdefault(slug, where)


def load_nbgrader_course(db, course: NbgraderCourse | Path, release: bool = True) -> dict:
    """Create or update the course, a module per assignment and a question per notebook;
    returns counts, the course's slug and the warnings. Commits.

    Idempotent, like :func:`grader.instructors.content.load_course` (whose helpers do the
    writing): matched by slug, a changed notebook is a new version of its question, a
    retired question is back, nothing is deleted. New questions are released now, or
    drafts with ``release=False``; a re-import keeps every question's release state, and
    the course's and modules' titles, description and joining rules (the folder does not
    say them; instructors may have changed them in coursehub).
    """
    if not isinstance(course, NbgraderCourse):
        course = read_nbgrader_course(course)
    existing = orm.Course.find_by_slug(db, course.slug)
    spec = {
        "slug": course.slug,
        "title": existing.title if existing else course.title,
        "description": existing.description if existing else "",
        "join": existing.join if existing else "invite",
        "modules": [{"slug": a.slug} for a in course.assignments],
    }
    row = upsert_course(db, spec, default_slug=course.slug)
    counts = {
        "course": row.slug,
        "modules": 0,
        "questions_created": 0,
        "questions_updated": 0,
        "warnings": list(course.warnings),
    }
    retired = retired_questions(db)
    for position, assignment in enumerate(course.assignments):
        module = orm.Module.find_by_slug(db, assignment.slug, row.id)
        if module is None:
            module = orm.Module(course=row, slug=assignment.slug, title=assignment.title)
            db.add(module)
        module.position = position
        db.flush()
        counts["modules"] += 1
        for q_position, notebook in enumerate(assignment.notebooks):
            fields = QuestionFields(
                slug=notebook.slug,
                title=notebook.title,
                category=notebook.category,
                difficulty=notebook.difficulty,
                tags=list(notebook.tags),
                position=q_position,
            )
            try:
                created = upsert_question(db, module, fields, notebook.source, release=release)
            except QuestionError as e:  # validated when read: the student version failed
                db.rollback()
                raise NbgraderCourseError(
                    course.root, [f"{notebook.path.relative_to(course.root)}: {e}"]
                ) from None
            counts["questions_created" if created else "questions_updated"] += 1
    finish_load(db, retired)
    return counts
