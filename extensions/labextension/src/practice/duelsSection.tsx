/**
 * Duels in the Practice sidebar: challenge a learner by name, post an open challenge,
 * or play the bot; answer the challenges received; accept others' open challenges;
 * the active duels (the question, the countdown, the live status); the history with
 * results and rating changes; the ratings board. Pushed duels (the grader's events)
 * reload it at once: a start, a win, a loss or a draw shows without a reload.
 */
import React, { useCallback, useEffect, useState } from 'react';

import { ErrorMessage } from '../common';
import { formatNumber } from '../format';
import { agoText } from '../profile';
import { useLoad } from '../useLoad';
import { useNow } from '../useNow';
import {
  ActionButton,
  ISectionProps,
  TypeChip,
  useAction,
  useReloadAt,
  useTimed
} from './common';
import {
  acceptable,
  cleanOpponentName,
  DUEL_TIME_LIMITS,
  duelOutcome,
  duelProgressText,
  duelStatusText,
  groupDuels,
  ratingChange,
  ratingChangeText
} from './duels';
import { localDeadline, timeLeftText, timeLimitText } from './format';
import { IDuel, IRatings } from './types';

export function DuelsSection(props: ISectionProps): JSX.Element {
  const { api, refresh, live, course, feed } = props;
  const loaded = useLoad(
    async () => ({ ...(await api.duels(course)), received: Date.now() }),
    refresh,
    [api, course],
    live
  );
  const ratings = useLoad(() => api.ratings(course), refresh, [api, course], live);
  const reload = loaded.reload;
  const reloadRatings = ratings.reload;

  // a pushed change of a duel of this course: reload (the ratings too once one ends)
  useEffect(
    () =>
      feed.connect(duel => {
        if (duel.course === course) {
          reload();
          if (duel.status === 'finished') {
            reloadRatings();
          }
        }
      }),
    [feed, course, reload, reloadRatings]
  );
  const data = loaded.data;
  useEffect(() => {
    if (data) {
      feed.seen([...data.duels, ...data.open]);
    }
  }, [data, feed]);

  const groups = data ? groupDuels(data.duels) : null;
  const others = data ? acceptable(data.open, data.duels) : [];
  const changed = useCallback(() => {
    reload();
    reloadRatings();
  }, [reload, reloadRatings]);
  return (
    <div className="ch-practice-duels" data-testid="coursehub-practice-duels">
      <ChallengeForm {...props} onCreated={changed} />
      <ErrorMessage message={loaded.error} testid="coursehub-practice-error" />
      {!data && !loaded.error && <p className="ch-muted">Loading…</p>}
      {groups && (
        <>
          {groups.active.length > 0 && (
            <DuelList title="Active" testid="coursehub-practice-duels-active">
              {groups.active.map(duel => (
                <ActiveDuel
                  key={duel.id}
                  {...props}
                  duel={duel}
                  received={data!.received}
                  reload={changed}
                />
              ))}
            </DuelList>
          )}
          {groups.incoming.length > 0 && (
            <DuelList title="Challenges for you" testid="coursehub-practice-duels-incoming">
              {groups.incoming.map(duel => (
                <DuelRow key={duel.id} duel={duel}>
                  <ActionButton
                    label="Accept"
                    primary
                    testid="coursehub-practice-duel-accept"
                    action={async () => {
                      await api.duelAction(duel.id, 'accept');
                      changed();
                    }}
                  />
                  <ActionButton
                    label="Decline"
                    testid="coursehub-practice-duel-decline"
                    action={async () => {
                      await api.duelAction(duel.id, 'decline');
                      changed();
                    }}
                  />
                </DuelRow>
              ))}
            </DuelList>
          )}
          {groups.waiting.length > 0 && (
            <DuelList title="Your challenges" testid="coursehub-practice-duels-waiting">
              {groups.waiting.map(duel => (
                <DuelRow key={duel.id} duel={duel}>
                  <ActionButton
                    label="Cancel"
                    testid="coursehub-practice-duel-cancel"
                    action={async () => {
                      await api.duelAction(duel.id, 'cancel');
                      changed();
                    }}
                  />
                </DuelRow>
              ))}
            </DuelList>
          )}
          <DuelList title="Open challenges" testid="coursehub-practice-duels-open">
            {others.map(duel => (
              <DuelRow key={duel.id} duel={duel}>
                <ActionButton
                  label="Accept"
                  primary
                  testid="coursehub-practice-duel-accept"
                  action={async () => {
                    await api.duelAction(duel.id, 'accept');
                    changed();
                  }}
                />
              </DuelRow>
            ))}
          </DuelList>
          {others.length === 0 && (
            <p className="ch-muted" data-testid="coursehub-practice-duels-open-empty">
              Nobody is looking for an opponent right now.
            </p>
          )}
          <History duels={groups.history} />
        </>
      )}
      <RatingsBoard data={ratings.data} error={ratings.error} />
    </div>
  );
}

function DuelList(props: {
  title: string;
  testid: string;
  children: React.ReactNode;
}): JSX.Element {
  return (
    <div className="ch-practice-group" data-testid={props.testid}>
      <h3>{props.title}</h3>
      <ul className="ch-practice-list">{props.children}</ul>
    </div>
  );
}

/** A duel waiting for an answer: who, the time limit, the buttons. */
function DuelRow(props: { duel: IDuel; children: React.ReactNode }): JSX.Element {
  const { duel } = props;
  return (
    <li
      className="ch-practice-item ch-practice-duel"
      data-testid="coursehub-practice-duel"
      data-duel-id={String(duel.id)}
      data-status={duel.status}
    >
      <div className="ch-practice-item-head">
        <span className="ch-practice-item-title" data-testid="coursehub-practice-duel-status">
          {duelStatusText(duel)}
        </span>
      </div>
      <div className="ch-practice-duel-foot">
        <span className="ch-muted">{timeLimitText(duel.time_limit)}</span>
        {props.children}
      </div>
    </li>
  );
}

function ActiveDuel(
  props: ISectionProps & { duel: IDuel; received: number; reload: () => void }
): JSX.Element {
  const { duel, api } = props;
  const deadline = localDeadline(duel.remaining, duel.deadline, props.received);
  const now = useNow(deadline !== null);
  // the grader settles an expired duel on read: ask again once the time is up
  useReloadAt(deadline, props.reload);
  const q = duel.question;
  // a duel is a race: leaving the tab counts while it is on, where the course records it
  useTimed('duel', q ? [q.id] : [], deadline ?? Number.POSITIVE_INFINITY);
  return (
    <li
      className="ch-practice-item ch-practice-duel ch-mod-active"
      data-testid="coursehub-practice-duel"
      data-duel-id={String(duel.id)}
      data-status={duel.status}
    >
      <div className="ch-practice-item-head">
        <span
          className="ch-practice-item-title"
          data-testid="coursehub-practice-duel-status"
          aria-live="polite"
        >
          {duelStatusText(duel)}
        </span>
      </div>
      {q && (
        <div className="ch-practice-duel-question" data-question-id={String(q.id)}>
          <span className="ch-practice-item-title" data-testid="coursehub-practice-duel-question">
            {q.title}
          </span>
          <TypeChip type={q.type} />
          {q.difficulty && <span className="ch-chip ch-difficulty">{q.difficulty}</span>}
          <ActionButton
            label="Open"
            primary
            testid="coursehub-practice-duel-open"
            ariaLabel={`Open ${q.title}`}
            // both start from the student version: a fresh copy, once per duel
            action={() => props.openFresh(`duel:${duel.id}`, q.id)}
          />
        </div>
      )}
      {duelProgressText(duel) && (
        <div
          className="ch-muted ch-practice-duel-progress"
          data-testid="coursehub-practice-duel-progress"
          aria-live="polite"
        >
          {duelProgressText(duel)}
        </div>
      )}
      <div className="ch-practice-duel-foot">
        {deadline !== null && (
          <span className="ch-practice-countdown" role="timer">
            time left{' '}
            <span data-testid="coursehub-practice-duel-remaining" data-deadline={String(deadline)}>
              {timeLeftText(deadline, now)}
            </span>
          </span>
        )}
        <ActionButton
          label="Resign"
          warn
          testid="coursehub-practice-duel-resign"
          action={async () => {
            await api.duelAction(duel.id, 'resign');
            props.reload();
          }}
        />
      </div>
    </li>
  );
}

/** Finished, declined and cancelled duels, newest first, with results and rating changes. */
function History(props: { duels: IDuel[] }): JSX.Element {
  const now = Date.now();
  return (
    <div className="ch-practice-group" data-testid="coursehub-practice-duels-history">
      <h3>History</h3>
      {props.duels.length === 0 ? (
        <p className="ch-muted">No duel played yet.</p>
      ) : (
        <ul className="ch-practice-list">
          {props.duels.map(duel => {
            const outcome = duelOutcome(duel);
            const change = ratingChangeText(ratingChange(duel));
            return (
              <li
                key={duel.id}
                className={`ch-practice-history-row${outcome ? ` ch-mod-${outcome}` : ''}`}
                data-testid="coursehub-practice-duel-history"
                data-duel-id={String(duel.id)}
                data-status={duel.status}
                data-outcome={outcome ?? ''}
              >
                <span className="ch-practice-outcome" data-testid="coursehub-practice-duel-result">
                  {duelStatusText(duel)}
                </span>
                {change && (
                  <span
                    className="ch-practice-rating-change"
                    data-testid="coursehub-practice-duel-rating-change"
                  >
                    {change}
                  </span>
                )}
                <span className="ch-muted">
                  {duel.question?.title ? `${duel.question.title} · ` : ''}
                  {agoText(duel.started ?? duel.created, now)}
                </span>
              </li>
            );
          })}
        </ul>
      )}
    </div>
  );
}

function RatingsBoard(props: {
  data: IRatings | null;
  error: string | null;
}): JSX.Element {
  return (
    <div className="ch-practice-group" data-testid="coursehub-practice-ratings">
      <h3>Ratings</h3>
      <ErrorMessage message={props.error} testid="coursehub-practice-error" />
      {props.data && props.data.entries.length === 0 && (
        <p className="ch-muted">Nobody is rated yet: the first finished duel starts the board.</p>
      )}
      {props.data && props.data.entries.length > 0 && (
        <table className="ch-table ch-practice-ratings">
          <thead>
            <tr>
              <th scope="col">Rank</th>
              <th scope="col">Learner</th>
              <th scope="col">Rating</th>
              <th scope="col" title="wins / losses / draws">
                W/L/D
              </th>
            </tr>
          </thead>
          <tbody>
            {props.data.entries.map(e => (
              <tr
                key={`${e.rank}-${e.user ?? ''}`}
                className={e.you ? 'ch-mod-self' : undefined}
                data-testid="coursehub-practice-rating-row"
                data-user={e.user ?? ''}
                data-self={e.you ? 'true' : 'false'}
                aria-current={e.you ? 'true' : undefined}
              >
                <td className="ch-rank">{e.rank}</td>
                <td className={`ch-user${e.user === null ? ' ch-anonymous' : ''}`}>
                  {e.display_name || e.user || 'anonymous'}
                  {e.user && e.display_name && e.display_name !== e.user && (
                    <span className="ch-muted"> @{e.user}</span>
                  )}
                  {e.you && <span className="ch-you"> (you)</span>}
                </td>
                <td className="ch-score">{formatNumber(Math.round(e.rating))}</td>
                <td className="ch-solved-count">
                  {e.wins}/{e.losses}/{e.draws}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </div>
  );
}

/** Challenge a learner by name, post an open challenge, or play the bot. */
function ChallengeForm(props: ISectionProps & { onCreated: () => void }): JSX.Element {
  const { api, course } = props;
  const [opponent, setOpponent] = useState('');
  const [limit, setLimit] = useState('');
  const { busy, error, run } = useAction();
  const timeLimit = limit ? { time_limit: Number(limit) } : {};
  const create = (request: { opponent?: string; bot?: boolean }) =>
    run(async () => {
      await api.createDuel({ course, ...request, ...timeLimit });
      setOpponent('');
      props.onCreated();
    });
  const name = cleanOpponentName(opponent);
  return (
    <form
      className="ch-practice-form ch-practice-challenge"
      data-testid="coursehub-practice-challenge"
      onSubmit={e => {
        e.preventDefault();
        if (name) {
          void create({ opponent: name });
        }
      }}
    >
      <div className="ch-practice-challenge-row">
        <input
          type="text"
          aria-label="Learner to challenge (user name)"
          placeholder="user name"
          data-testid="coursehub-practice-challenge-name"
          value={opponent}
          onChange={e => setOpponent(e.target.value)}
        />
        <button
          type="submit"
          className="ch-button ch-mod-primary"
          data-testid="coursehub-practice-challenge-send"
          disabled={busy || !name}
        >
          Challenge
        </button>
      </div>
      <div className="ch-practice-challenge-row">
        <select
          aria-label="Time limit"
          data-testid="coursehub-practice-challenge-limit"
          value={limit}
          onChange={e => setLimit(e.target.value)}
        >
          <option value="">default time</option>
          {DUEL_TIME_LIMITS.map(s => (
            <option key={s} value={String(s)}>
              {timeLimitText(s)}
            </option>
          ))}
        </select>
        <button
          type="button"
          className="ch-button"
          data-testid="coursehub-practice-challenge-open"
          title="Anyone in the course may accept it"
          disabled={busy}
          onClick={() => void create({})}
        >
          Open challenge
        </button>
        <button
          type="button"
          className="ch-button"
          data-testid="coursehub-practice-challenge-bot"
          title="A duel against the bot starts at once"
          disabled={busy}
          onClick={() => void create({ bot: true })}
        >
          Play the bot
        </button>
      </div>
      <ErrorMessage message={error} testid="coursehub-practice-error" />
    </form>
  );
}
