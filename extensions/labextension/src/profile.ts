/**
 * Pure helpers of the Profile tab and the leaderboard: the avatar file check, the time
 * zone suggestion, what changed in the form, how a learner is named. Unit-tested.
 */
import { ILeaderboardEntry, IProfile, IProfileUpdate } from './types';

export const AVATAR_TYPES = ['image/png', 'image/jpeg', 'image/webp'];
export const MAX_AVATAR_BYTES = 2 * 1024 * 1024;

/** Why a chosen file cannot be an avatar, or null (the grader checks it again). */
export function avatarProblem(file: { type: string; size: number }): string | null {
  if (!AVATAR_TYPES.includes(file.type)) {
    return 'Choose a PNG, JPEG or WebP image.';
  }
  if (file.size > MAX_AVATAR_BYTES) {
    return 'The image is larger than 2 MiB: choose a smaller one.';
  }
  if (file.size === 0) {
    return 'The file is empty.';
  }
  return null;
}

/**
 * The time zone to suggest: the browser's when the profile still has the default
 * ("UTC" or none) and the browser says otherwise; null when there is nothing to suggest.
 */
export function suggestedTimezone(
  current: string | null | undefined,
  browser: string | null | undefined
): string | null {
  if (!browser || browser === current) {
    return null;
  }
  return !current || current === 'UTC' ? browser : null;
}

/** The browser's IANA time zone, or null when it does not say. */
export function browserTimezone(): string | null {
  try {
    return Intl.DateTimeFormat().resolvedOptions().timeZone || null;
  } catch {
    return null;
  }
}

export interface IProfileForm {
  display_name: string;
  bio: string;
  github: string;
  linkedin: string;
  website: string;
  email: string;
  timezone: string;
  anonymous: boolean;
  celebrations: boolean;
}

/** The form's starting values from the learner's own profile. */
export function profileForm(p: IProfile): IProfileForm {
  const priv = p.private;
  return {
    display_name: p.display_name ?? '',
    bio: p.bio ?? '',
    github: p.links?.github ?? '',
    linkedin: p.links?.linkedin ?? '',
    website: p.links?.website ?? '',
    email: priv?.email ?? '',
    timezone: priv?.timezone ?? 'UTC',
    anonymous: priv?.anonymous ?? false,
    celebrations: priv?.settings?.celebrations !== false
  };
}

/** The PATCH body: only what the learner changed ({} when nothing). */
export function profileChanges(before: IProfileForm, after: IProfileForm): IProfileUpdate {
  const changes: IProfileUpdate = {};
  if (after.display_name.trim() !== before.display_name) {
    changes.display_name = after.display_name.trim();
  }
  if (after.bio !== before.bio) {
    changes.bio = after.bio;
  }
  const links = ['github', 'linkedin', 'website'] as const;
  if (links.some(k => after[k].trim() !== before[k])) {
    changes.links = Object.fromEntries(links.map(k => [k, after[k].trim() || null]));
  }
  if (after.email.trim() !== before.email) {
    changes.email = after.email.trim() || null;
  }
  if (after.timezone.trim() !== before.timezone) {
    changes.timezone = after.timezone.trim();
  }
  if (after.anonymous !== before.anonymous) {
    changes.anonymous = after.anonymous;
  }
  if (after.celebrations !== before.celebrations) {
    changes.settings = { celebrations: after.celebrations };
  }
  return changes;
}

/** How a leaderboard entry names its learner. */
export function entryName(entry: ILeaderboardEntry): string {
  if (entry.user === null || (entry.anonymous && !entry.you && !entry.user)) {
    return entry.display_name || 'anonymous learner';
  }
  return entry.display_name || entry.user;
}

/** "3 min ago", "just now", "2 h ago", "5 days ago": when a submission was made. */
export function agoText(iso: string | null | undefined, now: number): string {
  const t = iso ? Date.parse(iso) : NaN;
  if (!Number.isFinite(t)) {
    return '';
  }
  const s = Math.max(0, Math.round((now - t) / 1000));
  if (s < 45) {
    return 'just now';
  }
  if (s < 3600) {
    return `${Math.max(1, Math.round(s / 60))} min ago`;
  }
  if (s < 86400) {
    return `${Math.round(s / 3600)} h ago`;
  }
  const days = Math.round(s / 86400);
  return days === 1 ? 'yesterday' : `${days} days ago`;
}
