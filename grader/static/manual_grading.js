// Hand grading on a submission page: each form.manual-grade saves its cell's points and
// comment with PUT <api>submissions/<id>/grades/<cell>. The page is signed in by the
// grader's login cookie, so the request carries the page's XSRF token in the X-XSRFToken
// header (the API refuses a cookie-authenticated change without it). A file of its own:
// the page's Content-Security-Policy allows no inline script.
"use strict";

// the submission as the API answered: its score, and whether answers still wait
function showSubmission(form, model) {
  const score = document.getElementById("submission-score");
  if (score && typeof model.score === "number" && typeof model.max_score === "number") {
    score.textContent = `${model.score} / ${model.max_score}`;
  }
  const pending = document.getElementById("submission-pending");
  if (pending && model.manual_pending === false) {
    pending.textContent = "all graded";
  }
  form.querySelector(".to-grade")?.remove();
}

async function save(form) {
  const status = form.querySelector(".save-status");
  const button = form.querySelector("button[type=submit]");
  const body = {
    points: Number(form.elements.points.value),
    comment: form.elements.comment.value,
  };
  button.disabled = true;
  status.textContent = "Saving…";
  try {
    const response = await fetch(form.dataset.url, {
      method: "PUT",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-XSRFToken": form.dataset.xsrf },
      body: JSON.stringify(body),
    });
    const model = await response.json().catch(() => ({}));
    if (response.ok) {
      status.textContent = "Saved";
      showSubmission(form, model);
    } else {
      status.textContent = `Not saved: ${model.message || response.status}`;
    }
  } catch (error) {
    status.textContent = `Not saved: ${error}`;
  } finally {
    button.disabled = false;
  }
}

for (const form of document.querySelectorAll("form.manual-grade")) {
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    save(form);
  });
}
