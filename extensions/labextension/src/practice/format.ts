/**
 * Pure helpers of the Practice sidebar: due counts and dates of reviews, the daily
 * question's line, a path's progress, a quiz's phase and time left. No JupyterLab
 * import, so they are unit-tested.
 *
 * Times left are counted against a deadline in the browser's clock, derived from the
 * seconds the grader said were left when it answered (`remaining`): the browser's clock
 * may be minutes off the grader's, a duration is not.
 */
import { clampPercent, formatNumber, formatScore } from '../format';
import { countdownText, parseTime } from '../rules';
import { IDaily, IPath, IPathItem, IQuiz, IReviewCounts } from './types';

// times

/** A duration as a learner says it: "less than a minute", "5 min", "3 h", "2 days". */
export function durationText(ms: number): string {
  const minutes = Math.round(Math.abs(ms) / 60_000);
  if (minutes < 1) {
    return 'less than a minute';
  }
  if (minutes < 60) {
    return `${minutes} min`;
  }
  const hours = Math.round(minutes / 60);
  if (hours < 48) {
    return `${hours} h`;
  }
  const days = Math.round(hours / 24);
  return `${days} days`;
}

/** "in 3 h" for a time ahead, "3 h ago" for one past, "now" within the minute. */
export function relativeText(at: number, now: number): string {
  const ms = at - now;
  if (Math.abs(ms) < 30_000) {
    return 'now';
  }
  return ms > 0 ? `in ${durationText(ms)}` : `${durationText(ms)} ago`;
}

/**
 * When something counted down ends, in the browser's clock: `received` (when the answer
 * came) plus the `remaining` seconds the grader gave; without those, the deadline as
 * the grader wrote it; null when nothing ends (no time limit).
 */
export function localDeadline(
  remaining: number | null | undefined,
  deadline: string | null | undefined,
  received: number
): number | null {
  if (typeof remaining === 'number' && Number.isFinite(remaining)) {
    return received + Math.max(0, remaining) * 1000;
  }
  return parseTime(deadline);
}

/** What a countdown shows: "4:59", then "time is up". */
export function timeLeftText(deadline: number, now: number): string {
  return deadline > now ? countdownText(deadline - now) : 'time is up';
}

/** A time limit in seconds: "10 min", "1 h 30 min", "45 s", "no time limit". */
export function timeLimitText(seconds: number | null | undefined): string {
  if (!seconds || seconds <= 0) {
    return 'no time limit';
  }
  if (seconds < 60) {
    return `${Math.round(seconds)} s`;
  }
  const minutes = Math.round(seconds / 60);
  const hours = Math.floor(minutes / 60);
  const rest = minutes % 60;
  if (hours === 0) {
    return `${minutes} min`;
  }
  return rest ? `${hours} h ${rest} min` : `${hours} h`;
}

// reviews

/** "1 review" / "3 reviews". */
export function reviewsText(n: number): string {
  return `${n} ${n === 1 ? 'review' : 'reviews'}`;
}

/** The counts line: "2 due now · 5 today · 9 in the next 7 days". */
export function dueCountsText(counts: IReviewCounts | null | undefined): string {
  if (!counts) {
    return '';
  }
  return [
    `${counts.due_now} due now`,
    `${counts.due_today} today`,
    `${counts.next_7_days} in the next 7 days`
  ].join(' · ');
}

/** A due review's date: "due now", "due 2 days ago" (overdue), "due in 3 h". */
export function dueLabel(due: string | null | undefined, now: number): string {
  const at = parseTime(due);
  if (at === null) {
    return '';
  }
  if (at <= now + 30_000) {
    return now - at >= 3_600_000 ? `due ${relativeText(at, now)}` : 'due now';
  }
  return `due ${relativeText(at, now)}`;
}

/**
 * What the section says when nothing is due now: when the next review comes, or that
 * there is no card yet (a question's first full score makes one).
 */
export function noReviewText(
  nextDue: string | null | undefined,
  total: number,
  now: number
): string {
  const at = parseTime(nextDue);
  if (at !== null && at > now) {
    return `Nothing to review now. Next review ${relativeText(at, now)}.`;
  }
  if (total > 0) {
    return 'Nothing to review now.';
  }
  return 'No reviews yet: each question you solve comes back here, spaced out, to review.';
}

/** The tab's caption: how many reviews wait, for a glance at the sidebar. */
export function practiceCaption(dueNow: number | null): string {
  const base = 'Practice: reviews, the daily question, paths, quizzes and duels';
  return dueNow ? `${base} (${reviewsText(dueNow)} due)` : base;
}

// the daily question

/** "solved today" / "not solved yet today" / '' without a question. */
export function dailyStatusText(daily: Pick<IDaily, 'question' | 'solved_today'>): string {
  if (!daily.question) {
    return '';
  }
  return daily.solved_today ? 'solved today' : 'not solved yet today';
}

/** "3-day streak (best 5)", "1-day streak", "no streak yet (best 4)", "no streak yet". */
export function dailyStreakText(daily: Pick<IDaily, 'streak' | 'best_streak'>): string {
  const streak = daily.streak > 0 ? `${daily.streak}-day streak` : 'no streak yet';
  return daily.best_streak > daily.streak ? `${streak} (best ${daily.best_streak})` : streak;
}

// paths

export interface IProgress {
  solved: number;
  total: number;
  /** 0..100 */
  percent: number;
  /** "2 / 5 solved" */
  text: string;
}

/** A path's progress; the percentage is worked out again if the grader gave none. */
export function pathProgress(path: Pick<IPath, 'solved' | 'total' | 'percent'>): IProgress {
  const total = Math.max(0, path.total || 0);
  const solved = Math.min(total, Math.max(0, path.solved || 0));
  const given = typeof path.percent === 'number' && Number.isFinite(path.percent);
  const percent = clampPercent(given ? path.percent : total ? (100 * solved) / total : 0);
  return { solved, total, percent, text: `${solved} / ${total} solved` };
}

/** The progress of a path's items as listed (`GET paths/{id}`). */
export function itemsProgress(items: Pick<IPathItem, 'solved'>[]): IProgress {
  const solved = items.filter(i => i.solved).length;
  return pathProgress({ solved, total: items.length, percent: NaN });
}

/** The first unsolved item, or null when every one is solved. */
export function nextItem<T extends Pick<IPathItem, 'solved'>>(items: T[]): T | null {
  return items.find(i => !i.solved) ?? null;
}

/** Paths the learner follows first, then the others, each group in the grader's order. */
export function orderPaths<T extends Pick<IPath, 'enrolled'>>(paths: T[]): T[] {
  return [...paths.filter(p => p.enrolled), ...paths.filter(p => !p.enrolled)];
}

/** Why a new private path cannot be created yet, or null. */
export function newPathProblem(title: string, questions: unknown[]): string | null {
  if (!title.trim()) {
    return 'Give the path a title.';
  }
  if (questions.length === 0) {
    return 'Choose at least one question.';
  }
  return null;
}

// quizzes

export type QuizPhase = 'new' | 'running' | 'finished';

/**
 * Where the learner is with a quiz: not started, running (started, not finished, time
 * left), finished (finished, or its time is up: the grader counts nothing after).
 */
export function quizPhase(
  quiz: Pick<IQuiz, 'attempt'>,
  deadline: number | null,
  now: number
): QuizPhase {
  const attempt = quiz.attempt;
  if (!attempt) {
    return 'new';
  }
  if (attempt.finished || (deadline !== null && deadline <= now)) {
    return 'finished';
  }
  return 'running';
}

/** "3 / 5" for an attempt. */
export function quizScoreText(attempt: { score: number; max_score: number }): string {
  return formatScore(attempt.score, attempt.max_score);
}

/** "5 questions · 10 min" */
export function quizSummaryText(quiz: Pick<IQuiz, 'count' | 'time_limit'>): string {
  const questions = `${quiz.count} ${quiz.count === 1 ? 'question' : 'questions'}`;
  return `${questions} · ${timeLimitText(quiz.time_limit)}`;
}

/** A question's score within a quiz or a path: "2 / 3", "– / 3" when not attempted. */
export function itemScoreText(item: { best_score?: number | null; points?: number }): string {
  const points = formatNumber(item.points ?? 0);
  return item.best_score === null || item.best_score === undefined
    ? `– / ${points}`
    : `${formatNumber(item.best_score)} / ${points}`;
}

/** The module's name for a chip: its slug when the grader gave one, else nothing. */
export function moduleLabel(q: {
  module?: string | number | null;
  module_slug?: string | null;
}): string | null {
  if (q.module_slug) {
    return q.module_slug;
  }
  return typeof q.module === 'string' && q.module ? q.module : null;
}

export { typeText } from '../format';
