/** Pieces shared by the Practice sidebar's sections. */
import React, { useCallback, useEffect, useRef, useState } from 'react';

import { ErrorMessage } from '../common';
import { Refresh } from '../events';
import { clampPercent, formatPercent } from '../format';
import { TimedKind, timedQuestions } from '../integrity';
import { PracticeAPI } from './api';
import { DuelFeed } from './feed';
import { IProgress, typeText } from './format';

/** What every section gets from the panel. */
export interface ISectionProps {
  api: PracticeAPI;
  /** every graded submission (and every pushed duel) */
  refresh: Refresh;
  /** the periodic refresh while the sidebar is shown, else null */
  live: Refresh | null;
  course: string;
  feed: DuelFeed;
  /** Open a question's notebook (written once, then the learner's own). */
  openQuestion: (questionId: number) => Promise<void>;
  /**
   * Open a fresh copy of a question's student version, once per `key` (a review of a
   * card, a duel): `first` runs between writing the copy and showing it, that first
   * time only; later calls with the same key reopen that copy.
   */
  openFresh: (key: string, questionId: number, first?: () => Promise<unknown>) => Promise<void>;
}

/**
 * A button's action with its busy state and its error: the button is disabled while it
 * runs, a failure becomes a message under it.
 */
export function useAction(): {
  busy: boolean;
  error: string | null;
  run: (action: () => Promise<unknown>) => Promise<void>;
  clear: () => void;
} {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const mounted = useRef(true);
  useEffect(
    () => () => {
      mounted.current = false;
    },
    []
  );
  const run = useCallback(async (action: () => Promise<unknown>) => {
    setBusy(true);
    setError(null);
    try {
      await action();
    } catch (e) {
      if (mounted.current) {
        setError((e as Error).message);
      }
    } finally {
      if (mounted.current) {
        setBusy(false);
      }
    }
  }, []);
  return { busy, error, run, clear: () => setError(null) };
}

/** A button running an action, its error under it. */
export function ActionButton(props: {
  label: string;
  action: () => Promise<unknown>;
  testid: string;
  primary?: boolean;
  warn?: boolean;
  disabled?: boolean;
  ariaLabel?: string;
  title?: string;
}): JSX.Element {
  const { busy, error, run } = useAction();
  const classes = ['ch-button'];
  if (props.primary) {
    classes.push('ch-mod-primary');
  }
  if (props.warn) {
    classes.push('ch-mod-warn');
  }
  return (
    <>
      <button
        className={classes.join(' ')}
        data-testid={props.testid}
        aria-label={props.ariaLabel}
        title={props.title}
        disabled={busy || props.disabled}
        onClick={() => void run(props.action)}
      >
        {props.label}
      </button>
      {error && (
        <div className="ch-practice-action-error">
          <ErrorMessage message={error} testid="coursehub-practice-error" />
        </div>
      )}
    </>
  );
}

/** A progress bar (the panel's), labelled for screen readers. */
export function ProgressBar(props: {
  progress: IProgress;
  label: string;
  testid: string;
}): JSX.Element {
  const percent = clampPercent(props.progress.percent);
  return (
    <div
      className="ch-progressbar"
      role="progressbar"
      data-testid={props.testid}
      aria-label={props.label}
      aria-valuemin={0}
      aria-valuemax={100}
      aria-valuenow={Math.round(percent)}
      aria-valuetext={`${props.progress.text} (${formatPercent(percent)})`}
    >
      <div className="ch-progressbar-fill" style={{ width: `${percent}%` }} />
    </div>
  );
}

/** The chip naming a question's type. */
export function TypeChip(props: { type?: string | null }): JSX.Element {
  return (
    <span className="ch-chip ch-practice-type" data-type={props.type ?? 'notebook'}>
      {typeText(props.type)}
    </span>
  );
}

/**
 * One of the sidebar's sections: a heading that folds it (the state survives reloads
 * of its content), an optional badge (e.g. the reviews due).
 */
export function Section(props: {
  name: string;
  title: string;
  badge?: string | null;
  open: boolean;
  onToggle: () => void;
  children: React.ReactNode;
}): JSX.Element {
  const headingId = `coursehub-practice-heading-${props.name}`;
  const bodyId = `coursehub-practice-body-${props.name}`;
  return (
    <section
      className={`ch-practice-section${props.open ? ' ch-mod-open' : ''}`}
      data-testid={`coursehub-practice-section-${props.name}`}
      data-open={props.open ? 'true' : 'false'}
      aria-labelledby={headingId}
    >
      <h2 className="ch-practice-heading" id={headingId}>
        <button
          className="ch-practice-toggle"
          data-testid={`coursehub-practice-toggle-${props.name}`}
          aria-expanded={props.open}
          aria-controls={bodyId}
          onClick={props.onToggle}
        >
          <span className="ch-practice-caret" aria-hidden="true">
            {props.open ? '▾' : '▸'}
          </span>
          <span className="ch-practice-heading-title">{props.title}</span>
          {props.badge && (
            <span
              className="ch-practice-badge"
              data-testid={`coursehub-practice-badge-${props.name}`}
            >
              {props.badge}
            </span>
          )}
        </button>
      </h2>
      <div className="ch-practice-body" id={bodyId} hidden={!props.open}>
        {props.children}
      </div>
    </section>
  );
}

/**
 * Reload once `deadline` (browser clock, ms) has passed: the grader settles an expired
 * duel or quiz on read, so the view learns the outcome without waiting for a refresh.
 */
export function useReloadAt(deadline: number | null, reload: () => void): void {
  // the latest reload, without restarting the timer on every render
  const latest = useRef(reload);
  latest.current = reload;
  useEffect(() => {
    // once: a deadline already past when the answer came is left to the periodic
    // refresh (no loop of reloads if the grader has not settled it yet)
    if (deadline === null || deadline <= Date.now()) {
      return;
    }
    // a little after the deadline: the grader's clock may be a moment behind
    const wait = deadline - Date.now() + 1500;
    if (wait > 2 ** 31 - 1) {
      return; // beyond what setTimeout can wait; a refresh comes before
    }
    const timer = setTimeout(() => latest.current(), wait);
    return () => clearTimeout(timer);
  }, [deadline]);
}

/**
 * Mark `questionIds` as part of timed work (`kind`) until `deadline` (browser clock,
 * ms) while the view shows it running, for the integrity signals (../integrity.ts:
 * leaving the tab counts only then, and only where the course records signals).
 * `deadline` null: not timed, nothing marked.
 */
export function useTimed(
  kind: TimedKind,
  questionIds: (number | string)[],
  deadline: number | null
): void {
  const key = questionIds.join(',');
  useEffect(() => {
    if (deadline === null || questionIds.length === 0) {
      return;
    }
    for (const id of questionIds) {
      timedQuestions.mark(id, kind, deadline);
    }
    return () => {
      for (const id of questionIds) {
        timedQuestions.clear(id);
      }
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [kind, key, deadline]);
}
