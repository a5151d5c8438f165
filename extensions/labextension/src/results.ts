/**
 * The state of one submission as the results view shows it, and the loop that follows
 * it: the server's event stream, with polling as the fallback. Pure (time, the network
 * and the stream are passed in), so it is unit-tested.
 */
import { queueText } from './format';
import { ISSEParserState, ITextStream, parseSSE, SSE_START } from './sse';
import { ISubmission, SubmissionStatus } from './types';

export type Phase = 'saving' | 'submitting' | SubmissionStatus;

export interface IResultState {
  phase: Phase;
  submissionId: string | null;
  submission: ISubmission | null;
  /** A plain message for the learner (the error, or why following stopped). */
  message: string | null;
}

export type ResultEvent =
  | { type: 'save' }
  | { type: 'submit' }
  | { type: 'submitted'; id: number | string; status: SubmissionStatus }
  | { type: 'received'; submission: ISubmission }
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
    case 'received': {
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

/** Where a queued submission stands, e.g. "3rd in line, about 15 s"; '' otherwise. */
export function queueDetail(state: IResultState): string {
  const s = state.submission;
  if (state.phase !== 'queued' || s === null) {
    return '';
  }
  return queueText(s.queue_position, s.estimated_wait);
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

const STATUSES: readonly string[] = ['queued', 'running', 'graded', 'error'];

/** The submission in an event's data, or null when it is not one. */
export function submissionOf(data: string): ISubmission | null {
  let value: unknown;
  try {
    value = JSON.parse(data);
  } catch {
    return null;
  }
  const s = value as ISubmission | null;
  if (typeof s !== 'object' || s === null || !STATUSES.includes(s.status)) {
    return null;
  }
  return s;
}

export interface IFollowOptions {
  /**
   * Opens GET submissions/{id}/events (server-sent events); rejects when the stream
   * cannot be opened.
   */
  openStream: (id: string) => Promise<ITextStream>;
  /** GET submissions/{id}, the fallback; may throw an Error whose message is shown. */
  fetch: (id: string) => Promise<ISubmission>;
  /** Waits between polls; `(ms) => new Promise(r => setTimeout(r, ms))` in the app. */
  sleep: (ms: number) => Promise<void>;
  /** Called with every new state. */
  update: (state: IResultState) => void;
  /** Stops following (a new submission, a closed view). */
  cancelled?: () => boolean;
  /** Event streams opened at most: the first and the retries after it broke. */
  maxStreams?: number;
  /** Polling interval once the stream is broken or cannot be opened. */
  pollIntervalMs?: number;
  /** Consecutive failed polls tolerated before giving up (network blips). */
  maxFailures?: number;
  /** Gives up after this many polls (10 minutes at 3 s). */
  maxPolls?: number;
}

/**
 * Follow a submitted submission until it is graded or failed; returns the final state
 * (or the last one, when cancelled or out of polls).
 *
 * The server pushes the submission on every change (status, place in the queue) as
 * `event: submission` messages, and ends the stream after a final one. When the stream
 * cannot be opened, or ends or breaks before a final status, the submission is
 * polled every `pollIntervalMs`; while streams are left (`maxStreams` in all), a new
 * one is opened after each poll.
 */
export async function followSubmission(
  start: IResultState,
  options: IFollowOptions
): Promise<IResultState> {
  const maxStreams = options.maxStreams ?? 3;
  const interval = options.pollIntervalMs ?? 3000;
  const maxFailures = options.maxFailures ?? 3;
  const maxPolls = options.maxPolls ?? 200;
  const cancelled = () => options.cancelled?.() ?? false;
  let state = start;
  let streams = 0;
  let polls = 0;
  let failures = 0;
  const report = (next: IResultState) => {
    state = next;
    if (!cancelled()) {
      options.update(state);
    }
  };

  while (!isFinal(state) && state.submissionId !== null && !cancelled()) {
    const id = state.submissionId;
    if (streams < maxStreams) {
      streams++;
      await readStream(id, state, options, report, cancelled);
      if (isFinal(state) || cancelled()) {
        break;
      }
    }
    if (polls >= maxPolls) {
      report(
        reduce(state, {
          type: 'failed',
          message: 'Grading is taking too long; reopen the results later from the panel.'
        })
      );
      break;
    }
    await options.sleep(interval);
    if (cancelled()) {
      break;
    }
    polls++;
    try {
      const submission = await options.fetch(id);
      failures = 0;
      report(reduce(state, { type: 'received', submission }));
    } catch (e) {
      failures++;
      if (failures >= maxFailures) {
        report(reduce(state, { type: 'failed', message: (e as Error).message }));
      }
    }
  }
  return state;
}

/**
 * Feed one event stream's submissions into the state until a final one, the stream's
 * end, a failure, or cancellation; every failure just returns (the caller polls).
 */
async function readStream(
  id: string,
  start: IResultState,
  options: IFollowOptions,
  report: (state: IResultState) => void,
  cancelled: () => boolean
): Promise<void> {
  let stream: ITextStream;
  try {
    stream = await options.openStream(id);
  } catch {
    return;
  }
  let state = start;
  let parser: ISSEParserState = SSE_START;
  try {
    for (;;) {
      const text = await stream.read();
      if (text === null || cancelled()) {
        return;
      }
      const parsed = parseSSE(parser, text);
      parser = parsed.state;
      for (const message of parsed.messages) {
        if (message.event !== 'submission') {
          continue;
        }
        const submission = submissionOf(message.data);
        if (submission === null) {
          return; // not what the server sends: do not trust the rest
        }
        state = reduce(state, { type: 'received', submission });
        report(state);
        if (isFinal(state)) {
          return;
        }
      }
    }
  } catch {
    return; // a network error, the idle timeout, an abort
  } finally {
    stream.close();
  }
}
