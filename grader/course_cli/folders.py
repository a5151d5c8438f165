"""A course on disk as the command line sends it: modules in order, a question per
notebook.

Two layouts are understood:

- a coursehub course folder (`course.json` + `<module>/<question>.ipynb`, see
  course_content/README.md), read as :func:`grader.instructors.content.load_course`
  reads it, one notebook at a time as each is sent: the folder says the course's and
  modules' titles, descriptions and how learners join;
- an nbgrader course directory (`nbgrader_config.py` + `source/<assignment>/*.ipynb`),
  read by :func:`grader.instructors.nbgrader_course.read_nbgrader_course`, which
  validates (and so reads) every notebook first and lists what nbgrader would skip
  (`warnings`). It says no titles an instructor may have changed since: they are used
  only for what the import creates.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

NBGRADER_CONFIG = "nbgrader_config.py"


class FolderError(Exception):
    """A folder that cannot be read as a course at all (no item of it was tried)."""


class NotebookProblems(Exception):
    """Notebooks of an nbgrader course that are not valid questions: every one is
    listed in ``problems`` (the reader checks them all before anything is sent)."""

    def __init__(self, problems: list[str]):
        super().__init__("\n".join(problems))
        self.problems = problems


@dataclass
class QuestionFile:
    """A question's notebook on disk and what its card says."""

    module: str
    slug: str
    path: Path
    # an nbgrader course's notebooks are read (and checked) with the course
    source: bytes | None = None
    fields: dict | None = None

    @property
    def name(self) -> str:
        return f"{self.module}/{self.slug}"

    def read(self) -> tuple[dict, dict]:
        """(the notebook as JSON, its card: title, category, difficulty, tags); OSError
        or ValueError name what is wrong with the file."""
        notebook = json.loads(self.source if self.source is not None else self.path.read_bytes())
        if not isinstance(notebook, dict):
            raise ValueError("not a notebook: the file holds no JSON object")
        if self.fields is not None:
            return notebook, self.fields
        meta = notebook.get("metadata", {}).get("coursehub", {})
        if not isinstance(meta, dict):
            raise ValueError("metadata.coursehub must be an object")
        return notebook, {
            "title": meta.get("title") or self.slug,
            "category": meta.get("category", ""),
            "difficulty": meta.get("difficulty", ""),
            "tags": sorted(meta.get("tags", [])),
        }


@dataclass
class ModuleFolder:
    slug: str
    title: str
    description: str | None  # None: the folder does not say (keep the course's)
    questions: list[QuestionFile] = field(default_factory=list)


@dataclass
class CourseFolder:
    kind: str  # "coursehub" | "nbgrader"
    path: Path
    slug: str
    title: str
    description: str | None
    join: str | None
    modules: list[ModuleFolder]
    # the course's own achievements (course.json), None when the folder says none
    achievements: list | None = None
    # True: titles, descriptions and joining come from the folder, also on re-import
    says_titles: bool = True
    warnings: list[str] = field(default_factory=list)

    @property
    def questions(self) -> list[QuestionFile]:
        return [q for m in self.modules for q in m.questions]


def read_folder(path: Path) -> CourseFolder:
    """The course in ``path``; FolderError if it is neither layout, NotebookProblems
    for an nbgrader course with bad notebooks."""
    path = Path(path)
    if not path.is_dir():
        raise FolderError(f"{path}: not a folder")
    if (path / "course.json").is_file():
        return read_coursehub_folder(path)
    if (path / NBGRADER_CONFIG).is_file() or (path / "source").is_dir():
        return read_nbgrader_folder(path)
    raise FolderError(
        f"{path}: neither a coursehub course folder (course.json) nor an nbgrader course "
        f"directory ({NBGRADER_CONFIG}, source/)"
    )


def read_coursehub_folder(path: Path) -> CourseFolder:
    # the loader's reading of course.json (it brings nbformat: imported when needed)
    from ..instructors.content import CourseError, read_course

    try:
        spec = read_course(path)
    except CourseError as e:
        raise FolderError(str(e)) from None
    modules = []
    for position, module in enumerate(spec["modules"]):
        if not isinstance(module, dict) or not module.get("slug") or not module.get("title"):
            raise FolderError(
                f"{path / 'course.json'}: module #{position + 1}: 'slug' and 'title' are required"
            )
        slug = module["slug"]
        questions = [
            QuestionFile(module=slug, slug=question, path=path / slug / f"{question}.ipynb")
            for question in module.get("questions", [])
        ]
        modules.append(
            ModuleFolder(slug, module["title"], module.get("description", ""), questions)
        )
    return CourseFolder(
        kind="coursehub",
        path=path,
        slug=spec.get("slug") or path.resolve().name,
        title=spec.get("title") or spec.get("slug") or path.resolve().name,
        description=spec.get("description", ""),
        join=spec.get("join", "invite"),
        modules=modules,
        achievements=spec.get("achievements"),
    )


def read_nbgrader_folder(path: Path) -> CourseFolder:
    from ..instructors.nbgrader_course import NbgraderCourseError, read_nbgrader_course

    try:
        course = read_nbgrader_course(path)
    except NbgraderCourseError as e:
        raise NotebookProblems(e.problems) from None
    modules = []
    for assignment in course.assignments:
        module = ModuleFolder(assignment.slug, assignment.title, None)
        for notebook in assignment.notebooks:
            module.questions.append(
                QuestionFile(
                    module=assignment.slug,
                    slug=notebook.slug,
                    path=notebook.path,
                    source=notebook.source,
                    fields={
                        "title": notebook.title,
                        "category": notebook.category,
                        "difficulty": notebook.difficulty,
                        "tags": list(notebook.tags),
                    },
                )
            )
        modules.append(module)
    return CourseFolder(
        kind="nbgrader",
        path=path,
        slug=course.slug,
        title=course.title,
        description=None,
        join=None,
        modules=modules,
        says_titles=False,
        warnings=list(course.warnings),
    )
