/**
 * The Profile tab: what others see (name, bio, links, avatar, XP, solved, achievements,
 * the course percentile and "top N%", per-module percentiles), the achievements still
 * to earn, and the private part only the learner sees (email, time zone, anonymity on
 * the leaderboard, celebrations), saved with PATCH profile.
 */
import React, { useEffect, useState } from 'react';

import { CoursehubAPI } from './api';
import { ErrorMessage } from './common';
import { Refresh } from './events';
import { formatNumber } from './format';
import { percentileText, topText } from './awards';
import { LearnerSettings } from './learner';
import {
  avatarProblem,
  browserTimezone,
  IProfileForm,
  profileChanges,
  profileForm,
  suggestedTimezone
} from './profile';
import { IProfile } from './types';
import { useLoad } from './useLoad';

export interface IProfileTabProps {
  api: CoursehubAPI;
  refresh: Refresh;
  live: Refresh | null;
  course: string;
  settings: LearnerSettings;
}

export function ProfileTab({
  api,
  refresh,
  live,
  course,
  settings
}: IProfileTabProps): JSX.Element {
  const loaded = useLoad(
    async () => {
      const [profile, achievements] = await Promise.all([
        api.profile(course),
        api.achievements(course).catch(() => null)
      ]);
      return { profile, achievements };
    },
    refresh,
    [api, course],
    live
  );
  const [editing, setEditing] = useState(false);
  const p = loaded.data?.profile;
  const all = loaded.data?.achievements?.achievements ?? p?.achievements ?? [];
  return (
    <div className="ch-profile" data-testid="ch-profile">
      <ErrorMessage message={loaded.error} />
      {p && <PublicProfile api={api} profile={p} achievements={all} />}
      {p && !editing && (
        <button
          className="ch-button"
          data-testid="ch-profile-edit"
          onClick={() => setEditing(true)}
        >
          Edit profile
        </button>
      )}
      {p && editing && (
        <ProfileEditor
          api={api}
          course={course}
          profile={p}
          settings={settings}
          onDone={saved => {
            setEditing(false);
            if (saved) {
              loaded.reload();
            }
          }}
        />
      )}
    </div>
  );
}

/**
 * The public part of a profile, as anyone signed in sees it: the learner's own (with
 * every achievement, earned then locked) or another learner's from the leaderboard
 * (the achievements they earned).
 */
export function PublicProfile({
  api,
  profile: p,
  achievements: all
}: {
  api: CoursehubAPI;
  profile: IProfile;
  achievements: NonNullable<IProfile['achievements']>;
}): JSX.Element {
  const earned = all.filter(a => a.earned);
  const locked = all.filter(a => !a.earned);
  const avatar = api.avatarUrl(p.avatar);
  // two profiles may show at once (the Profile tab, another learner's from the leaderboard)
  const id = React.useId();
  return (
    <>
      <div className="ch-profile-card">
        {avatar ? (
          <img className="ch-avatar ch-avatar-large" src={avatar} alt="" />
        ) : (
          <span className="ch-avatar ch-avatar-large ch-avatar-initial" aria-hidden="true">
            {(p.display_name || p.name).slice(0, 1).toUpperCase()}
          </span>
        )}
        <div>
          <div className="ch-profile-name">
            {p.display_name && p.display_name !== p.name
              ? `${p.display_name} (${p.name})`
              : p.name}
          </div>
          {p.bio && <p className="ch-profile-bio">{p.bio}</p>}
          <ProfileLinks profile={p} />
        </div>
      </div>
      <dl className="ch-dl">
        <dt>XP</dt>
        <dd data-testid="ch-profile-xp">{formatNumber(p.xp ?? 0)}</dd>
        <dt>Streak</dt>
        <dd>
          {p.streak ?? 0} {p.streak === 1 ? 'day' : 'days'}
          {p.best_streak ? ` (best ${p.best_streak})` : ''}
        </dd>
        <dt>Total score</dt>
        <dd className="ch-profile-score">{formatNumber(p.score)}</dd>
        <dt>Solved</dt>
        <dd className="ch-profile-solved">{p.solved}</dd>
        <dt>Attempted</dt>
        <dd>{p.attempted}</dd>
        <dt>Submissions</dt>
        <dd>{p.submissions}</dd>
        <dt>Rank</dt>
        <dd className="ch-profile-rank">
          {p.rank === null ? 'not ranked yet' : `#${p.rank}`}
          {p.top ? (
            <span className="ch-chip ch-top" data-testid="ch-profile-top">
              {topText(p.top)}
            </span>
          ) : null}
        </dd>
        {percentileText(p.percentile) && (
          <>
            <dt>In the course</dt>
            <dd data-testid="ch-profile-percentile">{percentileText(p.percentile)}</dd>
          </>
        )}
      </dl>
      {(p.modules?.length ?? 0) > 0 && (
        <section aria-labelledby={`${id}-modules`}>
          <h3 id={`${id}-modules`}>Modules</h3>
          <ul className="ch-profile-modules">
            {p.modules!.map(m => (
              <li key={m.id}>
                <span>{m.title}</span>{' '}
                <span className="ch-muted">
                  {m.solved} solved
                  {percentileText(m.percentile) ? ` · ${percentileText(m.percentile)}` : ''}
                </span>
                {m.top ? <span className="ch-chip ch-top">{topText(m.top)}</span> : null}
              </li>
            ))}
          </ul>
        </section>
      )}
      {all.length > 0 && (
        <section aria-labelledby={`${id}-achievements`} data-testid="ch-achievements">
          <h3 id={`${id}-achievements`}>
            Achievements ({earned.length} / {all.length})
          </h3>
          <ul className="ch-achievement-list">
            {[...earned, ...locked].map(a => (
              <li
                key={a.key}
                className={`ch-achievement${a.earned ? ' ch-mod-earned' : ' ch-mod-locked'}`}
                data-testid="ch-achievement-item"
                data-earned={a.earned ? 'true' : 'false'}
                title={a.description}
              >
                <span className="ch-achievement-icon" aria-hidden="true">
                  {a.icon}
                </span>
                <span className="ch-achievement-title">
                  {a.title}
                  {!a.earned && <span className="ch-chip ch-locked">locked</span>}
                </span>
                <span className="ch-muted ch-achievement-description">{a.description}</span>
              </li>
            ))}
          </ul>
        </section>
      )}
    </>
  );
}

/** Another learner's public profile, opened from the leaderboard. */
export function OtherProfile({
  api,
  course,
  name,
  onClose
}: {
  api: CoursehubAPI;
  course: string;
  name: string;
  onClose: () => void;
}): JSX.Element {
  const [profile, setProfile] = useState<IProfile | null>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    let current = true;
    setProfile(null);
    setError(null);
    api.publicProfile(name, course).then(
      p => current && setProfile(p),
      e => current && setError((e as Error).message)
    );
    return () => {
      current = false;
    };
  }, [api, course, name]);
  return (
    <section
      className="ch-profile ch-other-profile"
      data-testid="ch-other-profile"
      aria-label={`Profile of ${name}`}
    >
      <button className="ch-button" data-testid="ch-other-profile-close" onClick={onClose}>
        Back to the leaderboard
      </button>
      <ErrorMessage message={error} />
      {profile ? (
        <PublicProfile api={api} profile={profile} achievements={profile.achievements ?? []} />
      ) : (
        !error && <p className="ch-muted">Loading…</p>
      )}
    </section>
  );
}

function ProfileLinks({ profile }: { profile: IProfile }): JSX.Element | null {
  const links = profile.links ?? {};
  const shown = (
    [
      ['GitHub', links.github],
      ['LinkedIn', links.linkedin],
      ['Website', links.website]
    ] as [string, string | null | undefined][]
  ).filter(([, url]) => !!url && /^https?:\/\//i.test(url as string));
  if (!shown.length) {
    return null;
  }
  return (
    <div className="ch-profile-links">
      {shown.map(([label, url]) => (
        <a key={label} href={url as string} target="_blank" rel="noopener noreferrer">
          {label}
        </a>
      ))}
    </div>
  );
}

function ProfileEditor(props: {
  api: CoursehubAPI;
  course: string;
  profile: IProfile;
  settings: LearnerSettings;
  onDone: (saved: boolean) => void;
}): JSX.Element {
  const { api, course, profile } = props;
  const [before] = useState<IProfileForm>(() => profileForm(profile));
  // the browser's time zone stands in for the default one, to be saved with the rest
  const [suggested] = useState(() => suggestedTimezone(before.timezone, browserTimezone()));
  const [form, setForm] = useState<IProfileForm>(() => ({
    ...before,
    timezone: suggested ?? before.timezone
  }));
  const [error, setError] = useState<string | null>(null);
  const [avatarMessage, setAvatarMessage] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  useEffect(() => setError(null), [form]);

  const text =
    (key: keyof IProfileForm, label: string, type = 'text', placeholder = '') => (
      <label className="ch-field">
        <span>{label}</span>
        <input
          type={type}
          aria-label={label}
          placeholder={placeholder}
          value={form[key] as string}
          onChange={e => setForm(f => ({ ...f, [key]: e.target.value }))}
        />
      </label>
    );

  const save = async () => {
    const changes = profileChanges(before, form);
    if (changes.settings) {
      changes.settings = { ...(profile.private?.settings ?? {}), ...changes.settings };
    }
    if (!Object.keys(changes).length) {
      props.onDone(false);
      return;
    }
    setBusy(true);
    try {
      const saved = await api.updateProfile(course, changes);
      props.settings.set(saved.private?.settings ?? changes.settings ?? {});
      props.onDone(true);
    } catch (e) {
      setError((e as Error).message);
    } finally {
      setBusy(false);
    }
  };

  const upload = async (file: File | undefined) => {
    if (!file) {
      return;
    }
    const problem = avatarProblem(file);
    if (problem) {
      setAvatarMessage(problem);
      return;
    }
    setAvatarMessage('Uploading…');
    try {
      await api.uploadAvatar(file);
      setAvatarMessage('Avatar saved.');
    } catch (e) {
      setAvatarMessage((e as Error).message); // the grader's own words
    }
  };

  return (
    <form
      className="ch-profile-form"
      data-testid="ch-profile-form"
      onSubmit={e => {
        e.preventDefault();
        void save();
      }}
    >
      <fieldset>
        <legend>Public</legend>
        {text('display_name', 'Display name')}
        <label className="ch-field">
          <span>Bio</span>
          <textarea
            aria-label="Bio"
            rows={3}
            value={form.bio}
            onChange={e => setForm(f => ({ ...f, bio: e.target.value }))}
          />
        </label>
        {text('github', 'GitHub', 'url', 'https://github.com/…')}
        {text('linkedin', 'LinkedIn', 'url', 'https://linkedin.com/in/…')}
        {text('website', 'Website', 'url', 'https://…')}
        <label className="ch-field">
          <span>Avatar (PNG, JPEG or WebP, up to 2 MiB)</span>
          <input
            type="file"
            aria-label="Avatar"
            accept="image/png,image/jpeg,image/webp"
            onChange={e => void upload(e.target.files?.[0])}
          />
        </label>
        {avatarMessage && (
          <p className="ch-muted" role="status" data-testid="ch-avatar-message">
            {avatarMessage}
          </p>
        )}
      </fieldset>
      <fieldset>
        <legend>Private (only you see this)</legend>
        {text('email', 'Email', 'email')}
        {text('timezone', 'Time zone')}
        {suggested && form.timezone === suggested && (
          <p className="ch-muted" data-testid="ch-timezone-suggested">
            Suggested by your browser (was {before.timezone || 'UTC'}); saved with the rest.
          </p>
        )}
        <label className="ch-check">
          <input
            type="checkbox"
            checked={form.anonymous}
            onChange={e => setForm(f => ({ ...f, anonymous: e.target.checked }))}
          />
          Appear as “anonymous learner” on the leaderboard
        </label>
        <label className="ch-check">
          <input
            type="checkbox"
            checked={form.celebrations}
            onChange={e => setForm(f => ({ ...f, celebrations: e.target.checked }))}
          />
          Celebrate solves and achievements
        </label>
      </fieldset>
      <ErrorMessage message={error} />
      <div className="ch-form-buttons">
        <button type="submit" className="ch-button ch-mod-primary" disabled={busy}>
          Save
        </button>
        <button type="button" className="ch-button" onClick={() => props.onDone(false)}>
          Cancel
        </button>
      </div>
    </form>
  );
}
