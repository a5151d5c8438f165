/**
 * What a graded submission earned, as the results area celebrates it, and the profile's
 * words for ranks and percentiles. Pure, so it is unit-tested.
 */
import { IAchievementInfo, IAwards, ILearnerSettings, TopBucket } from './types';

export interface ICelebration {
  /** "+20 XP", or '' when the grading earned no XP */
  xp: string;
  /** "3-day streak", or '' */
  streak: string;
  achievements: IAchievementInfo[];
}

/** Whether the learner wants celebrations (on unless their settings say false). */
export function celebrationsOn(settings: ILearnerSettings | null | undefined): boolean {
  return settings?.celebrations !== false;
}

/**
 * The celebration for a grading's awards: only when it earned XP or an achievement,
 * and the learner has not turned celebrations off.
 */
export function celebrationOf(
  awards: IAwards | null | undefined,
  settings: ILearnerSettings | null | undefined
): ICelebration | null {
  if (!awards || !celebrationsOn(settings)) {
    return null;
  }
  const xp = Number.isFinite(awards.xp) && awards.xp > 0 ? Math.round(awards.xp) : 0;
  const achievements = Array.isArray(awards.achievements) ? awards.achievements : [];
  if (xp === 0 && achievements.length === 0) {
    return null;
  }
  return {
    xp: xp > 0 ? `+${xp} XP` : '',
    streak: awards.streak > 0 ? `${awards.streak}-day streak` : '',
    achievements
  };
}

/** "top 5%" for the grader's bucket; '' for none. */
export function topText(top: TopBucket | null | undefined): string {
  return top ? `top ${top}%` : '';
}

/**
 * The grader's percentile is the share of the board at or above the learner (1 = the
 * very top), so it reads "top 3%" ("83rd percentile" would say the opposite); '' when
 * unknown (not ranked yet). Small shares keep a decimal: "top 0.4%".
 */
export function percentileText(percentile: number | null | undefined): string {
  if (percentile === null || percentile === undefined || !Number.isFinite(percentile)) {
    return '';
  }
  const p = Math.min(100, Math.max(0, percentile));
  return `top ${p < 1 ? p.toFixed(1) : Math.round(p)}%`;
}

/** What revealing a hint costs, for the learner to decide: "each hint lowers ... by 25%". */
export function hintCostText(xpPenalty: number | null | undefined): string {
  if (!xpPenalty || xpPenalty <= 0) {
    return 'Hints are free for this question.';
  }
  const percent = Math.round(Math.min(1, xpPenalty) * 100);
  return `Each hint you reveal lowers the XP of a later solve by ${percent}%.`;
}
