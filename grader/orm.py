"""The grading service's database: SQLAlchemy 2 models.

Singular classes, plural tables, `find(db, ...)` classmethods, as in JupyterHub's orm.
The schema is owned by Alembic (`grader/alembic/`); `dbutil.upgrade` creates or
migrates it, and the service refuses to start on a database that is not at head.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

from sqlalchemy import (
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Integer,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    select,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


def utcnow() -> datetime:
    """Naive UTC timestamps, as SQLite stores them."""
    return datetime.now(UTC).replace(tzinfo=None)


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
    display_name: Mapped[str] = mapped_column(String(255), default="")
    bio: Mapped[str] = mapped_column(Text, default="")
    created: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

    @classmethod
    def find(cls, db, name: str) -> User | None:
        return db.scalar(select(cls).where(cls.name == name))

    @classmethod
    def find_or_create(cls, db, name: str) -> User:
        user = cls.find(db, name)
        if user is None:
            user = cls(name=name)
            db.add(user)
            db.flush()
        return user


class Module(Base):
    """An ordered group of questions, e.g. "Python basics"."""

    __tablename__ = "modules"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(100), unique=True)
    title: Mapped[str] = mapped_column(String(255))
    description: Mapped[str] = mapped_column(Text, default="")
    position: Mapped[int] = mapped_column(Integer, default=0)
    created: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

    questions: Mapped[list[Question]] = relationship(back_populates="module")

    @classmethod
    def find(cls, db, id: int) -> Module | None:
        return db.get(cls, id)

    @classmethod
    def find_by_slug(cls, db, slug: str) -> Module | None:
        return db.scalar(select(cls).where(cls.slug == slug))


class Question(Base):
    """A question: its nbgrader source notebook (solutions and hidden tests included).

    `student_notebook` is derived from `source_notebook` when the question is saved;
    only it ever leaves the service. Editing a question bumps `version`; submissions
    keep the version they were graded against.
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
    position: Mapped[int] = mapped_column(Integer, default=0)
    max_score: Mapped[float] = mapped_column(Float, default=0.0)
    version: Mapped[int] = mapped_column(Integer, default=1)
    retired: Mapped[bool] = mapped_column(Boolean, default=False)
    source_notebook: Mapped[dict] = mapped_column(JSONText)
    student_notebook: Mapped[dict] = mapped_column(JSONText)
    created: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

    module: Mapped[Module] = relationship(back_populates="questions")

    @classmethod
    def find(cls, db, id: int) -> Question | None:
        return db.get(cls, id)


class Submission(Base):
    """A learner's notebook for a question, and, once graded, its result.

    The row is the queue entry too: `status` goes queued -> running -> graded | error.
    A worker owns a running submission through `claim` until `lease_expires`; a
    submission whose lease ran out (its worker died) is queued again.
    """

    __tablename__ = "submissions"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    question_id: Mapped[int] = mapped_column(
        ForeignKey("questions.id", ondelete="CASCADE"), index=True
    )
    question_version: Mapped[int] = mapped_column(Integer)
    notebook: Mapped[dict] = mapped_column(JSONText)
    status: Mapped[str] = mapped_column(String(20), default="queued", index=True)
    score: Mapped[float | None] = mapped_column(Float, nullable=True)
    max_score: Mapped[float | None] = mapped_column(Float, nullable=True)
    tests: Mapped[list | None] = mapped_column(JSONText, nullable=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    claim: Mapped[str | None] = mapped_column(String(64), nullable=True)
    lease_expires: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    created: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    started: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    finished: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)

    user: Mapped[User] = relationship()
    question: Mapped[Question] = relationship()

    @classmethod
    def find(cls, db, id: int) -> Submission | None:
        return db.get(cls, id)


class BestScore(Base):
    """A learner's best score on a question, and when they first reached it.

    Progress, profiles and the leaderboard are sums over these rows; `reached` breaks
    leaderboard ties (who got there first).
    """

    __tablename__ = "best_scores"
    __table_args__ = (UniqueConstraint("user_id", "question_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
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
