"""`coursehub-grader course ...`: instructors' command line over the grader's REST API.

It runs wherever an instructor works (their laptop, a terminal in their Hub server) and
reaches the grader like any other client, through the Hub's proxy
(`https://hub.example/services/grader/api/v1/`) or directly, with a Hub API token: it
never opens the grader's database, so it works against any deployment and every
permission check is the service's own.

- `api.py`: the HTTP client (`GraderAPI`), where the URL and token come from, errors
- `folders.py`: a course on disk (coursehub's `course.json` layout or an nbgrader course
  directory) as the modules and questions to send
- `importing.py`, `releasing.py`, `exporting.py`: the subcommands
- `output.py`: progress bars and summary tables (rich)
- `main.py`: the argument parser and the exit codes
"""

from .main import add_course_command, run_course_command

__all__ = ["add_course_command", "run_course_command"]
