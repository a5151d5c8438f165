/**
 * The results view: a main-area widget showing one question's latest submission.
 */
import { ReactWidget } from '@jupyterlab/ui-components';
import React from 'react';

import { formatScore } from './format';
import { IResultState, INITIAL_STATE, isFinal, queueDetail, statusText } from './results';
import { coursehubIcon } from './panel';

export class ResultsWidget extends ReactWidget {
  private state: IResultState = INITIAL_STATE;
  /** Incremented by every new submission, so an older loop stops. */
  run = 0;
  private following = new AbortController();

  constructor(
    readonly questionId: string,
    private questionTitle: string
  ) {
    super();
    this.id = `coursehub-results-${questionId.replace(/[^A-Za-z0-9_-]/g, '_')}`;
    this.addClass('ch-Results');
    this.title.icon = coursehubIcon;
    this.title.closable = true;
    this.setQuestionTitle(questionTitle);
  }

  /**
   * Begin showing a new submission: the older one's event stream is closed. Returns
   * the signal that closes this one's, aborted by the next run or closing the view.
   */
  startRun(): AbortSignal {
    this.following.abort();
    this.following = new AbortController();
    this.run++;
    return this.following.signal;
  }

  dispose(): void {
    this.following.abort();
    super.dispose();
  }

  setQuestionTitle(title: string): void {
    this.questionTitle = title;
    this.title.label = `Results: ${title}`;
    this.update();
  }

  setState(state: IResultState): void {
    this.state = state;
    this.update();
  }

  render(): JSX.Element {
    return <ResultsView state={this.state} title={this.questionTitle} />;
  }
}

function ResultsView({ state, title }: { state: IResultState; title: string }): JSX.Element {
  const s = state.submission;
  const graded = state.phase === 'graded' && s !== null;
  const queue = queueDetail(state);
  return (
    <div className="ch-results" data-testid="ch-results" aria-busy={!isFinal(state)}>
      <h2 className="ch-results-title">Results: {title}</h2>
      <p className="ch-results-status" aria-live="polite">
        Status:{' '}
        <span className={`ch-status ch-status-${state.phase}`} data-testid="ch-status">
          {statusText(state)}
        </span>
        {queue && (
          <span className="ch-queue">
            {' · '}
            <span data-testid="ch-queue">{queue}</span>
          </span>
        )}
        {!isFinal(state) && <span className="ch-spinner" aria-hidden="true" />}
      </p>
      {state.message && (
        <div className="ch-error" role="alert">
          {state.message}
        </div>
      )}
      {graded && (
        <p className="ch-results-score">
          Score: <strong data-testid="ch-score">{formatScore(s.score, s.max_score)}</strong>
        </p>
      )}
      {graded && (s.tests || []).length > 0 && (
        <ul className="ch-tests" aria-label="Tests">
          {(s.tests || []).map((t, i) => (
            <li
              key={`${i}-${t.name}`}
              className={`ch-test ${t.passed ? 'ch-mod-passed' : 'ch-mod-failed'}`}
              data-testid="ch-test"
              data-passed={t.passed ? 'true' : 'false'}
              data-hidden={t.hidden ? 'true' : 'false'}
            >
              <div className="ch-test-head">
                <span className="ch-test-outcome">{t.passed ? '✓ passed' : '✗ failed'}</span>
                <span className="ch-test-name">{t.name}</span>
                {t.hidden && <span className="ch-chip ch-hidden">hidden test</span>}
                <span className="ch-test-points">{formatScore(t.points, t.max_points)}</span>
              </div>
              {/* a passing test's message only repeats "passed" */}
              {t.message && !t.passed && <pre className="ch-test-message">{t.message}</pre>}
            </li>
          ))}
        </ul>
      )}
    </div>
  );
}
