"""The grading service's database: SQLAlchemy 2 models.

Singular classes, plural tables, `find(db, ...)` classmethods, as in JupyterHub's orm.
The schema is owned by Alembic (`grader/alembic/`); `dbutil.upgrade` creates or
migrates it, and the service refuses to start on a database that is not at head.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime

from sqlalchemy import (
    Boolean,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    desc,
    select,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from .dbutil import dialect_insert


def utcnow() -> datetime:
    """Naive UTC timestamps, as SQLite stores them."""
    return datetime.now(UTC).replace(tzinfo=None)


def isoformat(value: datetime | None) -> str | None:
    """A stored (naive UTC) timestamp as the API writes it: ISO 8601 ending in "Z"."""
    return None if value is None else value.isoformat() + "Z"


class JSONText(TypeDecorator):
    """JSON stored as text, so SQLite and PostgreSQL hold the same bytes."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value, dialect):
        return None if value is None else json.dumps(value)

    def process_result_value(self, value, dialect):
        return None if value is None else json.loads(value)


class Base(DeclarativeBase):
    pass


class User(Base):
    """A Hub user as the grader knows them: created on first request, keyed by Hub name."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(255), unique=True)
    # the public part of the profile
    display_name: Mapped[str] = mapped_column(String(255), default="")
    bio: Mapped[str] = mapped_column(Text, default="")
    # {"github": url, "linkedin": url, "website": url}, each checked as a URL
    links: Mapped[dict] = mapped_column(JSONText, default=dict)
    # PNG re-encoded by the grader (metadata stripped, resized); None: no picture
    avatar: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True, deferred=True)
    avatar_updated: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    # the private part: only the learner reads it
    email: Mapped[str] = mapped_column(String(255), default="")
    # an IANA zone: where the learner's days (streaks) begin and end
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    # shown to other learners as "anonymous learner" on leaderboards
    anonymous: Mapped[bool] = mapped_column(Boolean, default=False)
    # the learner's preferences for the front end (e.g. celebrations), a small dict
    settings: Mapped[dict] = mapped_column(JSONText, default=dict)
    created: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

    @classmethod
    def find(cls, db, name: str) -> User | None:
        return db.scalar(select(cls).where(cls.name == name))

    @classmethod
    def find_or_create(cls, db, name: str) -> User:
        """The user, made on first sight. A learner's first requests often come
        together (and to several replicas): the insert does nothing if another made
        the row first, instead of failing on the unique name."""
        user = cls.find(db, name)
        if user is None:
            db.execute(
                dialect_insert(db, cls.__table__)
                .values(
                    name=name,
                    display_name="",
                    bio="",
                    links={},
                    email="",
                    timezone="UTC",
                    anonymous=False,
                    settings={},
                    created=utcnow(),
                )
                .on_conflict_do_nothing(index_elements=[cls.__table__.c.name])
            )
            user = cls.find(db, name)
        return user


#: how learners get into a course: added by an instructor only, with the course's join
#: code, or by anyone signed in
JOIN_MODES = ("invite", "code", "open")


class Course(Base):
    """A course: modules of questions, its instructors and its learners.

    Who belongs to a course is the Hub's to say: members of the Hub groups
    `course-<slug>` (learners) and `course-<slug>-instructors`, whose roles grant the
    course's filtered custom scopes (:mod:`grader.courses`). `Enrolment` rows mirror
    that membership for the grader's own queries (gradebooks, counts).
    """

    __tablename__ = "courses"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(100), unique=True)
    title: Mapped[str] = mapped_column(String(255))
    description: Mapped[str] = mapped_column(Text, default="")
    join: Mapped[str] = mapped_column(String(10), default="invite")
    join_code: Mapped[str | None] = mapped_column(String(32), nullable=True)
    position: Mapped[int] = mapped_column(Integer, default=0)
    # the course's own achievements, as data (grader.learners.achievements), added to
    # the built-in ones
    achievements: Mapped[list] = mapped_column(JSONText, default=list)
    created: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

    modules: Mapped[list[Module]] = relationship(back_populates="course")

    @classmethod
    def find(cls, db, id: int) -> Course | None:
        return db.get(cls, id)

    @classmethod
    def find_by_slug(cls, db, slug: str) -> Course | None:
        return db.scalar(select(cls).where(cls.slug == slug))

    @property
    def board(self) -> int:
        """This course's whole leaderboard in `totals` and `score_counts`."""
        return course_board(self.id)


#: an enrolment's roles
LEARNER, INSTRUCTOR = "learner", "instructor"


class Enrolment(Base):
    """A user's place in a course, as the grader last saw it (see `Course`)."""

    __tablename__ = "enrolments"
    __table_args__ = (
        UniqueConstraint("course_id", "user_id"),
        Index("ix_enrolments_user", "user_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    course_id: Mapped[int] = mapped_column(ForeignKey("courses.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    role: Mapped[str] = mapped_column(String(20), default=LEARNER)
    created: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

    user: Mapped[User] = relationship()


class SubmissionRules:
    """Deadline and limits, on a module (its questions' default) and on a question
    (overriding the module's where set; None inherits).

    - `due`: submissions after it are late;
    - `late_policy`: "refuse" late submissions, "accept" them (flagged late), or take a
      "penalty" of `penalty_per_day` (a fraction of the question's points) for each
      day or part of a day late;
    - `submission_limit`: graded attempts a learner has at the question;
    - `cooloff`: seconds between two submissions of a learner to the question.
    """

    due: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    late_policy: Mapped[str | None] = mapped_column(String(10), nullable=True)
    penalty_per_day: Mapped[float | None] = mapped_column(Float, nullable=True)
    submission_limit: Mapped[int | None] = mapped_column(Integer, nullable=True)
    cooloff: Mapped[int | None] = mapped_column(Integer, nullable=True)


RULE_FIELDS = ("due", "late_policy", "penalty_per_day", "submission_limit", "cooloff")
LATE_POLICIES = ("refuse", "accept", "penalty")


class Module(SubmissionRules, Base):
    """An ordered group of questions in a course, e.g. "Python basics"."""

    __tablename__ = "modules"
    __table_args__ = (UniqueConstraint("course_id", "slug"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    course_id: Mapped[int] = mapped_column(ForeignKey("courses.id", ondelete="CASCADE"))
    slug: Mapped[str] = mapped_column(String(100))
    title: Mapped[str] = mapped_column(String(255))
    description: Mapped[str] = mapped_column(Text, default="")
    position: Mapped[int] = mapped_column(Integer, default=0)
    created: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

    course: Mapped[Course] = relationship(back_populates="modules")
    questions: Mapped[list[Question]] = relationship(back_populates="module")

    @classmethod
    def find(cls, db, id: int) -> Module | None:
        return db.get(cls, id)

    @classmethod
    def find_by_slug(cls, db, slug: str, course_id: int | None = None) -> Module | None:
        """The module with this slug (in this course); None if none or, without a
        course, if several courses have one."""
        query = select(cls).where(cls.slug == slug)
        if course_id is not None:
            query = query.where(cls.course_id == course_id)
        found = db.scalars(query.limit(2)).all()
        return found[0] if len(found) == 1 else None


class Question(SubmissionRules, Base):
    """A question: its nbgrader source notebook (solutions and hidden tests included).

    `student_notebook` is derived from `source_notebook` when the question is saved;
    only it ever leaves the service. Editing a question bumps `version`; submissions
    keep the version they were graded against.

    A question is a draft until `released` (None), scheduled before it, and open to
    learners from then on; instructors of its course see it in every state.
    """

    __tablename__ = "questions"
    __table_args__ = (UniqueConstraint("module_id", "slug"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    module_id: Mapped[int] = mapped_column(ForeignKey("modules.id", ondelete="CASCADE"))
    slug: Mapped[str] = mapped_column(String(100))
    title: Mapped[str] = mapped_column(String(255))
    category: Mapped[str] = mapped_column(String(100), default="")
    difficulty: Mapped[str] = mapped_column(String(20), default="")
    tags: Mapped[list] = mapped_column(JSONText, default=list)
    # the task in plain text (the notebook's first markdown cell), for search
    description: Mapped[str] = mapped_column(Text, default="")
    # hints the learner may reveal one at a time (each lowers the XP of a later solve)
    hints: Mapped[list] = mapped_column(JSONText, default=list)
    position: Mapped[int] = mapped_column(Integer, default=0)
    max_score: Mapped[float] = mapped_column(Float, default=0.0)
    version: Mapped[int] = mapped_column(Integer, default=1)
    retired: Mapped[bool] = mapped_column(Boolean, default=False)
    released: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    # which grader.grading.questiontypes entry grades it
    type: Mapped[str] = mapped_column(String(40), default="notebook")
    # the language its cells are written in (grader.grading.languages), from its kernel
    language: Mapped[str] = mapped_column(String(20), default="python", server_default="python")
    # deferred: listing questions, modules or progress never decodes a notebook
    source_notebook: Mapped[dict] = mapped_column(JSONText, deferred=True)
    student_notebook: Mapped[dict] = mapped_column(JSONText, deferred=True)
    created: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

    module: Mapped[Module] = relationship(back_populates="questions")

    @classmethod
    def find(cls, db, id: int) -> Question | None:
        return db.get(cls, id)

    def is_released(self, now: datetime | None = None) -> bool:
        return self.released is not None and self.released <= (now or utcnow())


class Submission(Base):
    """A learner's notebook for a question, and, once graded, its result.

    The row is the queue entry too: `status` goes queued -> running -> graded | error.
    Queued rows are claimed in `priority` order (fair queueing across learners, see
    grader.grading.queue). A worker owns a running submission through `claim`; it holds it while
    the worker (`worker`, a row of `workers`) is alive, and at most until `lease_expires`.
    """

    __tablename__ = "submissions"
    __table_args__ = (
        # the queue: claimable rows in claiming order, and a queued row's position
        Index("ix_submissions_queue", "status", "priority", "id"),
        # a learner's history, and their queued submissions (the per-learner limit)
        Index("ix_submissions_user_status", "user_id", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    question_id: Mapped[int] = mapped_column(
        ForeignKey("questions.id", ondelete="CASCADE"), index=True
    )
    question_version: Mapped[int] = mapped_column(Integer)
    notebook: Mapped[dict] = mapped_column(JSONText, deferred=True)
    # bytes of the stored notebook, counted against the learner's storage quota
    size: Mapped[int] = mapped_column(Integer, default=0)
    status: Mapped[str] = mapped_column(String(20), default="queued")
    priority: Mapped[float] = mapped_column(Float, default=0.0)
    score: Mapped[float | None] = mapped_column(Float, nullable=True)
    max_score: Mapped[float | None] = mapped_column(Float, nullable=True)
    tests: Mapped[list | None] = mapped_column(JSONText, nullable=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    # after the question's due date (see `SubmissionRules`), and the points that cost
    late: Mapped[bool] = mapped_column(Boolean, default=False)
    penalty: Mapped[float] = mapped_column(Float, default=0.0)
    # manually graded cells not scored yet (their points are in max_score, not in score)
    manual_pending: Mapped[bool] = mapped_column(Boolean, default=False)
    # what grading this submission earned the learner, for the celebration: {"xp",
    # "achievements": [...], "streak"}; None before it is graded or when it earned nothing
    awards: Mapped[dict | None] = mapped_column(JSONText, nullable=True)
    claim: Mapped[str | None] = mapped_column(String(64), nullable=True)
    worker: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    lease_expires: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    created: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    started: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    finished: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)

    user: Mapped[User] = relationship()
    question: Mapped[Question] = relationship()

    @classmethod
    def find(cls, db, id: int) -> Submission | None:
        return db.get(cls, id)


class ManualGrade(Base):
    """An instructor's score and comment for a manually graded cell of a submission.

    The submission's score is its autograded points plus these, minus its late penalty
    (nbgrader's rule: a manual grade replaces nothing, it adds the cell's points).
    """

    __tablename__ = "manual_grades"
    __table_args__ = (UniqueConstraint("submission_id", "cell"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    submission_id: Mapped[int] = mapped_column(ForeignKey("submissions.id", ondelete="CASCADE"))
    cell: Mapped[str] = mapped_column(String(255))  # the cell's nbgrader grade_id
    points: Mapped[float] = mapped_column(Float)
    comment: Mapped[str] = mapped_column(Text, default="")
    grader: Mapped[str] = mapped_column(String(255))
    updated: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class LearnerStats(Base):
    """A learner's XP and daily streak in a course (grader.learners.awards): written in
    the "graded" step, in the transaction that records the result."""

    __tablename__ = "learner_stats"

    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    course_id: Mapped[int] = mapped_column(
        ForeignKey("courses.id", ondelete="CASCADE"), primary_key=True
    )
    xp: Mapped[int] = mapped_column(Integer, default=0)
    streak: Mapped[int] = mapped_column(Integer, default=0)
    best_streak: Mapped[int] = mapped_column(Integer, default=0)
    # the learner's last active day, in their time zone then
    last_day: Mapped[date | None] = mapped_column(Date, nullable=True)
    # the daily question's own streak (grader.learners.daily)
    daily_streak: Mapped[int] = mapped_column(Integer, default=0)
    daily_best: Mapped[int] = mapped_column(Integer, default=0)
    daily_last: Mapped[date | None] = mapped_column(Date, nullable=True)
    updated: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class XPGrant(Base):
    """The XP a question's first solve earned: one row per learner and question."""

    __tablename__ = "xp_grants"
    __table_args__ = (UniqueConstraint("user_id", "question_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    question_id: Mapped[int] = mapped_column(ForeignKey("questions.id", ondelete="CASCADE"))
    course_id: Mapped[int] = mapped_column(ForeignKey("courses.id", ondelete="CASCADE"))
    submission_id: Mapped[int | None] = mapped_column(
        ForeignKey("submissions.id", ondelete="SET NULL"), nullable=True
    )
    xp: Mapped[int] = mapped_column(Integer)
    created: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class Achievement(Base):
    """An achievement a learner earned in a course (its definition is data: `key`
    names one of the built-in or the course's own)."""

    __tablename__ = "achievements"
    __table_args__ = (UniqueConstraint("user_id", "course_id", "key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    course_id: Mapped[int] = mapped_column(ForeignKey("courses.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(100))
    submission_id: Mapped[int | None] = mapped_column(
        ForeignKey("submissions.id", ondelete="SET NULL"), nullable=True
    )
    earned: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class HintView(Base):
    """A hint of a question a learner revealed (it lowers the XP of a later first solve)."""

    __tablename__ = "hint_views"
    __table_args__ = (UniqueConstraint("user_id", "question_id", "hint"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    question_id: Mapped[int] = mapped_column(ForeignKey("questions.id", ondelete="CASCADE"))
    hint: Mapped[int] = mapped_column(Integer)  # its index in Question.hints
    viewed: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class LearningPath(Base):
    """An ordered set of questions, across modules and courses (grader.learners.paths).

    An instructor's path is published in one of their courses (`course_id`, `public`):
    that course's learners see it. A learner's own path is private (`course_id` None,
    `public` False) and only its owner sees it. Either way a learner sees, and is
    counted on, only the items in courses they learn in.
    """

    __tablename__ = "learning_paths"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(100))
    title: Mapped[str] = mapped_column(String(255))
    description: Mapped[str] = mapped_column(Text, default="")
    owner_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), nullable=True, index=True
    )
    course_id: Mapped[int | None] = mapped_column(
        ForeignKey("courses.id", ondelete="CASCADE"), nullable=True, index=True
    )
    public: Mapped[bool] = mapped_column(Boolean, default=False)
    position: Mapped[int] = mapped_column(Integer, default=0)
    created: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    updated: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class PathItem(Base):
    """A question's place in a learning path."""

    __tablename__ = "path_items"
    __table_args__ = (Index("ix_path_items_order", "path_id", "position"),)

    path_id: Mapped[int] = mapped_column(
        ForeignKey("learning_paths.id", ondelete="CASCADE"), primary_key=True
    )
    question_id: Mapped[int] = mapped_column(
        ForeignKey("questions.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    position: Mapped[int] = mapped_column(Integer, default=0)


class PathEnrolment(Base):
    """A learner following a learning path."""

    __tablename__ = "path_enrolments"

    path_id: Mapped[int] = mapped_column(
        ForeignKey("learning_paths.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    enrolled: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class ReviewCard(Base):
    """A question's spaced-repetition schedule for one learner (grader.learners.reviews):
    the `fsrs` card as data, and its due time (UTC) for the *Reviews due* queries."""

    __tablename__ = "review_cards"
    __table_args__ = (Index("ix_review_cards_due", "user_id", "due"),)

    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    question_id: Mapped[int] = mapped_column(
        ForeignKey("questions.id", ondelete="CASCADE"), primary_key=True
    )
    course_id: Mapped[int] = mapped_column(ForeignKey("courses.id", ondelete="CASCADE"))
    card: Mapped[dict] = mapped_column(JSONText)  # fsrs.Card.to_dict()
    due: Mapped[datetime] = mapped_column(DateTime)
    reviews: Mapped[int] = mapped_column(Integer, default=0)
    lapses: Mapped[int] = mapped_column(Integer, default=0)
    last_review: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    # when the learner opened the question to review it (the time taken counts from it)
    opened: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    created: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class ReviewLog(Base):
    """One review: its rating (1 again .. 4 easy), from a grading or the learner's own."""

    __tablename__ = "review_logs"
    __table_args__ = (Index("ix_review_logs_user", "user_id", "reviewed"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    question_id: Mapped[int] = mapped_column(ForeignKey("questions.id", ondelete="CASCADE"))
    rating: Mapped[int] = mapped_column(Integer)
    # "graded" (from a submission's score and time) or "self" (a flashcard's rating)
    source: Mapped[str] = mapped_column(String(20))
    submission_id: Mapped[int | None] = mapped_column(
        ForeignKey("submissions.id", ondelete="SET NULL"), nullable=True
    )
    duration: Mapped[int | None] = mapped_column(Integer, nullable=True)  # ms
    reviewed: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    due: Mapped[datetime] = mapped_column(DateTime)  # the next review, as scheduled


class Quiz(Base):
    """N questions drawn at random per learner (grader.learners.quizzes): `draws` lists
    `{"count", "module", "difficulty", "tag", "type"}` filters, each drawing `count`."""

    __tablename__ = "quizzes"
    __table_args__ = (UniqueConstraint("course_id", "slug"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    course_id: Mapped[int] = mapped_column(ForeignKey("courses.id", ondelete="CASCADE"))
    slug: Mapped[str] = mapped_column(String(100))
    title: Mapped[str] = mapped_column(String(255))
    description: Mapped[str] = mapped_column(Text, default="")
    draws: Mapped[list] = mapped_column(JSONText, default=list)
    time_limit: Mapped[int | None] = mapped_column(Integer, nullable=True)  # seconds
    released: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    position: Mapped[int] = mapped_column(Integer, default=0)
    created: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class QuizAttempt(Base):
    """A learner's attempt at a quiz: the questions drawn for them, and its time."""

    __tablename__ = "quiz_attempts"
    __table_args__ = (UniqueConstraint("quiz_id", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    quiz_id: Mapped[int] = mapped_column(ForeignKey("quizzes.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    questions: Mapped[list] = mapped_column(JSONText, default=list)  # question ids
    started: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    deadline: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    finished: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)


#: a duel's states: waiting for an opponent, being played, over; or never played
DUEL_STATES = ("open", "active", "finished", "declined", "cancelled")


class Duel(Base):
    """Two learners (or one and the bot) on the same question, timed; the first full
    score wins (grader.learners.duels)."""

    __tablename__ = "duels"
    __table_args__ = (Index("ix_duels_state", "status", "deadline"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    course_id: Mapped[int] = mapped_column(ForeignKey("courses.id", ondelete="CASCADE"))
    challenger_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    # None: an open challenge (anyone in the course may accept), or the bot's duel
    opponent_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), nullable=True, index=True
    )
    bot: Mapped[bool] = mapped_column(Boolean, default=False)
    question_id: Mapped[int | None] = mapped_column(
        ForeignKey("questions.id", ondelete="SET NULL"), nullable=True
    )
    status: Mapped[str] = mapped_column(String(20), default="open")
    time_limit: Mapped[int] = mapped_column(Integer, default=600)  # seconds
    # when the bot "solves", seconds after the start (drawn from real solve times)
    bot_seconds: Mapped[float | None] = mapped_column(Float, nullable=True)
    created: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    started: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    deadline: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    finished: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    # "challenger", "opponent" (the bot included) or "draw"
    result: Mapped[str | None] = mapped_column(String(20), nullable=True)
    winning_submission_id: Mapped[int | None] = mapped_column(
        ForeignKey("submissions.id", ondelete="SET NULL"), nullable=True
    )
    # {"challenger": [before, after], "opponent": [before, after]}
    ratings: Mapped[dict | None] = mapped_column(JSONText, nullable=True)


class DuelRating(Base):
    """A learner's duel rating in a course (Elo), and their record."""

    __tablename__ = "duel_ratings"
    # the ratings board in its order (read backwards: best first), a page without a sort
    __table_args__ = (Index("ix_duel_ratings_board", "course_id", "rating", "games", "user_id"),)

    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    course_id: Mapped[int] = mapped_column(
        ForeignKey("courses.id", ondelete="CASCADE"), primary_key=True
    )
    rating: Mapped[float] = mapped_column(Float, default=1200.0)
    games: Mapped[int] = mapped_column(Integer, default=0)
    wins: Mapped[int] = mapped_column(Integer, default=0)
    losses: Mapped[int] = mapped_column(Integer, default=0)
    draws: Mapped[int] = mapped_column(Integer, default=0)
    updated: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class LearnerEvent(Base):
    """Something a learner's open pages should hear of at once (a duel's change, an
    achievement): rows the push channel `GET events` sends in `id` order, so a client
    that reconnects with Last-Event-ID misses nothing. Written in the transaction of
    the change itself; old rows are pruned."""

    __tablename__ = "learner_events"
    __table_args__ = (Index("ix_learner_events_user", "user_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(40))
    data: Mapped[dict] = mapped_column(JSONText, default=dict)
    created: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class Worker(Base):
    """A grading worker process, alive while its `heartbeat` is recent.

    Submissions it claimed go back to the queue as soon as it is known dead: at once when
    a worker on the same host finds its lock file free (the kernel released it), or when
    its heartbeat is older than the queue's `heartbeat_timeout` (another host).
    """

    __tablename__ = "workers"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    host: Mapped[str] = mapped_column(String(255))
    pid: Mapped[int] = mapped_column(Integer)
    started: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    heartbeat: Mapped[datetime] = mapped_column(DateTime, default=utcnow, index=True)


class BestScore(Base):
    """A learner's best score on a question, and when they first reached it.

    Progress, profiles and the leaderboard are sums over these rows; `reached` breaks
    leaderboard ties (who got there first).
    """

    __tablename__ = "best_scores"
    # the unique key serves lookups by learner too: no index of its own on user_id
    __table_args__ = (UniqueConstraint("user_id", "question_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    question_id: Mapped[int] = mapped_column(
        ForeignKey("questions.id", ondelete="CASCADE"), index=True
    )
    submission_id: Mapped[int] = mapped_column(ForeignKey("submissions.id", ondelete="CASCADE"))
    score: Mapped[float] = mapped_column(Float)
    max_score: Mapped[float] = mapped_column(Float)
    solved: Mapped[bool] = mapped_column(Boolean, default=False)
    reached: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

    @classmethod
    def find(cls, db, user_id: int, question_id: int) -> BestScore | None:
        return db.scalar(select(cls).where(cls.user_id == user_id, cls.question_id == question_id))


def course_board(course_id: int) -> int:
    """`Total.module_id` of a course's whole leaderboard: the course's id, negated (a
    module's board is its own id), so every board is one integer of the ranking index."""
    return -course_id


class Total(Base):
    """A learner's total on one leaderboard: a course's (`module_id` is
    `course_board(course_id)`) or a module's (`module_id` is the module's id).

    Maintained in the transaction that records a best score (and rebuilt when questions
    are retired or re-scored), so a leaderboard page is a range of the ranking index and a
    rank, with `ScoreCount`, a count over learners tied on one score, whatever the number
    of learners and submissions.
    """

    __tablename__ = "totals"
    __table_args__ = (
        UniqueConstraint("module_id", "user_id"),
        Index("ix_totals_ranking", "module_id", desc("score"), "reached", "user_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    module_id: Mapped[int] = mapped_column(Integer)
    score: Mapped[float] = mapped_column(Float)
    solved: Mapped[int] = mapped_column(Integer)
    reached: Mapped[datetime] = mapped_column(DateTime)


class ScoreCount(Base):
    """How many learners stand at each total score on each leaderboard.

    Kept in step with `totals` in the same transactions. It is the leaderboard's coarse
    index: a rank adds up the learners at higher scores (one row per distinct score, not
    per learner) and counts only the learners tied on its own score; a deep page finds
    the score it starts at the same way. A board's size is the sum of its counts.
    Counts of scores nobody holds any more stay, at zero.
    """

    __tablename__ = "score_counts"

    module_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    score: Mapped[float] = mapped_column(Float, primary_key=True)
    learners: Mapped[int] = mapped_column(Integer)


def any_course(db) -> Course:
    """The first course, made (`default`) if there is none: for scripts, benchmarks
    and tests that need modules somewhere."""
    course = db.scalar(select(Course).order_by(Course.id).limit(1))
    if course is None:
        course = Course(slug="default", title="Course", join="open")
        db.add(course)
        db.flush()
    return course


# AI hints and the tutor (grader.ai) ------------------------------------------------


class AISettings(Base):
    """A course's AI help (grader.ai.settings): off until an instructor turns it on.

    The endpoint is any OpenAI-compatible one, within the prefixes the grader's admin
    allows (`AIAssistant.allowed_base_urls`). The key is never stored: `api_key_env`
    names an environment variable of the grader that holds it."""

    __tablename__ = "ai_settings"

    course_id: Mapped[int] = mapped_column(
        ForeignKey("courses.id", ondelete="CASCADE"), primary_key=True
    )
    enabled: Mapped[bool] = mapped_column(Boolean, default=False)
    tutor: Mapped[bool] = mapped_column(Boolean, default=False)
    base_url: Mapped[str] = mapped_column(String(500), default="")
    model: Mapped[str] = mapped_column(String(200), default="")
    api_key_env: Mapped[str] = mapped_column(String(100), default="")
    # requests (hints and tutor messages) a learner may make a day, in their time zone
    daily_budget: Mapped[int] = mapped_column(Integer, default=10)
    prompt_template: Mapped[str] = mapped_column(Text, default="")
    # share of a question's XP each AI hint costs a later first solve (as hint_penalty)
    hint_cost: Mapped[float] = mapped_column(Float, default=0.25)
    updated: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    updated_by: Mapped[str] = mapped_column(String(255), default="")


class AIExchange(Base):
    """One request to the course's model and what came back: an AI hint on a
    submission (`kind` "hint") or a message of the tutor's conversation with a learner
    about a question ("tutor"). Written before the request is sent (status "pending",
    what is sent in `sent`) and finished after ("ok", "error", "cancelled"), so every
    exchange is logged for the course's instructors, and the day's count is the
    learner's budget."""

    __tablename__ = "ai_exchanges"
    __table_args__ = (
        # a learner's day (budget), a conversation, a question's XP
        Index("ix_ai_exchanges_user_day", "user_id", "course_id", "day"),
        Index("ix_ai_exchanges_conversation", "user_id", "question_id", "kind", "id"),
        # the instructors' log, newest first
        Index("ix_ai_exchanges_course", "course_id", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    course_id: Mapped[int] = mapped_column(ForeignKey("courses.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    question_id: Mapped[int] = mapped_column(ForeignKey("questions.id", ondelete="CASCADE"))
    submission_id: Mapped[int | None] = mapped_column(
        ForeignKey("submissions.id", ondelete="SET NULL"), nullable=True
    )
    kind: Mapped[str] = mapped_column(String(10))
    # the learner's own words (a tutor message; "" for a hint)
    text: Mapped[str] = mapped_column(Text, default="")
    # the chat messages sent to the model, as sent
    sent: Mapped[list] = mapped_column(JSONText, default=list)
    model: Mapped[str] = mapped_column(String(200), default="")
    reply: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(12), default="pending")
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    # share of the question's XP this costs a later first solve (hints that came back)
    xp_cost: Mapped[float] = mapped_column(Float, default=0.0)
    # the learner's day it counts on (their time zone), for the daily budget
    day: Mapped[date] = mapped_column(Date)
    created: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    finished: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)


# --- integrity (issue 14) ---


class IntegritySettings(Base):
    """Whether a course collects integrity signals (grader.learners.integrity): off
    until one of its instructors turns them on. Learners are told when they are on."""

    __tablename__ = "integrity_settings"

    course_id: Mapped[int] = mapped_column(
        ForeignKey("courses.id", ondelete="CASCADE"), primary_key=True
    )
    enabled: Mapped[bool] = mapped_column(Boolean, default=False)
    updated: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    updated_by: Mapped[str] = mapped_column(String(255), default="")


class IntegritySignals(Base):
    """What the learner's JupyterLab reported with one submission, in a course that
    collects integrity signals: self-reported by the learner's browser, so hints for a
    conversation, never proof. Sizes and times only: never pasted text nor keystrokes."""

    __tablename__ = "integrity_signals"

    submission_id: Mapped[int] = mapped_column(
        ForeignKey("submissions.id", ondelete="CASCADE"), primary_key=True
    )
    # pastes into the question's answer cells: how many, their characters in all, and
    # each one's size in characters (the first ones, at most integrity.MAX_PASTES_LISTED)
    paste_count: Mapped[int] = mapped_column(Integer, default=0)
    paste_chars: Mapped[int] = mapped_column(Integer, default=0)
    paste_sizes: Mapped[list] = mapped_column(JSONText, default=list)
    # leaving the tab or window while the question was part of a timed quiz or duel
    away_count: Mapped[int] = mapped_column(Integer, default=0)
    away_seconds: Mapped[float] = mapped_column(Float, default=0.0)
    # "quiz" or "duel" when the question was timed, else None
    timed: Mapped[str | None] = mapped_column(String(10), nullable=True)
    # from the notebook's opening to the submission, and how much of it it was shown
    open_seconds: Mapped[float] = mapped_column(Float, default=0.0)
    visible_seconds: Mapped[float] = mapped_column(Float, default=0.0)
    created: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


# --- lti (issue 14) ---
# LTI 1.3 (grader.lti): the platforms themselves are configuration (the platforms file,
# COURSEHUB_LTI_PLATFORMS), never rows.

#: a link's line items: one for the whole course, one per module, one per question
LTI_GRAINS = ("course", "module", "question")


class LTIContext(Base):
    """A course of an LMS (an LTI context), as its latest launch described it, and the
    coursehub course it is linked to (`course_id`, None until an instructor of both
    links them). The services' URLs and scopes (AGS, NRPS) are the latest launch's."""

    __tablename__ = "lti_contexts"
    __table_args__ = (UniqueConstraint("issuer", "deployment_id", "context_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    issuer: Mapped[str] = mapped_column(String(255))
    client_id: Mapped[str] = mapped_column(String(255))
    deployment_id: Mapped[str] = mapped_column(String(255))
    context_id: Mapped[str] = mapped_column(String(255))
    label: Mapped[str] = mapped_column(String(255), default="")
    title: Mapped[str] = mapped_column(String(500), default="")
    # AGS: the line items container and the scopes granted; NRPS: the memberships URL
    lineitems_url: Mapped[str | None] = mapped_column(Text, nullable=True)
    ags_scopes: Mapped[list] = mapped_column(JSONText, default=list)
    memberships_url: Mapped[str | None] = mapped_column(Text, nullable=True)
    course_id: Mapped[int | None] = mapped_column(
        ForeignKey("courses.id", ondelete="SET NULL"), nullable=True, index=True
    )
    grain: Mapped[str] = mapped_column(String(10), default="module")
    linked_by: Mapped[str] = mapped_column(String(255), default="")
    linked: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    # the latest roster sync (NRPS): "" (never), running, done, failed; its counts
    roster_status: Mapped[str] = mapped_column(String(10), default="")
    roster_started: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    roster_finished: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    roster_counts: Mapped[dict] = mapped_column(JSONText, default=dict)
    roster_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    created: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    last_launch: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class LTIAccount(Base):
    """An LMS user (issuer and `sub`) and the Hub user they launch as."""

    __tablename__ = "lti_accounts"
    __table_args__ = (UniqueConstraint("issuer", "sub"), Index("ix_lti_accounts_user", "user_id"))

    id: Mapped[int] = mapped_column(primary_key=True)
    issuer: Mapped[str] = mapped_column(String(255))
    sub: Mapped[str] = mapped_column(String(255))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(255), default="")
    email: Mapped[str] = mapped_column(String(255), default="")
    created: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    last_launch: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)


class LTIMember(Base):
    """Someone of an LMS context, from a launch or the roster (NRPS): their latest roles
    and status there, their Hub user once known, and the course membership LTI made for
    them (`enrolled_as`: only that one is ever taken away by a roster sync; someone who
    joined with a code or was added by hand keeps their place)."""

    __tablename__ = "lti_members"
    __table_args__ = (
        UniqueConstraint("context_id", "sub"),
        Index("ix_lti_members_user", "user_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    context_id: Mapped[int] = mapped_column(ForeignKey("lti_contexts.id", ondelete="CASCADE"))
    sub: Mapped[str] = mapped_column(String(255))
    user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), nullable=True
    )
    name: Mapped[str] = mapped_column(String(255), default="")
    email: Mapped[str] = mapped_column(String(255), default="")
    roles: Mapped[list] = mapped_column(JSONText, default=list)
    # the platform's word: Active, Inactive (NRPS); Deleted: no longer listed
    lms_status: Mapped[str] = mapped_column(String(10), default="Active")
    # learner | instructor: the course group LTI put them in; None: none (or not by LTI)
    enrolled_as: Mapped[str | None] = mapped_column(String(12), nullable=True)
    launched: Mapped[bool] = mapped_column(Boolean, default=False)
    seen: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class LTILineItem(Base):
    """A line item (a gradebook column) coursehub made in an LMS context: `key` is
    `course`, `module-<id>` or `question-<id>` (its resourceId there)."""

    __tablename__ = "lti_lineitems"
    __table_args__ = (UniqueConstraint("context_id", "key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    context_id: Mapped[int] = mapped_column(ForeignKey("lti_contexts.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(100))
    url: Mapped[str] = mapped_column(Text)
    label: Mapped[str] = mapped_column(String(255), default="")
    score_maximum: Mapped[float] = mapped_column(Float, default=0.0)
    created: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


#: the states of a score to post: waiting (or retrying), being sent (claimed by a
#: sender until `claimed_until`), acknowledged by the platform, refused for good
LTI_PENDING, LTI_SENDING, LTI_SENT, LTI_FAILED = "pending", "sending", "sent", "failed"


class LTIScorePost(Base):
    """The outbox of grade passback (grader.lti.passback, sender): the latest score of
    one learner on one line item of one context, and whether the platform has it.

    One row per (context, learner, line item): a newer score replaces the one waiting
    (`version` counts the replacements, so a sender that posted an older one does not
    mark the newer one sent), and a platform that was down receives the latest once."""

    __tablename__ = "lti_score_posts"
    __table_args__ = (
        UniqueConstraint("context_id", "user_id", "lineitem_key"),
        Index("ix_lti_score_posts_due", "status", "next_attempt"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    context_id: Mapped[int] = mapped_column(ForeignKey("lti_contexts.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    lineitem_key: Mapped[str] = mapped_column(String(100))
    label: Mapped[str] = mapped_column(String(255), default="")
    # None: no score any more (a question's last graded submission went)
    score_given: Mapped[float | None] = mapped_column(Float, nullable=True)
    score_maximum: Mapped[float] = mapped_column(Float, default=0.0)
    activity_progress: Mapped[str] = mapped_column(String(20), default="Completed")
    # when the score changed: the platform keeps the latest by this
    timestamp: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    status: Mapped[str] = mapped_column(String(10), default=LTI_PENDING)
    version: Mapped[int] = mapped_column(Integer, default=1)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    claimed_until: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    sent: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    updated: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


# --- audit (issue 14) ---


class AuditEntry(Base):
    """One entry of the audit log (:mod:`grader.audit`): `actor` (a Hub user or service,
    "grader" for the service itself) did `action` to `target` at `time`. Append-only:
    the database refuses UPDATE and DELETE (triggers of migration 0009); `hash` chains
    it to the entry before (`grader.audit.chain`). `id` is given by `audit_head`, so ids
    are dense and committed in order."""

    __tablename__ = "audit_entries"
    __table_args__ = (
        Index("ix_audit_entries_course", "course_id", "id"),
        Index("ix_audit_entries_actor", "actor", "id"),
        Index("ix_audit_entries_action", "action", "id"),
        Index("ix_audit_entries_time", "time"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    time: Mapped[datetime] = mapped_column(DateTime)
    actor: Mapped[str] = mapped_column(String(255))
    # "user" or "service" (as the Hub says), "system" for the grader itself
    actor_kind: Mapped[str] = mapped_column(String(20))
    action: Mapped[str] = mapped_column(String(64))
    # no foreign key: an entry outlives what it names
    course_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    target: Mapped[str] = mapped_column(String(500), default="")
    detail: Mapped[dict] = mapped_column(JSONText, default=dict)
    # the client's address (the Hub's proxy forwards it), None without a request
    address: Mapped[str | None] = mapped_column(String(64), nullable=True)
    hash: Mapped[str] = mapped_column(String(64))


class AuditHead(Base):
    """The audit log's one head row (id 1): the last entry's id and hash. Writers take
    it (an UPDATE) before they add an entry: the lock that orders them."""

    __tablename__ = "audit_head"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    last_id: Mapped[int] = mapped_column(Integer)
    last_hash: Mapped[str] = mapped_column(String(64))


# --- plagiarism (issue 14) ---


class PlagiarismReport(Base):
    """A similarity report of one question's answers (grader.instructors.plagiarism),
    for the course's instructors only.

    The submissions compared are fixed when the report is asked for (`submission_ids`:
    each learner's latest), so a report computed again after a crash compares the same
    ones. It is computed in a process of its own (`PlagiarismRunner`): `status` goes
    queued -> running -> done | error; a process takes a report with a conditional
    UPDATE (`claim`, a random token) and renews `heartbeat` as it writes `done` pairs
    of `total`, so a report whose process died is taken over (and resumed after its
    `done` pairs, whose results are already written) by whichever replica sees its
    heartbeat go stale; a process that lost its claim writes nothing more.
    """

    __tablename__ = "plagiarism_reports"
    __table_args__ = (
        Index("ix_plagiarism_reports_question", "question_id", "id"),
        Index("ix_plagiarism_reports_status", "status", "heartbeat"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    question_id: Mapped[int] = mapped_column(ForeignKey("questions.id", ondelete="CASCADE"))
    course_id: Mapped[int] = mapped_column(ForeignKey("courses.id", ondelete="CASCADE"))
    requested_by: Mapped[str] = mapped_column(String(255))
    threshold: Mapped[float] = mapped_column(Float)
    status: Mapped[str] = mapped_column(String(10), default="queued")
    submission_ids: Mapped[list] = mapped_column(JSONText, default=list)
    total: Mapped[int] = mapped_column(Integer, default=0)
    done: Mapped[int] = mapped_column(Integer, default=0)
    # pairs above the threshold beyond PlagiarismRunner.max_listed_pairs: counted only
    unlisted: Mapped[int] = mapped_column(Integer, default=0)
    # answers longer than PlagiarismRunner.max_code_chars, compared on their beginning
    truncated: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    claim: Mapped[str | None] = mapped_column(String(64), nullable=True)
    heartbeat: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    # times computing began (more than 1: taken over after a process died)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    created: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    started: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    finished: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)


class PlagiarismPair(Base):
    """Two learners' answers whose similarity reached the report's threshold: each
    way's similarity (share of that answer found in the other), the matched length (in
    copydetect's filtered characters), and the matched regions of each answer's code
    (`[[start, end], ...]` character ranges of the report's `PlagiarismCode`)."""

    __tablename__ = "plagiarism_pairs"
    __table_args__ = (
        UniqueConstraint("report_id", "submission_a", "submission_b"),
        # a report's pairs, most similar first (read backwards)
        Index("ix_plagiarism_pairs_ranking", "report_id", "similarity"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    report_id: Mapped[int] = mapped_column(ForeignKey("plagiarism_reports.id", ondelete="CASCADE"))
    submission_a: Mapped[int] = mapped_column(ForeignKey("submissions.id", ondelete="CASCADE"))
    submission_b: Mapped[int] = mapped_column(ForeignKey("submissions.id", ondelete="CASCADE"))
    user_a: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    user_b: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    similarity: Mapped[float] = mapped_column(Float)
    similarity_a: Mapped[float] = mapped_column(Float)
    similarity_b: Mapped[float] = mapped_column(Float)
    matched: Mapped[int] = mapped_column(Integer)
    regions_a: Mapped[list] = mapped_column(JSONText, default=list)
    regions_b: Mapped[list] = mapped_column(JSONText, default=list)


class PlagiarismCode(Base):
    """The answer code a report compared, for each submission in one of its pairs (the
    side-by-side view shows what was compared, even if the question changed since)."""

    __tablename__ = "plagiarism_codes"

    report_id: Mapped[int] = mapped_column(
        ForeignKey("plagiarism_reports.id", ondelete="CASCADE"), primary_key=True
    )
    submission_id: Mapped[int] = mapped_column(
        ForeignKey("submissions.id", ondelete="CASCADE"), primary_key=True
    )
    code: Mapped[str] = mapped_column(Text)
    truncated: Mapped[bool] = mapped_column(Boolean, default=False)
