/**
 * The coursehub sidebar: the chosen course, and its Questions, Progress, Leaderboard
 * and Profile tabs; Courses (joining); Instructor for a course the user teaches.
 */
import { INotebookTracker } from '@jupyterlab/notebook';
import { LabIcon } from '@jupyterlab/ui-components';
import React, { useState } from 'react';

import { CoursehubAPI } from './api';
import { ErrorMessage } from './common';
import { chooseCourse, COURSE_STORAGE_KEY, panelTabs, Tab, withJoined } from './courses';
import { CourseBar, CoursesTab } from './coursesTab';
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
  descriptionSnippet,
  languageText,
  pointsText,
  questionChips,
  typeText
} from './format';
import { InstructorTab } from './instructorTab';
import { LearnerSettings } from './learner';
import { LiveWidget } from './live';
import { entryName } from './profile';
import { OtherProfile, ProfileTab } from './profileTab';
import {
  countdownText,
  dueText,
  latePolicyText,
  parseTime,
  submissionsText,
  submitBlock
} from './rules';
import { ICourse, IQuestion } from './types';
import { useLoad } from './useLoad';
import { useNow } from './useNow';

const ICON_SVG = `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 24 24" width="16">
<path class="jp-icon3" fill="#616161" d="M12 3 1 9l11 6 9-4.91V17h2V9L12 3zM5 13.18v4L12 21l7-3.82v-4L12 17l-7-3.82z"/>
</svg>`;

export const coursehubIcon = new LabIcon({ name: 'coursehub:icon', svgstr: ICON_SVG });

export interface IPanelOptions {
  api: CoursehubAPI;
  refresh: Refresh;
  /** Open a question's notebook (POST open, then docmanager:open). */
  openQuestion: (question: IQuestion) => Promise<void>;
  /** The open notebooks: the Instructor tab authors the current one. */
  tracker: INotebookTracker;
  /** Open a file of the server in JupyterLab (docmanager:open). */
  openPath: (path: string) => Promise<void>;
  /** Reveal nbgrader's Create Assignment sidebar; false when it is not there. */
  showCreateAssignment: () => boolean;
  /** The learner's settings (celebrations), shared with the results areas. */
  settings: LearnerSettings;
  /** Open the course page. */
  showHome: () => void;
}

/** The tabs' props: the panel's, the chosen course's slug, the live refresh when shown. */
interface ITabProps extends IPanelOptions {
  course: string;
  live: Refresh | null;
}

/** The course chosen in the panel last time, if any. */
export function storedCourse(): string | null {
  try {
    return window.localStorage.getItem(COURSE_STORAGE_KEY);
  } catch {
    return null; // storage disabled: start with the first course
  }
}

function storeCourse(slug: string): void {
  try {
    window.localStorage.setItem(COURSE_STORAGE_KEY, slug);
  } catch {
    // storage disabled: the choice lasts until the page is reloaded
  }
}

/** The sidebar's name, shown on its tab and as its tooltip. */
export const PANEL_LABEL = 'Course';

export class CoursehubPanel extends LiveWidget {
  constructor(private options: IPanelOptions) {
    super(options.refresh);
    this.id = 'coursehub-panel';
    this.addClass('ch-Panel');
    this.title.icon = coursehubIcon;
    this.title.label = PANEL_LABEL;
    this.title.caption = 'Course: questions, progress, leaderboard and profile';
  }

  render(): JSX.Element {
    return <PanelView {...this.options} live={this.liveRefresh.live} />;
  }
}

function PanelView(props: IPanelOptions & { live: Refresh }): JSX.Element {
  const loaded = useLoad(() => props.api.courses(), props.refresh, [props.api]);
  const [wanted, setWanted] = useState<string | null>(storedCourse);
  const [joined, setJoined] = useState<ReadonlySet<string>>(new Set());
  const [tab, setTab] = useState<Tab>('Questions');
  const refs = React.useRef<(HTMLButtonElement | null)[]>([]);

  const courses = loaded.data ? withJoined(loaded.data, joined) : null;
  const course = courses ? chooseCourse(courses, wanted) : null;
  const tabs = panelTabs(course);
  const current: Tab = tabs.includes(tab) ? tab : tabs[0];

  const choose = (slug: string) => {
    setWanted(slug);
    storeCourse(slug);
  };
  const onJoined = (c: ICourse) => {
    setJoined(j => new Set([...j, c.slug]));
    choose(c.slug);
    setTab('Questions');
    loaded.reload();
  };

  // arrow keys move between tabs (WAI-ARIA tabs pattern, automatic activation)
  const onKeyDown = (event: React.KeyboardEvent, index: number) => {
    let next = index;
    if (event.key === 'ArrowRight') {
      next = (index + 1) % tabs.length;
    } else if (event.key === 'ArrowLeft') {
      next = (index + tabs.length - 1) % tabs.length;
    } else if (event.key === 'Home') {
      next = 0;
    } else if (event.key === 'End') {
      next = tabs.length - 1;
    } else {
      return;
    }
    event.preventDefault();
    setTab(tabs[next]);
    refs.current[next]?.focus();
  };

  if (!courses) {
    return (
      <div className="ch-PanelView">
        <ErrorMessage message={loaded.error} />
        {loaded.error ? (
          <button className="ch-button" onClick={loaded.reload}>
            Try again
          </button>
        ) : (
          <p className="ch-muted">Loading…</p>
        )}
      </div>
    );
  }

  return (
    <div className="ch-PanelView">
      <div className="ch-panel-head">
        <CourseBar courses={courses} course={course} onChoose={choose} />
        {course && (
          <button
            className="ch-button"
            data-testid="ch-open-home"
            title="The course page: modules, progress, what to do next"
            onClick={props.showHome}
          >
            Course home
          </button>
        )}
      </div>
      <div className="ch-tabs" role="tablist" aria-label="coursehub">
        {tabs.map((name, i) => (
          <button
            key={name}
            ref={el => (refs.current[i] = el)}
            id={`ch-tab-${name}`}
            className={`ch-tab${current === name ? ' ch-mod-active' : ''}`}
            role="tab"
            aria-selected={current === name}
            aria-controls={`ch-tabpanel-${name}`}
            tabIndex={current === name ? 0 : -1}
            onClick={() => setTab(name)}
            onKeyDown={e => onKeyDown(e, i)}
          >
            {name}
          </button>
        ))}
      </div>
      {/* every tab stays mounted (hidden when not selected) so filters, the chosen
          leaderboard module and the page survive switching tabs; the course is part of
          the key, so choosing another course starts its tabs afresh */}
      {tabs.map(name => (
        <div
          key={`${course?.slug ?? ''}/${name}`}
          className="ch-tabpanel"
          role="tabpanel"
          id={`ch-tabpanel-${name}`}
          aria-labelledby={`ch-tab-${name}`}
          hidden={current !== name}
        >
          {course && name === 'Questions' && (
            <QuestionsTab
              {...props}
              course={course.slug}
              live={current === name ? props.live : null}
            />
          )}
          {course && name === 'Progress' && (
            <ProgressTab
              {...props}
              course={course.slug}
              live={current === name ? props.live : null}
            />
          )}
          {course && name === 'Leaderboard' && (
            <LeaderboardTab
              {...props}
              course={course.slug}
              live={current === name ? props.live : null}
            />
          )}
          {course && name === 'Profile' && (
            <ProfileTab
              api={props.api}
              refresh={props.refresh}
              settings={props.settings}
              course={course.slug}
              live={current === name ? props.live : null}
            />
          )}
          {name === 'Courses' && (
            <CoursesTab
              api={props.api}
              courses={courses}
              course={course}
              onChoose={choose}
              onJoined={onJoined}
            />
          )}
          {course && name === 'Instructor' && (
            <InstructorTab
              api={props.api}
              course={course}
              tracker={props.tracker}
              openPath={props.openPath}
              showCreateAssignment={props.showCreateAssignment}
            />
          )}
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

function QuestionsTab({ api, refresh, live, openQuestion, course }: ITabProps): JSX.Element {
  const [filters, setFilters] = useState<IFilterState>(NO_FILTERS);
  const loaded = useLoad(
    async () => {
      const [modules, questions, filters] = await Promise.all([
        api.modules(course),
        api.questions(course),
        api.filters(course)
      ]);
      return { modules, questions, filters };
    },
    refresh,
    [api, course],
    live
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
        {(data?.filters.types ?? []).length > 1 && (
          <FilterSelect
            label="Type"
            value={filters.type}
            options={(data?.filters.types ?? []).map(t => ({ value: t, label: typeText(t) }))}
            onChange={set('type')}
          />
        )}
        <input
          type="search"
          className="ch-search"
          aria-label="Search questions"
          placeholder="Search title, task, category, tags"
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
  // tick while a cool-off runs, for its countdown
  const next = parseTime(q.next_submission_at);
  const now = useNow(next !== null && next > Date.now());
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
        {q.status && q.status !== 'released' && (
          <span
            className={`ch-chip ch-question-status ch-mod-${q.status}`}
            data-testid="ch-question-status"
          >
            {q.status}
          </span>
        )}
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
      {descriptionSnippet(q) && (
        <div className="ch-question-description" title={q.description ?? undefined}>
          {descriptionSnippet(q)}
        </div>
      )}
      <div className="ch-question-meta">
        {q.difficulty && <span className="ch-chip ch-difficulty">{q.difficulty}</span>}
        {q.type && q.type !== 'notebook' && (
          <span className="ch-chip ch-type" data-testid="ch-question-type">
            {typeText(q.type)}
          </span>
        )}
        {languageText(q.language) && (
          <span className="ch-chip ch-language" data-testid="ch-question-language">
            {languageText(q.language)}
          </span>
        )}
        {questionChips(q).map(chip =>
          chip.kind === 'category' ? (
            <span key="category" className="ch-chip ch-category">
              {chip.text}
            </span>
          ) : (
            <span key={chip.text} className="ch-chip ch-tag">
              #{chip.text}
            </span>
          )
        )}
      </div>
      <div className="ch-question-score">
        <span className="ch-points">{pointsText(q.points)}</span>
        {' · '}
        <span className="ch-best">{bestScoreText(q)}</span>
      </div>
      <QuestionRules question={q} now={now} />
      <ErrorMessage message={error} />
    </li>
  );
}

/** Before submitting: the due date (local time), lateness, submissions used, cool-off. */
function QuestionRules(props: { question: IQuestion; now: number }): JSX.Element | null {
  const { question, now } = props;
  const due = dueText(question, now);
  const late = due ? latePolicyText(question) : null;
  const used = submissionsText(question);
  const block = submitBlock(question, now);
  if (!due && !used && !block) {
    return null;
  }
  return (
    <div className="ch-question-rules" data-testid="ch-question-rules">
      {due && (
        <span className="ch-due" data-testid="ch-due" data-due={question.due ?? ''}>
          {due}
        </span>
      )}
      {late && (
        <span className="ch-late-policy" data-testid="ch-late-policy">
          {late}
        </span>
      )}
      {used && (
        <span className="ch-submissions-used" data-testid="ch-submissions-used">
          {used}
        </span>
      )}
      {block && (
        <span
          className={`ch-submit-blocked ch-mod-${block.kind}`}
          data-testid="ch-submit-blocked"
          data-kind={block.kind}
          role="status"
        >
          {block.kind === 'cooloff' && block.until !== null ? (
            <>
              next submission in{' '}
              <span data-testid="ch-cooloff-countdown">{countdownText(block.until - now)}</span>
            </>
          ) : (
            block.reason
          )}
        </span>
      )}
    </div>
  );
}

function ProgressTab({ api, refresh, live, course }: ITabProps): JSX.Element {
  const loaded = useLoad(() => api.progress(course), refresh, [api, course], live);
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

function LeaderboardTab({ api, refresh, live, course }: ITabProps): JSX.Element {
  const [module, setModule] = useState('');
  const [page, setPage] = useState(0);
  const modules = useLoad(() => api.modules(course), refresh, [api, course]);
  const me = useLoad(() => api.profile(course), refresh, [api, course]);
  const board = useLoad(
    () => {
      const { offset, limit } = pageRequest(page, PAGE_SIZE);
      return api.leaderboard(course, module, offset, limit);
    },
    refresh,
    [api, course, module, page],
    live
  );
  const [viewing, setViewing] = useState<string | null>(null);
  const data = board.data;
  const info = data ? pageInfo(data.offset, data.entries.length, data.total) : null;
  const self = me.data?.name;
  if (viewing !== null) {
    return (
      <OtherProfile api={api} course={course} name={viewing} onClose={() => setViewing(null)} />
    );
  }
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
          {data?.entries.map((e, i) => {
            // the grader marks the reader's own entry; older graders: compare names
            const mine = e.you ?? (self !== undefined && e.user === self);
            const avatar = api.avatarUrl(e.avatar);
            return (
              <tr
                key={e.user ?? `anonymous-${e.rank}-${i}`}
                className={mine ? 'ch-mod-self' : undefined}
                data-testid="ch-leaderboard-row"
                data-self={mine ? 'true' : 'false'}
                aria-current={mine ? 'true' : undefined}
              >
                <td className="ch-rank">{e.rank}</td>
                <td className="ch-user">
                  {avatar ? (
                    <img className="ch-avatar" src={avatar} alt="" loading="lazy" />
                  ) : (
                    <span className="ch-avatar ch-avatar-initial" aria-hidden="true">
                      {entryName(e).slice(0, 1).toUpperCase()}
                    </span>
                  )}
                  {e.user !== null && !mine ? (
                    // another learner's public profile (anonymous ones have no name here)
                    <button
                      className="ch-link"
                      data-testid="ch-leaderboard-profile"
                      aria-label={`Profile of ${entryName(e)}`}
                      onClick={() => setViewing(e.user as string)}
                    >
                      {entryName(e)}
                    </button>
                  ) : (
                    <span className={e.user === null ? 'ch-anonymous' : undefined}>
                      {entryName(e)}
                    </span>
                  )}
                  {e.user && e.user !== entryName(e) && (
                    <span className="ch-muted"> @{e.user}</span>
                  )}
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
