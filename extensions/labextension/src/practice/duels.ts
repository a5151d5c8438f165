/**
 * Pure helpers for duels as one participant sees them: who the other one is, the
 * status line, the outcome and the rating change, the duels sorted into what needs an
 * answer, what runs and what is over, the notice a pushed change deserves, and the
 * check of a pushed duel. No JupyterLab import, so they are unit-tested.
 */
import { formatScore } from '../format';
import { IServerSentEvent } from '../sse';
import { DuelSide, IDuel, IDuelist, IDuelProgress } from './types';

/** How a learner is named: their display name, else their user name. */
export function duelistName(who: IDuelist | null | undefined): string {
  return who?.display_name?.trim() || who?.name || 'someone';
}

/**
 * The other participant's name as "you" see them: "the bot", a learner's name, or
 * null for an open challenge nobody accepted yet. A spectator (an open challenge of
 * someone else) sees the challenger.
 */
export function otherName(duel: IDuel): string | null {
  if (duel.you === 'opponent') {
    return duelistName(duel.challenger);
  }
  if (duel.you === null) {
    return duelistName(duel.challenger);
  }
  if (duel.bot) {
    return 'the bot';
  }
  return duel.opponent ? duelistName(duel.opponent) : null;
}

function progressOf(who: string, progress: IDuelProgress | undefined): string {
  if (!progress || progress.submissions === 0) {
    return `${who}: nothing graded yet`;
  }
  const times = progress.submissions === 1 ? '1 submission' : `${progress.submissions} submissions`;
  return `${who}: best ${formatScore(progress.best_score, progress.max_score)} (${times})`;
}

/**
 * How the players are doing in an active duel, "you" first, e.g. "You: best 1 / 3 (2
 * submissions) · Ada: nothing graded yet"; null when the grader sent none (not active,
 * or not a player). The bot's progress is its clock, not shown.
 */
export function duelProgressText(duel: IDuel): string | null {
  if (duel.status !== 'active' || !duel.you || !duel.progress) {
    return null;
  }
  const other: DuelSide = duel.you === 'challenger' ? 'opponent' : 'challenger';
  const parts = [progressOf('You', duel.progress[duel.you])];
  if (!duel.bot) {
    const name = duelistName(other === 'challenger' ? duel.challenger : duel.opponent);
    parts.push(progressOf(name, duel.progress[other]));
  }
  return parts.join(' · ');
}

export type DuelOutcome = 'won' | 'lost' | 'draw';

/** The outcome for "you", once finished; null before, or for someone not in it. */
export function duelOutcome(duel: IDuel): DuelOutcome | null {
  if (duel.status !== 'finished' || !duel.result || !duel.you) {
    return null;
  }
  if (duel.result === 'draw') {
    return 'draw';
  }
  return duel.result === duel.you ? 'won' : 'lost';
}

const capital = (text: string) => text.charAt(0).toUpperCase() + text.slice(1);

/** The status line of a duel, e.g. "Waiting for Ada to accept", "You won against the bot". */
export function duelStatusText(duel: IDuel): string {
  const other = otherName(duel);
  switch (duel.status) {
    case 'open':
      if (duel.you === 'challenger') {
        return other
          ? `Waiting for ${other} to accept`
          : 'Open challenge: waiting for someone to accept';
      }
      if (duel.you === 'opponent') {
        return `${capital(other ?? 'someone')} challenges you`;
      }
      return `${capital(other ?? 'someone')} is looking for an opponent`;
    case 'active':
      return `Duel against ${other ?? 'someone'}: the first full score wins`;
    case 'finished': {
      switch (duelOutcome(duel)) {
        case 'won':
          return `You won against ${other ?? 'your opponent'}`;
        case 'lost':
          return `${capital(other ?? 'your opponent')} won`;
        case 'draw':
          return `Draw against ${other ?? 'your opponent'}: nobody solved it in time`;
        default:
          return 'Finished';
      }
    }
    case 'declined':
      return duel.you === 'opponent' ? 'You declined' : `${capital(other ?? 'someone')} declined`;
    case 'cancelled':
      return duel.you === 'opponent'
        ? `${capital(other ?? 'someone')} withdrew the challenge`
        : 'Cancelled';
    default:
      return duel.status;
  }
}

/** How "your" rating moved in a rated duel (after - before), or null. */
export function ratingChange(duel: IDuel): number | null {
  const side: DuelSide | null = duel.you;
  const move = side ? duel.ratings?.[side] : undefined;
  // {"before", "after"} (the grader's), or [before, after] (its storage)
  let before: unknown = null;
  let after: unknown = null;
  if (Array.isArray(move)) {
    if (move.length === 2) {
      [before, after] = move;
    }
  } else if (move && typeof move === 'object') {
    ({ before, after } = move);
  }
  if (typeof before !== 'number' || typeof after !== 'number') {
    return null;
  }
  return Math.round(after - before);
}

/** "+12", "-8", "±0"; '' when unrated. */
export function ratingChangeText(change: number | null): string {
  if (change === null) {
    return '';
  }
  return change > 0 ? `+${change}` : change < 0 ? `${change}` : '±0';
}

export interface IDuelGroups {
  /** challenges addressed to "you", waiting for an answer */
  incoming: IDuel[];
  /** "your" challenges nobody accepted yet */
  waiting: IDuel[];
  active: IDuel[];
  /** finished, declined, cancelled: newest first */
  history: IDuel[];
}

const newestFirst = (a: IDuel, b: IDuel) =>
  (Date.parse(b.started ?? b.created) || 0) - (Date.parse(a.started ?? a.created) || 0) ||
  b.id - a.id;

/** "Your" duels sorted by what they need. */
export function groupDuels(duels: IDuel[]): IDuelGroups {
  const groups: IDuelGroups = { incoming: [], waiting: [], active: [], history: [] };
  for (const duel of duels) {
    if (duel.status === 'open') {
      (duel.you === 'opponent' ? groups.incoming : groups.waiting).push(duel);
    } else if (duel.status === 'active') {
      groups.active.push(duel);
    } else {
      groups.history.push(duel);
    }
  }
  groups.history.sort(newestFirst);
  return groups;
}

/** Open challenges of others "you" may accept: never one's own, never one already listed. */
export function acceptable(open: IDuel[], mine: IDuel[]): IDuel[] {
  const known = new Set(mine.map(d => d.id));
  return open.filter(d => d.status === 'open' && d.you !== 'challenger' && !known.has(d.id));
}

export type NoticeLevel = 'info' | 'success' | 'warning';

export interface IDuelNotice {
  level: NoticeLevel;
  text: string;
}

/**
 * What a pushed change of a duel is worth telling at once (a notification), given the
 * status "you" knew before (null: never seen): a challenge received, a duel started,
 * won, lost, drawn, a challenge declined. The same status twice (a replay after a
 * reconnection) tells nothing again.
 */
export function duelNotice(previous: string | null, duel: IDuel): IDuelNotice | null {
  if (previous === duel.status) {
    return null;
  }
  const other = otherName(duel) ?? 'your opponent';
  switch (duel.status) {
    case 'open':
      return duel.you === 'opponent' && previous === null
        ? { level: 'info', text: `${capital(other)} challenges you to a duel.` }
        : null;
    case 'active': {
      const question = duel.question?.title ? `: ${duel.question.title}` : '';
      return { level: 'info', text: `Duel started against ${other}${question}.` };
    }
    case 'finished': {
      const change = ratingChangeText(ratingChange(duel));
      const rated = change ? ` (${change})` : '';
      switch (duelOutcome(duel)) {
        case 'won':
          return { level: 'success', text: `You won the duel against ${other}${rated}!` };
        case 'lost':
          return { level: 'warning', text: `You lost the duel against ${other}${rated}.` };
        case 'draw':
          return { level: 'info', text: `The duel against ${other} is a draw${rated}.` };
        default:
          return null;
      }
    }
    case 'declined':
      return duel.you === 'challenger'
        ? { level: 'info', text: `${capital(other)} declined your challenge.` }
        : null;
    default:
      return null;
  }
}

const isDuelist = (value: unknown): value is IDuelist =>
  typeof value === 'object' &&
  value !== null &&
  typeof (value as IDuelist).name === 'string';

/**
 * The duel of a pushed `duel` event, or null for any other event or for data that is
 * not a duel (never trusted further than its shape).
 */
export function duelOfEvent(message: IServerSentEvent): IDuel | null {
  if (message.event !== 'duel') {
    return null;
  }
  let data: unknown;
  try {
    data = JSON.parse(message.data);
  } catch {
    return null;
  }
  const duel = data as IDuel;
  if (
    typeof data !== 'object' ||
    data === null ||
    typeof duel.id !== 'number' ||
    typeof duel.status !== 'string' ||
    !isDuelist(duel.challenger) ||
    (duel.opponent !== null && duel.opponent !== undefined && !isDuelist(duel.opponent))
  ) {
    return null;
  }
  return {
    ...duel,
    opponent: duel.opponent ?? null,
    bot: !!duel.bot,
    you: duel.you ?? null,
    question: duel.question ?? null,
    result: duel.result ?? null,
    ratings: duel.ratings ?? null,
    remaining: typeof duel.remaining === 'number' ? duel.remaining : null
  };
}

/** Time limits a challenge offers, in seconds (the grader's default when none is chosen). */
export const DUEL_TIME_LIMITS = [300, 600, 900, 1800];

/** A learner's name as typed for a challenge: trimmed, a leading "@" dropped; null when empty. */
export function cleanOpponentName(typed: string): string | null {
  const name = typed.trim().replace(/^@/, '');
  return name ? name : null;
}
