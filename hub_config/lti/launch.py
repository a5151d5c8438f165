"""A verified LTI launch as coursehub sees it (pure): who, which roles, what the grader
is told (``POST api/v1/lti/launches``, docs/api.md)."""

from __future__ import annotations

from grader.lti.platforms import Platform

CLAIM = "https://purl.imsglobal.org/spec/lti/claim/"
DEPLOYMENT_CLAIM = CLAIM + "deployment_id"
ROLES_CLAIM = CLAIM + "roles"
CONTEXT_CLAIM = CLAIM + "context"
RESOURCE_LINK_CLAIM = CLAIM + "resource_link"
CUSTOM_CLAIM = CLAIM + "custom"
AGS_CLAIM = "https://purl.imsglobal.org/spec/lti-ags/claim/endpoint"
NRPS_CLAIM = "https://purl.imsglobal.org/spec/lti-nrps/claim/namesroleservice"

#: LMS context roles that teach (the grader puts them in the course's instructors group)
INSTRUCTOR_ROLES = {
    "http://purl.imsglobal.org/vocab/lis/v2/membership#" + role
    for role in ("Instructor", "ContentDeveloper", "TeachingAssistant", "Administrator")
} | {
    # LTI 1.3 allows the short forms for context roles
    "Instructor",
    "ContentDeveloper",
    "TeachingAssistant",
    "Administrator",
    # a sub-role says the same: membership/Instructor#TeachingAssistant
    "http://purl.imsglobal.org/vocab/lis/v2/membership/Instructor#TeachingAssistant",
}


class LaunchRefused(Exception):
    """A launch refused: ``status`` (4xx, 502 for a platform that cannot be reached) and
    a message for the page that says what is wrong."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


def roles_of(claims: dict) -> list[str]:
    roles = claims.get(ROLES_CLAIM)
    return [r for r in roles if isinstance(r, str)] if isinstance(roles, list) else []


def is_lms_instructor(claims: dict) -> bool:
    return any(role in INSTRUCTOR_ROLES for role in roles_of(claims))


def check_deployment(platform: Platform, claims: dict) -> None:
    deployment = claims.get(DEPLOYMENT_CLAIM)
    if deployment not in platform.deployment_ids:
        raise LaunchRefused(
            403,
            f"the deployment {deployment!r} of {platform.issuer} is not one this Hub "
            "accepts: ask its administrators to add it to the platform's deployment_ids",
        )


def _object(value, *keys) -> dict | None:
    """The given keys of a claim that is a JSON object, else None."""
    if not isinstance(value, dict):
        return None
    return {key: value.get(key) for key in keys}


def display_name(claims: dict) -> str:
    name = claims.get("name")
    if isinstance(name, str) and name.strip():
        return name.strip()
    parts = [claims.get("given_name"), claims.get("family_name")]
    return " ".join(p.strip() for p in parts if isinstance(p, str) and p.strip())


def launch_payload(user: str, platform: Platform, claims: dict) -> dict:
    """What the Hub forwards to the grader once the launch is verified."""
    ags = claims.get(AGS_CLAIM)
    ags_payload = None
    if isinstance(ags, dict):
        scope = ags.get("scope")
        ags_payload = {
            "scope": [s for s in scope if isinstance(s, str)] if isinstance(scope, list) else [],
            "lineitems": ags.get("lineitems") or None,
            "lineitem": ags.get("lineitem") or None,
        }
    nrps = _object(claims.get(NRPS_CLAIM), "context_memberships_url")
    custom = claims.get(CUSTOM_CLAIM)
    email = claims.get("email")
    return {
        "user": user,
        "issuer": platform.issuer,
        "client_id": platform.client_id,
        "deployment_id": claims.get(DEPLOYMENT_CLAIM),
        "sub": claims.get("sub") or "",
        "name": display_name(claims),
        "email": email.strip().lower() if isinstance(email, str) else "",
        "roles": roles_of(claims),
        "context": _object(claims.get(CONTEXT_CLAIM), "id", "label", "title"),
        "resource_link": _object(claims.get(RESOURCE_LINK_CLAIM), "id", "title"),
        "custom": custom if isinstance(custom, dict) else {},
        "ags": ags_payload,
        "nrps": nrps if nrps and nrps.get("context_memberships_url") else None,
    }
