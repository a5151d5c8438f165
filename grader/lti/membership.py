"""Course membership that LTI makes and takes away, through the Hub's groups.

A launch or a roster says which course role someone should have (learner, instructor,
none). The grader changes the course's Hub groups (:class:`grader.courses.HubGroups`)
and remembers, on their `lti_members` row (`enrolled_as`), the group *it* put them in:
a roster sync only ever takes away that membership. Someone who was in the group
already (joined with a code, added by an instructor) is never recorded as LTI's, so
LTI never removes them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .. import orm
from ..courses import instructor_group, learner_group


def group_of(slug: str, role: str) -> str:
    return instructor_group(slug) if role == orm.INSTRUCTOR else learner_group(slug)


@dataclass
class CourseGroups:
    """A course's two groups as the Hub has them, read once per launch or sync and kept
    up to date by the changes made here."""

    slug: str
    learners: set[str] = field(default_factory=set)
    instructors: set[str] = field(default_factory=set)

    @classmethod
    async def read(cls, hub_groups, slug: str) -> CourseGroups:
        return cls(
            slug,
            set(await hub_groups.members(learner_group(slug))),
            set(await hub_groups.members(instructor_group(slug))),
        )

    def members(self, role: str) -> set[str]:
        return self.instructors if role == orm.INSTRUCTOR else self.learners

    def role_of(self, name: str) -> str | None:
        """The role the groups give (the mirror's `Enrolment.role`)."""
        if name in self.instructors:
            return orm.INSTRUCTOR
        return orm.LEARNER if name in self.learners else None


async def apply(hub_groups, groups: CourseGroups, name: str, wanted: str | None,
                enrolled_as: str | None) -> tuple[str | None, list[str]]:  # fmt: skip
    """Bring ``name``'s LTI-made membership to ``wanted`` (None: out). Returns the new
    `enrolled_as` and what changed ("added learner", "removed instructor"), for the
    audit log. Raises `HubError` if the Hub refuses (nothing recorded then)."""
    changes = []
    new = enrolled_as
    if wanted is not None and name not in groups.members(wanted):
        await hub_groups.add(group_of(groups.slug, wanted), name)
        groups.members(wanted).add(name)
        changes.append(f"added {wanted}")
        new = wanted
    elif wanted is not None and enrolled_as != wanted:
        new = None  # in the group already, not by LTI's doing: LTI never removes it
    if enrolled_as is not None and enrolled_as != wanted:
        # LTI's own membership that the platform no longer gives
        if name in groups.members(enrolled_as):
            await hub_groups.remove(group_of(groups.slug, enrolled_as), name)
            groups.members(enrolled_as).discard(name)
            changes.append(f"removed {enrolled_as}")
        if new == enrolled_as:
            new = None
    return new, changes
