/**
 * The coursehub sidebar: Questions, Progress, Leaderboard and Profile tabs.
 */
import { LabIcon, ReactWidget } from '@jupyterlab/ui-components';
import React, { useState } from 'react';

import { CoursehubAPI } from './api';
import { Refresh } from './events';
import {
  bestScoreText,
  clampPercent,
  filterQuestions,
  formatNumber,
  formatPercent,
  formatScore,
  groupByModule,
  IFilterState,
  NO_FILTERS,
  PAGE_SIZE,
  pageInfo,
  pageRequest,
  pointsText
} from './format';
import { IQuestion } from './types';
import { useLoad } from './useLoad';

const ICON_SVG = `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 24 24" width="16">
<path class="jp-icon3" fill="#616161" d="M12 3 1 9l11 6 9-4.91V17h2V9L12 3zM5 13.18v4L12 21l7-3.82v-4L12 17l-7-3.82z"/>
</svg>`;

export const coursehubIcon = new LabIcon({ name: 'coursehub:icon', svgstr: ICON_SVG });

export interface IPanelOptions {
  api: CoursehubAPI;
  refresh: Refresh;
  /** Open a question's notebook (POST open, then docmanager:open). */
  openQuestion: (question: IQuestion) => Promise<void>;
}

const TABS = ['Questions', 'Progress', 'Leaderboard', 'Profile'] as const;
type Tab = (typeof TABS)[number];

export class CoursehubPanel extends ReactWidget {
  constructor(private options: IPanelOptions) {
    super();
    this.id = 'coursehub-panel';
    this.addClass('ch-Panel');
    this.title.icon = coursehubIcon;
    this.title.caption = 'coursehub';
  }

  render(): JSX.Element {
    return <PanelView {...this.options} />;
  }
}

function ErrorMessage({ message }: { message: string | null }): JSX.Element | null {
  return message ? (
    <div className="ch-error" role="alert">
      {message}
    </div>
  ) : null;
}

function PanelView(props: IPanelOptions): JSX.Element {
  const [tab, setTab] = useState<Tab>('Questions');
  const refs = React.useRef<(HTMLButtonElement | null)[]>([]);

  // arrow keys move between tabs (WAI-ARIA tabs pattern, automatic activation)
  const onKeyDown = (event: React.KeyboardEvent, index: number) => {
    let next = index;
    if (event.key === 'ArrowRight') {
      next = (index + 1) % TABS.length;
    } else if (event.key === 'ArrowLeft') {
      next = (index + TABS.length - 1) % TABS.length;
    } else if (event.key === 'Home') {
      next = 0;
    } else if (event.key === 'End') {
      next = TABS.length - 1;
    } else {
      return;
    }
    event.preventDefault();
    setTab(TABS[next]);
    refs.current[next]?.focus();
  };

  return (
    <div className="ch-PanelView">
      <div className="ch-tabs" role="tablist" aria-label="coursehub">
        {TABS.map((name, i) => (
          <button
            key={name}
            ref={el => (refs.current[i] = el)}
            id={`ch-tab-${name}`}
            className={`ch-tab${tab === name ? ' ch-mod-active' : ''}`}
            role="tab"
            aria-selected={tab === name}
            aria-controls={`ch-tabpanel-${name}`}
            tabIndex={tab === name ? 0 : -1}
            onClick={() => setTab(name)}
            onKeyDown={e => onKeyDown(e, i)}
          >
            {name}
          </button>
        ))}
      </div>
      {/* every tab stays mounted (hidden when not selected) so filters, the chosen
          leaderboard module and the page survive switching tabs */}
      {TABS.map(name => (
        <div
          key={name}
          className="ch-tabpanel"
          role="tabpanel"
          id={`ch-tabpanel-${name}`}
          aria-labelledby={`ch-tab-${name}`}
          hidden={tab !== name}
        >
          {name === 'Questions' && <QuestionsTab {...props} />}
          {name === 'Progress' && <ProgressTab {...props} />}
          {name === 'Leaderboard' && <LeaderboardTab {...props} />}
          {name === 'Profile' && <ProfileTab {...props} />}
        </div>
      ))}
    </div>
  );
}

function FilterSelect(props: {
  label: string;
  value: string;
  options: { value: string; label: string }[];
  onChange: (value: string) => void;
}): JSX.Element {
  return (
    <label className="ch-filter">
      <span className="ch-filter-label">{props.label}</span>
      <select
        aria-label={props.label}
        value={props.value}
        onChange={e => props.onChange(e.target.value)}
      >
        <option value="">All</option>
        {props.options.map(o => (
          <option key={o.value} value={o.value}>
            {o.label}
          </option>
        ))}
      </select>
    </label>
  );
}

const plain = (values: string[] | undefined) => (values || []).map(v => ({ value: v, label: v }));

function QuestionsTab({ api, refresh, openQuestion }: IPanelOptions): JSX.Element {
  const [filters, setFilters] = useState<IFilterState>(NO_FILTERS);
  const loaded = useLoad(
    async () => {
      const [modules, questions, filters] = await Promise.all([
        api.modules(),
        api.questions(),
        api.filters()
      ]);
      return { modules, questions, filters };
    },
    refresh,
    [api]
  );
  const set = (key: keyof IFilterState) => (value: string) =>
    setFilters(f => ({ ...f, [key]: value }));

  const data = loaded.data;
  const sections = data ? groupByModule(data.modules, filterQuestions(data.questions, filters)) : [];
  return (
    <div className="ch-questions">
      <div className="ch-filters">
        <FilterSelect
          label="Module"
          value={filters.module}
          options={(data?.modules || []).map(m => ({ value: m.slug, label: m.title }))}
          onChange={set('module')}
        />
        <FilterSelect
          label="Category"
          value={filters.category}
          options={plain(data?.filters.categories)}
          onChange={set('category')}
        />
        <FilterSelect
          label="Difficulty"
          value={filters.difficulty}
          options={plain(data?.filters.difficulties)}
          onChange={set('difficulty')}
        />
        <FilterSelect
          label="Tag"
          value={filters.tag}
          options={plain(data?.filters.tags)}
          onChange={set('tag')}
        />
        <input
          type="search"
          className="ch-search"
          aria-label="Search questions"
          placeholder="Search questions"
          value={filters.search}
          onChange={e => set('search')(e.target.value)}
        />
      </div>
      <ErrorMessage message={loaded.error} />
      {loaded.loading && !data && <p className="ch-muted">Loading…</p>}
      {data && sections.length === 0 && <p className="ch-muted">No question matches.</p>}
      {sections.map(section => (
        <section
          key={section.module.id}
          className="ch-module"
          data-testid="ch-module"
          aria-labelledby={`ch-module-${section.module.id}`}
        >
          <h3 id={`ch-module-${section.module.id}`}>{section.module.title}</h3>
          <ul className="ch-question-list">
            {section.questions.map(q => (
              <QuestionRow key={q.id} question={q} openQuestion={openQuestion} />
            ))}
          </ul>
        </section>
      ))}
    </div>
  );
}

function QuestionRow(props: {
  question: IQuestion;
  openQuestion: (q: IQuestion) => Promise<void>;
}): JSX.Element {
  const q = props.question;
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const open = async () => {
    setBusy(true);
    setError(null);
    try {
      await props.openQuestion(q);
    } catch (e) {
      setError((e as Error).message);
    } finally {
      setBusy(false);
    }
  };
  return (
    <li
      className={`ch-question${q.solved ? ' ch-mod-solved' : ''}`}
      data-testid="ch-question"
      data-question-id={String(q.id)}
      data-solved={q.solved ? 'true' : 'false'}
    >
      <div className="ch-question-head">
        <span className="ch-question-title">{q.title}</span>
        {q.solved && (
          <span className="ch-solved" role="img" aria-label="solved" title="solved">
            ✓
          </span>
        )}
        <button
          className="ch-button ch-open"
          aria-label={`Open ${q.title}`}
          disabled={busy}
          onClick={open}
        >
          Open
        </button>
      </div>
      <div className="ch-question-meta">
        {q.difficulty && <span className="ch-chip ch-difficulty">{q.difficulty}</span>}
        {q.category && <span className="ch-chip ch-category">{q.category}</span>}
        {(q.tags || []).map(t => (
          <span key={t} className="ch-chip ch-tag">
            #{t}
          </span>
        ))}
      </div>
      <div className="ch-question-score">
        <span className="ch-points">{pointsText(q.points)}</span>
        {' · '}
        <span className="ch-best">{bestScoreText(q)}</span>
      </div>
      <ErrorMessage message={error} />
    </li>
  );
}

function ProgressTab({ api, refresh }: IPanelOptions): JSX.Element {
  const loaded = useLoad(() => api.progress(), refresh, [api]);
  return (
    <div className="ch-progress" data-testid="ch-progress">
      <ErrorMessage message={loaded.error} />
      {loaded.data?.modules.length === 0 && <p className="ch-muted">No module yet.</p>}
      {loaded.data?.modules.map(m => (
        <div key={m.module} className="ch-progress-row" data-testid="ch-progress-row">
          <div className="ch-progress-head">
            <span className="ch-progress-title">{m.title}</span>
            <span className="ch-progress-solved">
              {m.solved} / {m.total} solved
            </span>
          </div>
          <div
            className="ch-progressbar"
            role="progressbar"
            aria-label={`${m.title} progress`}
            aria-valuemin={0}
            aria-valuemax={100}
            aria-valuenow={clampPercent(m.percent)}
            aria-valuetext={formatPercent(m.percent)}
          >
            <div className="ch-progressbar-fill" style={{ width: `${clampPercent(m.percent)}%` }} />
          </div>
          <div className="ch-progress-score">
            score {formatScore(m.score, m.max_score)} ({formatPercent(m.percent)})
          </div>
        </div>
      ))}
    </div>
  );
}

function LeaderboardTab({ api, refresh }: IPanelOptions): JSX.Element {
  const [module, setModule] = useState('');
  const [page, setPage] = useState(0);
  const modules = useLoad(() => api.modules(), refresh, [api]);
  const me = useLoad(() => api.profile(), refresh, [api]);
  const board = useLoad(
    () => {
      const { offset, limit } = pageRequest(page, PAGE_SIZE);
      return api.leaderboard(module, offset, limit);
    },
    refresh,
    [api, module, page]
  );
  const data = board.data;
  const info = data ? pageInfo(data.offset, data.entries.length, data.total) : null;
  const self = me.data?.name;
  return (
    <div className="ch-leaderboard" data-testid="ch-leaderboard">
      <label className="ch-filter">
        <span className="ch-filter-label">Module</span>
        <select
          aria-label="Leaderboard module"
          value={module}
          onChange={e => {
            setModule(e.target.value);
            setPage(0);
          }}
        >
          <option value="">All modules</option>
          {(modules.data || []).map(m => (
            <option key={m.id} value={m.slug}>
              {m.title}
            </option>
          ))}
        </select>
      </label>
      <ErrorMessage message={board.error} />
      <table className="ch-table">
        <thead>
          <tr>
            <th scope="col">Rank</th>
            <th scope="col">User</th>
            <th scope="col">Score</th>
            <th scope="col">Solved</th>
          </tr>
        </thead>
        <tbody>
          {data?.entries.map(e => {
            const mine = self !== undefined && e.user === self;
            return (
              <tr
                key={e.user}
                className={mine ? 'ch-mod-self' : undefined}
                data-testid="ch-leaderboard-row"
                data-self={mine ? 'true' : 'false'}
                aria-current={mine ? 'true' : undefined}
              >
                <td className="ch-rank">{e.rank}</td>
                <td className="ch-user">
                  {e.user}
                  {mine && <span className="ch-you"> (you)</span>}
                </td>
                <td className="ch-score">{formatNumber(e.score)}</td>
                <td className="ch-solved-count">{e.solved}</td>
              </tr>
            );
          })}
        </tbody>
      </table>
      {data && data.entries.length === 0 && <p className="ch-muted">No score yet.</p>}
      <div className="ch-pager">
        <button
          className="ch-button"
          disabled={!info?.hasPrevious}
          onClick={() => setPage(p => Math.max(0, p - 1))}
        >
          Previous
        </button>
        <span className="ch-muted" aria-live="polite">
          {info?.label}
        </span>
        <button
          className="ch-button"
          disabled={!info?.hasNext}
          onClick={() => setPage(p => p + 1)}
        >
          Next
        </button>
      </div>
    </div>
  );
}

function ProfileTab({ api, refresh }: IPanelOptions): JSX.Element {
  const loaded = useLoad(
    async () => {
      const [profile, questions] = await Promise.all([api.profile(), api.questions()]);
      return { profile, solved: questions.filter(q => q.solved) };
    },
    refresh,
    [api]
  );
  const p = loaded.data?.profile;
  const solved = loaded.data?.solved || [];
  return (
    <div className="ch-profile" data-testid="ch-profile">
      <ErrorMessage message={loaded.error} />
      {p && (
        <dl className="ch-dl">
          <dt>Name</dt>
          <dd className="ch-profile-name">
            {p.display_name && p.display_name !== p.name
              ? `${p.display_name} (${p.name})`
              : p.name}
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
          <dd className="ch-profile-rank">{p.rank === null ? 'not ranked yet' : `#${p.rank}`}</dd>
        </dl>
      )}
      {p && (
        <section className="ch-solved-list" aria-labelledby="ch-solved-heading">
          <h3 id="ch-solved-heading">Solved questions</h3>
          {solved.length === 0 ? (
            <p className="ch-muted">None yet.</p>
          ) : (
            <ul>
              {solved.map(q => (
                <li key={q.id}>
                  {q.title} <span className="ch-muted">({q.module_slug})</span>
                </li>
              ))}
            </ul>
          )}
        </section>
      )}
    </div>
  );
}
