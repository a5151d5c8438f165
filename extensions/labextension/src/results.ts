/**
 * The state of one submission as the results view shows it, and the polling loop that
 * drives it. Pure (time and the network are passed in), so it is unit-tested.
 */
import { ISubmission, SubmissionStatus } from './types';

export type Phase = 'saving' | 'submitting' | SubmissionStatus;

export interface IResultState {
  phase: Phase;
  submissionId: string | null;
  submission: ISubmission | null;
  /** A plain message for the learner (the error, or why polling stopped). */
  message: string | null;
}

export type ResultEvent =
  | { type: 'save' }
  | { type: 'submit' }
  | { type: 'submitted'; id: number | string; status: SubmissionStatus }
  | { type: 'polled'; submission: ISubmission }
  | { type: 'failed'; message: string };

export const INITIAL_STATE: IResultState = {
  phase: 'saving',
  submissionId: null,
  submission: null,
  message: null
};

/** Whether nothing more will change: graded, or an error. */
export function isFinal(state: IResultState): boolean {
  return state.phase === 'graded' || state.phase === 'error';
}

/** The next state after `event`; a final state only changes on a new 'save'. */
export function reduce(state: IResultState, event: ResultEvent): IResultState {
  if (event.type === 'save') {
    return INITIAL_STATE;
  }
  if (isFinal(state)) {
    return state;
  }
  switch (event.type) {
    case 'submit':
      return { ...state, phase: 'submitting' };
    case 'submitted':
      return {
        ...state,
        phase: event.status,
        submissionId: String(event.id)
      };
    case 'polled': {
      const s = event.submission;
      return {
        ...state,
        phase: s.status,
        submission: s,
        message: s.status === 'error' ? s.error || 'Grading failed.' : null
      };
    }
    case 'failed':
      return { ...state, phase: 'error', message: event.message };
  }
}

/** The status line: what the learner reads while waiting. */
export function statusText(state: IResultState): string {
  switch (state.phase) {
    case 'saving':
      return 'saving';
    case 'submitting':
      return 'submitting';
    default:
      return state.phase;
  }
}

export interface IPollOptions {
  /** GET submissions/{id}; may throw an Error whose message is shown. */
  fetch: (id: string) => Promise<ISubmission>;
  /** Waits between polls; `(ms) => new Promise(r => setTimeout(r, ms))` in the app. */
  sleep: (ms: number) => Promise<void>;
  /** Called with every new state. */
  update: (state: IResultState) => void;
  /** Stops the loop (a new submission, a closed view). */
  cancelled?: () => boolean;
  intervalMs?: number;
  /** Consecutive failed requests tolerated before giving up (network blips). */
  maxFailures?: number;
  /** Gives up after this many polls (about 10 minutes at 500 ms). */
  maxPolls?: number;
}

/**
 * Poll a submitted submission until it is graded or failed; returns the final state
 * (or the last one, when cancelled or out of polls).
 */
export async function pollSubmission(
  start: IResultState,
  options: IPollOptions
): Promise<IResultState> {
  const interval = options.intervalMs ?? 500;
  const maxFailures = options.maxFailures ?? 3;
  const maxPolls = options.maxPolls ?? 1200;
  let state = start;
  let failures = 0;
  for (let polls = 0; !isFinal(state); polls++) {
    if (state.submissionId === null) {
      return state;
    }
    if (polls >= maxPolls) {
      state = reduce(state, {
        type: 'failed',
        message: 'Grading is taking too long; reopen the results later from the panel.'
      });
      options.update(state);
      return state;
    }
    await options.sleep(interval);
    if (options.cancelled?.()) {
      return state;
    }
    try {
      const submission = await options.fetch(state.submissionId);
      failures = 0;
      state = reduce(state, { type: 'polled', submission });
    } catch (e) {
      failures++;
      if (failures < maxFailures) {
        continue;
      }
      state = reduce(state, { type: 'failed', message: (e as Error).message });
    }
    if (options.cancelled?.()) {
      return state;
    }
    options.update(state);
  }
  return state;
}
