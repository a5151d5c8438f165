/**
 * Pure helpers for a question's submission rules, as a learner sees them before
 * submitting: the due date in their own time, what lateness costs, submissions used,
 * and the cool-off's countdown. No JupyterLab import, so they are unit-tested.
 *
 * The grader decides (it refuses a submission with 403 or 429); these only say in
 * advance what it will decide, from the rules in the question's summary.
 */
import { formatNumber } from './format';
import { IQuestion } from './types';

/**
 * A time from the grader as milliseconds since the epoch, or null. The grader writes
 * UTC with a "Z"; a time without a zone is read as UTC too, never as local time.
 */
export function parseTime(value: string | null | undefined): number | null {
  if (!value) {
    return null;
  }
  const zoned = /(Z|[+-]\d\d:?\d\d)$/i.test(value) ? value : `${value}Z`;
  const ms = Date.parse(zoned);
  return Number.isNaN(ms) ? null : ms;
}

/** Options for formatting dates; tests fix them, the browser uses the learner's own. */
export interface IDateFormat {
  locale?: string;
  timeZone?: string;
}

/** A date and time in the learner's local time (or `format.timeZone`), e.g. "3 Mar 2025, 14:00". */
export function formatDateTime(ms: number, format: IDateFormat = {}): string {
  return new Date(ms).toLocaleString(format.locale, {
    dateStyle: 'medium',
    timeStyle: 'short',
    timeZone: format.timeZone
  });
}

/** "late: -10% per day", "late submissions refused", "late submissions accepted", or null. */
export function latePolicyText(
  question: Pick<IQuestion, 'late_policy' | 'penalty_per_day'>
): string | null {
  switch (question.late_policy) {
    case 'refuse':
      return 'late submissions refused';
    case 'accept':
      return 'late submissions accepted';
    case 'penalty': {
      const fraction = question.penalty_per_day ?? 0;
      if (fraction <= 0) {
        return 'late submissions accepted';
      }
      return `late: -${formatNumber(fraction * 100)}% per day`;
    }
    default:
      return null;
  }
}

/**
 * The due date as the learner reads it: "due 3 Mar 2025, 14:00" or "was due 3 Mar
 * 2025, 14:00" once past; null without a due date.
 */
export function dueText(
  question: Pick<IQuestion, 'due'>,
  now: number,
  format: IDateFormat = {}
): string | null {
  const due = parseTime(question.due);
  if (due === null) {
    return null;
  }
  return `${due <= now ? 'was due' : 'due'} ${formatDateTime(due, format)}`;
}

/** "2 of 5 submissions used"; null when there is no limit. */
export function submissionsText(
  question: Pick<IQuestion, 'submission_limit' | 'submissions_used'>
): string | null {
  const limit = question.submission_limit;
  if (limit === null || limit === undefined) {
    return null;
  }
  const used = question.submissions_used ?? 0;
  return `${used} of ${limit} submission${limit === 1 ? '' : 's'} used`;
}

/** A wait as a clock: 5 s -> "0:05", 754 s -> "12:34", 3723 s -> "1:02:03". */
export function countdownText(ms: number): string {
  const total = Math.max(0, Math.ceil(ms / 1000));
  const hours = Math.floor(total / 3600);
  const minutes = Math.floor((total % 3600) / 60);
  const seconds = total % 60;
  const two = (n: number) => String(n).padStart(2, '0');
  return hours > 0 ? `${hours}:${two(minutes)}:${two(seconds)}` : `${minutes}:${two(seconds)}`;
}

/** Why the grader would refuse a submission now. */
export type BlockKind = 'limit' | 'closed' | 'cooloff';

export interface ISubmitBlock {
  kind: BlockKind;
  /** the sentence shown to the learner */
  reason: string;
  /** cool-off only: when submitting is possible again (ms since the epoch) */
  until: number | null;
}

/**
 * Whether a submission would be refused now, and why: every submission used, past the
 * due date of a question that refuses late ones, or a cool-off still running. Null
 * when submitting is allowed (or the rules are not known).
 */
export function submitBlock(
  question: Pick<
    IQuestion,
    'due' | 'late_policy' | 'submission_limit' | 'submissions_used' | 'next_submission_at'
  > | null,
  now: number
): ISubmitBlock | null {
  if (!question) {
    return null;
  }
  const limit = question.submission_limit;
  if (limit !== null && limit !== undefined && (question.submissions_used ?? 0) >= limit) {
    return {
      kind: 'limit',
      reason: `All ${limit} submission${limit === 1 ? '' : 's'} used.`,
      until: null
    };
  }
  const due = parseTime(question.due);
  if (due !== null && due <= now && question.late_policy === 'refuse') {
    return {
      kind: 'closed',
      reason: 'Past the due date: late submissions are refused.',
      until: null
    };
  }
  const next = parseTime(question.next_submission_at);
  if (next !== null && next > now) {
    return {
      kind: 'cooloff',
      reason: `Wait ${countdownText(next - now)} before submitting again.`,
      until: next
    };
  }
  return null;
}

/** The question with a cool-off the grader announced (a 429's Retry-After, in seconds). */
export function withRetryAfter<T extends Pick<IQuestion, 'next_submission_at'>>(
  question: T,
  retryAfterSeconds: number,
  now: number
): T {
  const next = new Date(now + retryAfterSeconds * 1000);
  return { ...question, next_submission_at: next.toISOString() };
}
