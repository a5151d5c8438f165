/**
 * Integrity signals: what JupyterLab records about a question's notebook when the
 * question's course turns them on (`integrity: true` in `GET courses`), sent with the
 * submission. Only sizes and times:
 *
 * - pastes into the question's answer cells: how many, and each one's size in
 *   characters (never the pasted text);
 * - leaving the tab or window while the question is part of a timed quiz or duel: how
 *   often, and for how many seconds in all;
 * - time spent: from opening the notebook to submitting, and how much of it the
 *   notebook was shown.
 *
 * They are reported by the learner's own browser: hints for a conversation, never
 * proof. No JupyterLab import here (the clock is passed in), so it is unit-tested;
 * integrityWatch.ts wires it to notebooks and the page.
 */
import { ICourse } from './types';

/** Paste sizes listed one by one (more are only counted): the grader's limit. */
export const MAX_PASTES_LISTED = 200;
/** The grader's bounds: counts, characters, seconds. */
export const MAX_PASTE_CHARS = 20_000_000;
export const MAX_TOTAL_CHARS = 1_000_000_000;
export const MAX_COUNT = 1_000_000;
export const MAX_SECONDS = 366 * 24 * 3600;

export type TimedKind = 'quiz' | 'duel';

/** What `POST questions/{id}/submit` carries as `integrity` (the grader's fields). */
export interface IIntegritySignals {
  pastes: number[];
  paste_count: number;
  paste_chars: number;
  away_count: number;
  away_seconds: number;
  timed: TimedKind | null;
  open_seconds: number;
  visible_seconds: number;
}

/** A submission's signals as the grader sends them back (`GET submissions/{id}`). */
export interface IIntegrityReport extends IIntegritySignals {
  largest_paste: number;
  recorded: string | null;
  self_reported: boolean;
}

/** What the learner is told, in the course home and under the question's notebook. */
export const RECORDED: readonly string[] = [
  'the size (in characters) of each paste into the question’s answer cells',
  'leaving the JupyterLab tab or window during a timed quiz or duel: how often and for how long',
  'time spent on a question: from opening its notebook to submitting, and how long it was shown'
];
export const NOT_RECORDED: readonly string[] = [
  'keystrokes',
  'the pasted text',
  'your screen',
  'anything outside JupyterLab'
];
export const NOTICE_TITLE = 'This course records integrity signals';
export const NOTICE_CAVEAT =
  'They are sent with each submission and shown to you and your instructors, never to other learners. ' +
  'Your instructors read them as hints for a conversation, not as proof of anything.';

/** The slugs of the courses that record integrity signals. */
export function integrityCourses(courses: ICourse[]): Set<string> {
  return new Set(courses.filter(c => c.integrity === true).map(c => c.slug));
}

/** A paste's size in characters (code points, as a learner counts them), from its text,
 * which is read for its length only and never kept. */
export function pasteSize(text: string): number {
  let n = 0;
  for (const _ of text) {
    n++;
  }
  return n;
}

/** Whether a cell's metadata makes it an answer cell (nbgrader's `solution`). */
export function isAnswerCell(metadata: unknown): boolean {
  const nbgrader = (metadata as { nbgrader?: { solution?: unknown } } | null)?.nbgrader;
  return nbgrader?.solution === true;
}

/**
 * Which questions are part of a timed quiz or duel now (the Practice sidebar marks
 * them when it opens them), until their deadline (browser clock, ms).
 */
export class TimedQuestions {
  private marks = new Map<string, { kind: TimedKind; until: number }>();

  mark(questionId: number | string, kind: TimedKind, until: number): void {
    this.marks.set(String(questionId), { kind, until });
  }

  clear(questionId: number | string): void {
    this.marks.delete(String(questionId));
  }

  /** The kind of timed work the question is part of at `now`, or null. */
  timedAt(questionId: number | string, now: number): TimedKind | null {
    const mark = this.marks.get(String(questionId));
    return mark && now < mark.until ? mark.kind : null;
  }

  /** When the question's timed work ends (ms), or null. */
  until(questionId: number | string): number | null {
    return this.marks.get(String(questionId))?.until ?? null;
  }
}

/** The page's timed questions: one for every plugin of this JupyterLab page. */
export const timedQuestions = new TimedQuestions();

function clamp(value: number, maximum: number): number {
  return Math.min(Math.max(0, value), maximum);
}

function seconds(ms: number): number {
  return clamp(Math.round(ms / 100) / 10, MAX_SECONDS);
}

/**
 * One question notebook's signals since it was opened. Times are milliseconds of the
 * caller's clock; nothing here reads the clock or the DOM.
 */
export class IntegrityRecorder {
  private sizes: number[] = [];
  private pasteCount = 0;
  private pasteChars = 0;
  private awayCount = 0;
  private awayMs = 0;
  private awaySince: number | null = null;
  private awayUntil: number | null = null;
  private timedKind: TimedKind | null = null;
  private visibleMs = 0;
  private visibleSince: number | null;

  /**
   * @param opened when the notebook was opened
   * @param shown whether it is shown now (page visible, notebook on screen)
   */
  constructor(
    private opened: number,
    shown: boolean
  ) {
    this.visibleSince = shown ? opened : null;
  }

  /** A paste of `chars` characters into an answer cell. */
  paste(chars: number): void {
    const size = clamp(Math.floor(chars), MAX_PASTE_CHARS);
    this.pasteCount = Math.min(this.pasteCount + 1, MAX_COUNT);
    this.pasteChars = clamp(this.pasteChars + size, MAX_TOTAL_CHARS);
    if (this.sizes.length < MAX_PASTES_LISTED) {
      this.sizes.push(size);
    }
  }

  /** The notebook became shown or hidden (its tab, the page's visibility). */
  shown(shown: boolean, now: number): void {
    if (shown && this.visibleSince === null) {
      this.visibleSince = now;
    } else if (!shown && this.visibleSince !== null) {
      this.visibleMs += Math.max(0, now - this.visibleSince);
      this.visibleSince = null;
    }
  }

  /**
   * The learner left the page (tab hidden, window blurred) or came back. Leaving counts
   * only while the question is timed (`timed`: what it is part of then, else null), and
   * the time away only up to the timed work's end (`until`, ms).
   */
  away(away: boolean, now: number, timed: TimedKind | null, until: number | null = null): void {
    if (away && this.awaySince === null && timed !== null) {
      this.awaySince = now;
      this.awayUntil = until;
      this.timedKind = timed;
      this.awayCount = Math.min(this.awayCount + 1, MAX_COUNT);
    } else if (!away && this.awaySince !== null) {
      this.awayMs += this.awayLength(now);
      this.awaySince = null;
      this.awayUntil = null;
    }
  }

  /** The question is (or was) timed: what it is part of, for the report. */
  timed(kind: TimedKind | null): void {
    if (kind !== null) {
      this.timedKind = kind;
    }
  }

  /** The signals to send with a submission made at `now`. */
  signals(now: number): IIntegritySignals {
    const visible =
      this.visibleMs + (this.visibleSince !== null ? Math.max(0, now - this.visibleSince) : 0);
    const away = this.awayMs + (this.awaySince !== null ? this.awayLength(now) : 0);
    const open = Math.max(0, now - this.opened);
    return {
      pastes: [...this.sizes],
      paste_count: this.pasteCount,
      paste_chars: this.pasteChars,
      away_count: this.awayCount,
      away_seconds: seconds(away),
      timed: this.timedKind,
      open_seconds: seconds(open),
      // never more than the time it was open, whatever the clock did
      visible_seconds: Math.min(seconds(visible), seconds(open))
    };
  }

  private awayLength(now: number): number {
    const end = this.awayUntil !== null ? Math.min(now, this.awayUntil) : now;
    return Math.max(0, end - (this.awaySince as number));
  }
}

/** One line for a submission's own signals, as the learner sees them. */
export function reportText(report: IIntegrityReport | null | undefined): string {
  if (!report) {
    return '';
  }
  const parts: string[] = [];
  parts.push(
    report.paste_count === 0
      ? 'no pastes'
      : `${report.paste_count} paste${report.paste_count === 1 ? '' : 's'} ` +
          `(${report.paste_chars} characters, the largest ${report.largest_paste})`
  );
  if (report.timed) {
    parts.push(
      `left the tab ${report.away_count} time${report.away_count === 1 ? '' : 's'} during the ${report.timed}` +
        (report.away_count ? ` (${report.away_seconds} s)` : '')
    );
  }
  parts.push(`${minutesText(report.open_seconds)} from opening to submitting`);
  return parts.join(' · ');
}

function minutesText(totalSeconds: number): string {
  if (totalSeconds < 60) {
    return `${Math.round(totalSeconds)} s`;
  }
  const minutes = Math.round(totalSeconds / 60);
  return minutes < 60 ? `${minutes} min` : `${Math.floor(minutes / 60)} h ${minutes % 60} min`;
}
