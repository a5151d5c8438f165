/**
 * Quizzes in the Practice sidebar: the course's released quizzes; Start draws the
 * learner's questions (the same ones on every start) and starts the clock; a running
 * quiz shows its questions with their scores, the time left counting down, and Finish;
 * a finished one its score.
 */
import React from 'react';

import { ErrorMessage } from '../common';
import { useLoad } from '../useLoad';
import { useNow } from '../useNow';
import { ActionButton, ISectionProps, TypeChip, useReloadAt, useTimed } from './common';
import {
  itemScoreText,
  localDeadline,
  quizPhase,
  quizScoreText,
  quizSummaryText,
  timeLeftText,
  timeLimitText
} from './format';
import { IPracticeQuestion, IQuiz } from './types';

/** Full marks on a scored question. */
const solved = (q: IPracticeQuestion) =>
  (q.points ?? 0) > 0 && (q.best_score ?? -1) >= (q.points ?? 0);

export function QuizzesSection(props: ISectionProps): JSX.Element {
  const { api, refresh, live, course } = props;
  const loaded = useLoad(
    async () => ({ quizzes: await api.quizzes(course), received: Date.now() }),
    refresh,
    [api, course],
    live
  );
  const data = loaded.data;
  return (
    <div className="ch-practice-quizzes" data-testid="coursehub-practice-quizzes">
      <ErrorMessage message={loaded.error} testid="coursehub-practice-error" />
      {!data && !loaded.error && <p className="ch-muted">Loading…</p>}
      {data?.quizzes.length === 0 && (
        <p className="ch-muted" data-testid="coursehub-practice-quizzes-empty">
          No quiz in this course yet.
        </p>
      )}
      {data && data.quizzes.length > 0 && (
        <ul className="ch-practice-list">
          {data.quizzes.map(quiz => (
            <QuizRow
              key={quiz.id}
              {...props}
              quiz={quiz}
              received={data.received}
              reload={loaded.reload}
            />
          ))}
        </ul>
      )}
    </div>
  );
}

function QuizRow(
  props: ISectionProps & { quiz: IQuiz; received: number; reload: () => void }
): JSX.Element {
  const { quiz, api, reload } = props;
  const attempt = quiz.attempt;
  const deadline = attempt
    ? localDeadline(attempt.remaining, attempt.deadline, props.received)
    : null;
  const running = !!attempt && !attempt.finished;
  const now = useNow(running && deadline !== null);
  const phase = quizPhase(quiz, deadline, now);
  useReloadAt(running ? deadline : null, reload);
  useTimed(
    'quiz',
    phase === 'running' && attempt ? attempt.questions.map(q => q.id) : [],
    deadline
  );
  return (
    <li
      className={`ch-practice-item ch-practice-quiz ch-mod-${phase}`}
      data-testid="coursehub-practice-quiz"
      data-quiz-id={String(quiz.id)}
      data-phase={phase}
    >
      <div className="ch-practice-item-head">
        <span className="ch-practice-item-title">{quiz.title}</span>
        {phase === 'new' && (
          <ActionButton
            label="Start"
            primary
            testid="coursehub-practice-quiz-start"
            ariaLabel={`Start ${quiz.title}`}
            title={
              quiz.time_limit
                ? `The clock starts at once: ${timeLimitText(quiz.time_limit)}`
                : undefined
            }
            action={async () => {
              await api.startQuiz(quiz.id);
              reload();
            }}
          />
        )}
        {phase === 'running' && (
          <ActionButton
            label="Finish"
            testid="coursehub-practice-quiz-finish"
            ariaLabel={`Finish ${quiz.title}`}
            action={async () => {
              await api.finishQuiz(quiz.id);
              reload();
            }}
          />
        )}
        {phase === 'finished' && attempt && (
          <strong className="ch-practice-score" data-testid="coursehub-practice-quiz-score">
            {quizScoreText(attempt)}
          </strong>
        )}
      </div>
      {quiz.description && <div className="ch-question-description">{quiz.description}</div>}
      <div className="ch-muted">{quizSummaryText(quiz)}</div>
      {phase === 'running' && attempt && (
        <div className="ch-practice-running" role="status">
          {deadline !== null ? (
            <span className="ch-practice-countdown">
              time left{' '}
              <span
                data-testid="coursehub-practice-quiz-remaining"
                data-deadline={String(deadline)}
              >
                {timeLeftText(deadline, now)}
              </span>
            </span>
          ) : (
            <span className="ch-muted">no time limit</span>
          )}
          {' · '}
          <span data-testid="coursehub-practice-quiz-running-score">
            score {quizScoreText(attempt)}
          </span>
        </div>
      )}
      {attempt && (
        <ol className="ch-practice-sublist" aria-label={`${quiz.title}: questions`}>
          {attempt.questions.map(q => (
            <li
              key={q.id}
              className={`ch-practice-subitem${solved(q) ? ' ch-mod-solved' : ''}`}
              data-testid="coursehub-practice-quiz-question"
              data-question-id={String(q.id)}
            >
              <span className="ch-practice-item-title">{q.title}</span>
              <TypeChip type={q.type} />
              <span className="ch-muted" data-testid="coursehub-practice-quiz-question-score">
                {itemScoreText(q)}
              </span>
              {phase === 'running' && (
                <ActionButton
                  label="Open"
                  testid="coursehub-practice-quiz-question-open"
                  ariaLabel={`Open ${q.title}`}
                  action={() => props.openQuestion(q.id)}
                />
              )}
            </li>
          ))}
        </ol>
      )}
    </li>
  );
}
