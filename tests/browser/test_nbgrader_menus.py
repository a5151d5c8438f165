"""nbgrader's menus in JupyterLab, as a learner and an instructor see them (headless chromium).

A learner's JupyterLab has no "Nbgrader" menu, no *Validate* button on a notebook and
no *Create Assignment* sidebar; an instructor's has the sidebar (it writes the nbgrader
cell metadata coursehub's authoring reads) and nothing else of nbgrader's. Screenshots:
``nbgrader-learner.png``, ``nbgrader-instructor.png``.

The browser presents the user's API token on every request (as a script would), so no
sign-in page is involved: ``tests/browser/test_learner_in_jupyterlab.py`` covers that.
"""

from __future__ import annotations

import secrets

import pytest

from hub_config.roles import INSTRUCTORS_GROUP
from hub_config.testing import RunningHub
from tests.browser.conftest import SCREENSHOTS
from tests.browser.test_learner_in_jupyterlab import dismiss_news_prompt, expect
from tests.test_nbgrader_front_end import Server

pytestmark = [pytest.mark.browser, pytest.mark.hub]

RUN = secrets.token_hex(2)
NOTEBOOK = "nbgrader-check.ipynb"
SPAWN_TIMEOUT = 120_000  # ms
OWN_SCREENSHOTS = ("nbgrader-learner", "nbgrader-instructor")


@pytest.fixture(scope="session", autouse=True)
def _fresh_screenshots():
    """Only this module's stale screenshots go: run alone, it must not delete the
    other browser tests' (conftest's fixture of this name clears the whole folder)."""
    SCREENSHOTS.mkdir(exist_ok=True)
    for name in OWN_SCREENSHOTS:
        (SCREENSHOTS / f"{name}.png").unlink(missing_ok=True)


@pytest.fixture(scope="module")
def hub():
    """A real Hub with learners' servers; no grader: nbgrader's menus need none."""
    with RunningHub(env={"COURSEHUB_GRADER_ENABLED": "0"}) as running:
        yield running


def a_notebook() -> dict:
    """A small notebook with one nbgrader answer cell, as a learner has them."""
    return {
        "nbformat": 4,
        "nbformat_minor": 5,
        "metadata": {
            "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}
        },
        "cells": [
            {
                "cell_type": "code",
                "id": "answer",
                "metadata": {
                    "nbgrader": {
                        "grade": False,
                        "grade_id": "answer",
                        "locked": False,
                        "schema_version": 3,
                        "solution": True,
                        "task": False,
                    }
                },
                "execution_count": None,
                "outputs": [],
                "source": "def square(x):\n    return x * x",
            }
        ],
    }


def open_in_jupyterlab(page, server: Server):
    """The user's JupyterLab with a notebook open, once every extension has loaded."""
    r = server.call(
        "PUT", f"api/contents/{NOTEBOOK}", json={"type": "notebook", "content": a_notebook()}
    )
    assert r.status_code in (200, 201), r.text
    page.context.set_extra_http_headers({"Authorization": f"token {server.token}"})
    page.goto(f"{server.hub.url}/user/{server.name}/lab/tree/{NOTEBOOK}")
    expect(page.locator("#jp-main-dock-panel")).to_be_visible(timeout=SPAWN_TIMEOUT)
    expect(page.locator("#jupyterlab-splash")).to_have_count(0, timeout=SPAWN_TIMEOUT)
    dismiss_news_prompt(page)
    # coursehub's own plugin is up: the federated extensions' plugins have all started
    expect(page.locator('.lm-TabBar-tab[data-id="coursehub-panel"]').first).to_be_visible()
    menu_bar = page.locator("#jp-menu-panel")
    expect(menu_bar.get_by_text("File", exact=True)).to_be_visible()
    notebook = page.locator(".jp-NotebookPanel").filter(visible=True).last
    expect(notebook.locator(".jp-CodeCell").first).to_contain_text("def square(x):")
    return menu_bar, notebook


def assert_no_nbgrader_menu_nor_validate(page, menu_bar, notebook):
    labels = [t.strip() for t in menu_bar.locator(".lm-MenuBar-itemLabel").all_inner_texts()]
    assert "File" in labels and "Nbgrader" not in labels, labels
    expect(page.locator("#jp-mainmenu-nbgrader")).to_have_count(0)
    expect(notebook.locator(".jp-Toolbar").first).to_be_visible()
    expect(notebook.locator(".validate-button")).to_have_count(0)


def create_assignment_tab(page):
    return page.locator('.jp-SideBar .lm-TabBar-tab[data-id="nbgrader-create_assignemnt"]')


def test_learner_sees_no_nbgrader_menu(hub, page, shot):
    learner = Server(hub, f"br-nbg-learner-{RUN}")
    menu_bar, notebook = open_in_jupyterlab(page, learner)
    assert_no_nbgrader_menu_nor_validate(page, menu_bar, notebook)
    expect(create_assignment_tab(page)).to_have_count(0)
    expect(page.locator("#nbgrader-create_assignemnt")).to_have_count(0)
    shot("nbgrader-learner")


def test_instructor_sees_create_assignment_only(hub, page, shot):
    instructor = Server(hub, f"br-nbg-teacher-{RUN}", groups=[INSTRUCTORS_GROUP])
    menu_bar, notebook = open_in_jupyterlab(page, instructor)
    assert_no_nbgrader_menu_nor_validate(page, menu_bar, notebook)
    tab = create_assignment_tab(page)
    expect(tab).to_have_count(1)
    tab.click()
    sidebar = page.locator("#nbgrader-create_assignemnt")
    expect(sidebar).to_be_visible()
    shot("nbgrader-instructor")
