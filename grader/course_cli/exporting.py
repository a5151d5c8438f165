"""`course export`: a course's gradebook as CSV, and learners' graded notebooks.

The gradebook is streamed from `GET gradebook.csv` into the file as it arrives. The
notebooks are each learner's latest graded submission to each question (the one their
feedback is about, not necessarily their best), written as
`DIR/<module>/<question>/<user>.ipynb`: one is downloaded, written and let go before
the next, so a class of any size takes the memory of one notebook. Each file is written
whole or not at all, and an export run again overwrites the same files.
"""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path
from urllib.parse import quote

from . import output
from .api import APIError
from .main import EXIT_FAILED, EXIT_OK, taught_course

PAGE = 1000  # submissions listed per request (the API's maximum)


def export_course(api, args) -> int:
    slug = taught_course(api, args.course)["slug"]
    failed = False
    if args.gradebook:
        failed |= not _export_gradebook(api, slug, args.gradebook)
    if args.submissions:
        failed |= not _export_submissions(api, slug, args.submissions)
    return EXIT_FAILED if failed else EXIT_OK


def _export_gradebook(api, course: str, target: Path) -> bool:
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        with output.progress_bar() as progress:
            progress.add_task(f"gradebook of {course}", total=None)
            size = api.download("gradebook.csv", target, course=course)
    except APIError as e:
        if e.not_signed_in:
            raise
        output.error(f"gradebook: {e.message}")
        return False
    with open(target, encoding="utf-8", newline="") as f:
        learners = sum(1 for _ in csv.reader(f)) - 1
    output.note(f"gradebook: {target} (learners: {learners}, {size:,} bytes)")
    return True


def _export_submissions(api, course: str, folder: Path) -> bool:
    questions = api.get("questions", course=course)["questions"]
    summary = output.table(
        f"{course}: graded notebooks", "module", "question", "learners", "result"
    )
    tally = dict.fromkeys(("exported", "failed"), 0)
    with output.progress_bar() as progress:
        overall = progress.add_task(f"submissions of {course}", total=len(questions))
        for question in questions:
            name = f"{question['module_slug']}/{question['slug']}"
            latest = _latest_graded(api, question["id"])
            task = progress.add_task(f"  {name}", total=len(latest))
            where = folder / question["module_slug"] / question["slug"]
            done, problems = 0, []
            for user, submission_id in latest.items():
                try:
                    model = api.get(f"submissions/{submission_id}/notebook")
                except APIError as e:
                    if e.not_signed_in:
                        raise
                    problems.append(f"{user}: {e.message}")
                else:
                    # the notebook itself; or wrapped, {"notebook": ...}
                    notebook = model if "cells" in model else model.get("notebook")
                    if isinstance(notebook, dict | str):
                        _write_notebook(where / f"{file_name(user)}.ipynb", notebook)
                        done += 1
                    else:
                        problems.append(f"{user}: the answer holds no notebook")
                progress.advance(task)
            progress.remove_task(task)
            tally["exported"] += done
            tally["failed"] += len(problems)
            if problems:
                shown = "; ".join(problems[:3]) + (" ..." if len(problems) > 3 else "")
                result = f"{output.result('failed')} {output.escape(shown)}"
            else:
                result = output.result("exported") if latest else "no graded submission"
            summary.add_row(
                question["module_slug"], question["slug"], f"{done}/{len(latest)}", result
            )
            progress.advance(overall)
    output.out.print(summary)
    output.note(f"notebooks: {output.counts(tally)} (in {folder})")
    return not tally["failed"]


def _latest_graded(api, question_id: int) -> dict[str, int]:
    """{learner: id of their latest graded submission} for one question, read a page
    of submissions (newest first) at a time."""
    latest: dict[str, int] = {}
    offset = 0
    while True:
        page = api.get("submissions", user="*", question=question_id, limit=PAGE, offset=offset)[
            "submissions"
        ]
        for submission in page:
            if submission["status"] == "graded":
                latest.setdefault(submission["user"], submission["id"])
        if len(page) < PAGE:
            return latest
        offset += PAGE


def file_name(user: str) -> str:
    """A Hub user name as a file name: the name itself where it is a safe one, else
    %-escaped (a name is never a path, nor hidden)."""
    name = quote(user, safe="@+-_.")
    return "%2E" + name[1:] if name.startswith(".") else name


def _write_notebook(path: Path, notebook) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".part")
    with open(partial, "w", encoding="utf-8") as f:
        if isinstance(notebook, str):
            f.write(notebook)
        else:
            json.dump(notebook, f, indent=1, ensure_ascii=False)
            f.write("\n")
    os.replace(partial, path)
