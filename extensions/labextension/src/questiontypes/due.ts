/**
 * Pure helpers of the flashcard widget: the four ratings and when a card is due next,
 * said as a learner would. No JupyterLab import: unit-tested.
 */

export interface IRating {
  /** what the grader's `POST reviews/{id}` takes (FSRS's Again=1 ... Easy=4) */
  value: 1 | 2 | 3 | 4;
  label: string;
  /** what the button's title explains */
  meaning: string;
}

export const RATINGS: readonly IRating[] = [
  { value: 1, label: 'Again', meaning: 'I did not remember it' },
  { value: 2, label: 'Hard', meaning: 'I remembered it with difficulty' },
  { value: 3, label: 'Good', meaning: 'I remembered it' },
  { value: 4, label: 'Easy', meaning: 'I remembered it at once' }
];

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

/**
 * When a card is due, from now: "due now", "in 10 min", "in 3 h", "in 1 day",
 * "in 12 days", "in 3 months"; '' for a missing or unreadable time.
 */
export function dueText(iso: string | null | undefined, now: number): string {
  const due = iso ? Date.parse(iso) : NaN;
  if (!Number.isFinite(due)) {
    return '';
  }
  const wait = due - now;
  if (wait <= 0) {
    return 'due now';
  }
  if (wait < HOUR) {
    return `in ${Math.max(1, Math.round(wait / MINUTE))} min`;
  }
  if (wait < DAY) {
    return `in ${Math.round(wait / HOUR)} h`;
  }
  const days = Math.round(wait / DAY);
  if (days < 60) {
    return days === 1 ? 'in 1 day' : `in ${days} days`;
  }
  return `in ${Math.round(days / 30)} months`;
}

/** What the flashcard says after a rating (or when it opens): "Next review in 3 days". */
export function nextReviewText(iso: string | null | undefined, now: number): string {
  const when = dueText(iso, now);
  if (!when) {
    return '';
  }
  return when === 'due now' ? 'Due for review now' : `Next review ${when}`;
}

/**
 * How long the learner looked at the card before rating it, in whole milliseconds
 * (never negative: a clock set back is no reason to send nonsense).
 */
export function durationMs(shownAt: number, ratedAt: number): number {
  return Math.max(0, Math.round(ratedAt - shownAt));
}
