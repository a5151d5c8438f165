/**
 * The Practice sidebar's first two sections: the reviews due (spaced repetition: each
 * "Review" opens a fresh copy of the question and starts the grader's clock), and the
 * daily question with the learner's streak.
 */
import React, { useEffect } from 'react';

import { ErrorMessage } from '../common';
import { useLoad } from '../useLoad';
import { useNow } from '../useNow';
import { ActionButton, ISectionProps, TypeChip } from './common';
import {
  dailyStatusText,
  dailyStreakText,
  dueCountsText,
  dueLabel,
  moduleLabel,
  noReviewText,
  reviewsText
} from './format';
import { IReviewDue } from './types';

/** How many due reviews the list shows at most (the counts say how many there are). */
const REVIEW_LIMIT = 20;

export function ReviewsSection(
  props: ISectionProps & { onCounts?: (dueNow: number | null) => void }
): JSX.Element {
  const { api, refresh, live, course, onCounts } = props;
  const loaded = useLoad(() => api.reviews(course, REVIEW_LIMIT), refresh, [api, course], live);
  // "due in 5 min" moves on by itself
  const now = useNow(true, 30_000);
  const data = loaded.data;
  useEffect(() => onCounts?.(data ? data.counts.due_now : null), [data, onCounts]);

  if (!data) {
    return (
      <div className="ch-practice-reviews" data-testid="coursehub-practice-reviews">
        <ErrorMessage message={loaded.error} testid="coursehub-practice-error" />
        {!loaded.error && <p className="ch-muted">Loading…</p>}
      </div>
    );
  }
  const { counts } = data;
  // the grader's list, as it is: the browser's clock may be off the grader's
  const due = data.due;
  return (
    <div className="ch-practice-reviews" data-testid="coursehub-practice-reviews">
      <ErrorMessage message={loaded.error} testid="coursehub-practice-error" />
      <div
        className="ch-practice-counts"
        data-testid="coursehub-practice-review-counts"
        title={dueCountsText(counts)}
      >
        <span
          className="ch-stat"
          data-testid="coursehub-practice-due-now"
          data-count={counts.due_now}
        >
          <strong>{counts.due_now}</strong> due now
        </span>
        <span
          className="ch-stat"
          data-testid="coursehub-practice-due-today"
          data-count={counts.due_today}
        >
          <strong>{counts.due_today}</strong> today
        </span>
        <span
          className="ch-stat"
          data-testid="coursehub-practice-due-week"
          data-count={counts.next_7_days}
        >
          <strong>{counts.next_7_days}</strong> next 7 days
        </span>
      </div>
      {due.length === 0 ? (
        <p className="ch-muted" data-testid="coursehub-practice-reviews-empty">
          {noReviewText(data.next_due, counts.total, now)}
        </p>
      ) : (
        <ul className="ch-practice-list">
          {due.map(review => (
            <ReviewRow key={review.question.id} review={review} now={now} {...props} />
          ))}
        </ul>
      )}
      {counts.due_now > due.length && due.length > 0 && (
        <p className="ch-muted">
          {reviewsText(counts.due_now - due.length)} more after these.
        </p>
      )}
    </div>
  );
}

function ReviewRow(props: ISectionProps & { review: IReviewDue; now: number }): JSX.Element {
  const { review, api } = props;
  const q = review.question;
  // a fresh copy, then the grader's clock (the rating depends on the time taken),
  // then the notebook; a second click reopens the same copy and leaves the clock alone
  const start = () =>
    props.openFresh(`review:${q.id}:${review.due}`, q.id, () => api.startReview(q.id));
  return (
    <li
      className="ch-practice-item ch-practice-review"
      data-testid="coursehub-practice-review"
      data-question-id={String(q.id)}
      data-due={review.due}
    >
      <div className="ch-practice-item-head">
        <span className="ch-practice-item-title">{q.title}</span>
        <ActionButton
          label="Review"
          primary
          testid="coursehub-practice-review-open"
          ariaLabel={`Review ${q.title}`}
          action={start}
        />
      </div>
      <div className="ch-question-meta">
        <TypeChip type={q.type} />
        {moduleLabel(q) && <span className="ch-chip">{moduleLabel(q)}</span>}
        <span className="ch-muted" data-testid="coursehub-practice-review-due">
          {dueLabel(review.due, props.now)}
        </span>
        <span className="ch-muted">
          {review.state} · {reviewsText(review.reviews)}
        </span>
      </div>
    </li>
  );
}

export function DailySection(props: ISectionProps): JSX.Element {
  const { api, refresh, live, course } = props;
  const loaded = useLoad(() => api.daily(course), refresh, [api, course], live);
  const daily = loaded.data;
  if (!daily) {
    return (
      <div className="ch-practice-daily" data-testid="coursehub-practice-daily">
        <ErrorMessage message={loaded.error} testid="coursehub-practice-error" />
        {!loaded.error && <p className="ch-muted">Loading…</p>}
      </div>
    );
  }
  const q = daily.question;
  return (
    <div
      className="ch-practice-daily"
      data-testid="coursehub-practice-daily"
      data-day={daily.day}
      data-solved={daily.solved_today ? 'true' : 'false'}
    >
      <ErrorMessage message={loaded.error} testid="coursehub-practice-error" />
      {q ? (
        <div
          className={`ch-practice-item${daily.solved_today ? ' ch-mod-solved' : ''}`}
          data-question-id={String(q.id)}
        >
          <div className="ch-practice-item-head">
            <span className="ch-practice-item-title" data-testid="coursehub-practice-daily-title">
              {q.title}
            </span>
            {daily.solved_today && (
              <span className="ch-solved" role="img" aria-label="solved today" title="solved today">
                ✓
              </span>
            )}
            <ActionButton
              label="Open"
              primary={!daily.solved_today}
              testid="coursehub-practice-daily-open"
              ariaLabel={`Open ${q.title}`}
              action={() => props.openQuestion(q.id)}
            />
          </div>
          <div className="ch-question-meta">
            <TypeChip type={q.type} />
            {moduleLabel(q) && <span className="ch-chip">{moduleLabel(q)}</span>}
            {q.difficulty && <span className="ch-chip ch-difficulty">{q.difficulty}</span>}
          </div>
          <div className="ch-muted" data-testid="coursehub-practice-daily-status">
            {dailyStatusText(daily)}
          </div>
        </div>
      ) : (
        <p className="ch-muted" data-testid="coursehub-practice-daily-none">
          No daily question today.
        </p>
      )}
      <p
        className="ch-practice-streak"
        data-testid="coursehub-practice-daily-streak"
        data-streak={daily.streak}
      >
        {daily.streak > 0 ? '🔥 ' : ''}
        {dailyStreakText(daily)}
      </p>
    </div>
  );
}
