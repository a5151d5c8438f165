"""The learner extension serves its OpenAPI contract at `coursehub/api/openapi.json`
(a real Jupyter server with the installed extension, as tests/test_extension.py runs)."""

import json

import pytest
from openapi_spec_validator import validate

# The fixtures only (jp_fetch, jp_serverapp and what they need)
from pytest_jupyter.jupyter_server import *  # noqa: F403


@pytest.fixture
def jp_server_config(monkeypatch):
    monkeypatch.setenv("COURSEHUB_GRADER_URL", "http://127.0.0.1:9/services/grader/")
    monkeypatch.setenv("JUPYTERHUB_API_TOKEN", "learner-server-hub-token")
    return {"ServerApp": {"jpserver_extensions": {"coursehub_extension": True}}}


def fetch(loop, jp_fetch, *args, **kwargs):
    """jp_fetch run on the test's loop: called inside it, so its futures are made there
    whatever loop an earlier test left current."""

    async def call():
        return await jp_fetch(*args, **kwargs)

    return loop.run_until_complete(call())


def test_the_extension_serves_its_contract(jp_fetch, jp_asyncio_loop):
    response = fetch(jp_asyncio_loop, jp_fetch, "coursehub/api/openapi.json")
    assert response.code == 200
    document = json.loads(response.body)
    validate(document)
    assert document["paths"]["/questions/{question}/submit"]["post"]["operationId"] == (
        "submitFile"
    )
    # relayed operations carry the grader's answers
    assert "QuestionSummary" in document["components"]["schemas"]


def test_the_contract_is_for_signed_in_users_only(jp_fetch, jp_asyncio_loop):
    response = fetch(
        jp_asyncio_loop,
        jp_fetch,
        "coursehub/api/openapi.json",
        headers={"Authorization": ""},
        raise_error=False,
    )
    assert response.code == 403 and json.loads(response.body)["status"] == 403
