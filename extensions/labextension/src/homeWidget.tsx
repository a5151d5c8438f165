/**
 * The course page: what a learner sees first in JupyterLab. The course's title and
 * description, XP and streak at a glance, what to do next (the first unsolved released
 * question, with a button to open it), and the modules with their descriptions and
 * progress. Opened from the launcher card, the panel, and by itself the first time.
 */
import React from 'react';

import { CoursehubAPI } from './api';
import { ErrorMessage } from './common';
import { chooseCourse } from './courses';
import { Refresh } from './events';
import { clampPercent, descriptionSnippet, formatPercent, pointsText } from './format';
import { moduleSummaries, nextQuestion, streakText } from './home';
import { IntegrityNotice } from './integrityNotice';
import { LiveWidget } from './live';
import { IQuestion } from './types';
import { useLoad } from './useLoad';

export interface IHomeOptions {
  api: CoursehubAPI;
  refresh: Refresh;
  /** The course chosen in the panel (its slug), or null for the first one. */
  chosenCourse: () => string | null;
  openQuestion: (question: IQuestion) => Promise<void>;
  /** Reveal the coursehub sidebar (the full list of questions). */
  showPanel: () => void;
}

export class CourseHome extends LiveWidget {
  constructor(private options: IHomeOptions) {
    super(options.refresh);
    this.id = 'coursehub-home';
    this.addClass('ch-Home');
    this.title.label = 'Course';
    this.title.caption = 'Your course: modules, progress and what to do next';
    this.title.closable = true;
  }

  render(): JSX.Element {
    return <HomeView {...this.options} live={this.liveRefresh.live} />;
  }
}

function HomeView(props: IHomeOptions & { live: Refresh }): JSX.Element {
  const { api, refresh, live } = props;
  const loaded = useLoad(
    async () => {
      const courses = await api.courses();
      const course = chooseCourse(courses, props.chosenCourse());
      if (!course) {
        return { course: null };
      }
      const [modules, questions, progress, achievements] = await Promise.all([
        api.modules(course.slug),
        api.questions(course.slug),
        api.progress(course.slug).catch(() => null),
        api.achievements(course.slug).catch(() => null) // an older grader: no XP yet
      ]);
      return { course, modules, questions, progress, achievements };
    },
    refresh,
    [api],
    live
  );
  const data = loaded.data;
  if (!data) {
    return (
      <div className="ch-home" data-testid="ch-home">
        <ErrorMessage message={loaded.error} />
        {!loaded.error && <p className="ch-muted">Loading…</p>}
      </div>
    );
  }
  if (!data.course) {
    return (
      <div className="ch-home" data-testid="ch-home">
        <h1 className="ch-home-title">Welcome to coursehub</h1>
        <p>You are in no course yet: join one in the Course sidebar.</p>
        <button className="ch-button ch-mod-primary" onClick={props.showPanel}>
          Find a course
        </button>
      </div>
    );
  }
  const { course, modules, questions, progress, achievements } = data;
  const next = nextQuestion(modules, questions);
  const summaries = moduleSummaries(modules, progress?.modules ?? [], questions);
  const solved = questions.filter(q => q.solved).length;
  const earned = achievements?.achievements.filter(a => a.earned) ?? [];
  return (
    <div className="ch-home" data-testid="ch-home" data-course={course.slug}>
      <header className="ch-home-header">
        <h1 className="ch-home-title" data-testid="ch-home-title">
          {course.title}
        </h1>
        {course.description && (
          <p className="ch-home-description" data-testid="ch-home-description">
            {course.description}
          </p>
        )}
        <div className="ch-home-stats" data-testid="ch-home-stats">
          {achievements && (
            <span className="ch-stat" data-testid="ch-home-xp">
              <strong>{achievements.xp}</strong> XP
            </span>
          )}
          {achievements && achievements.streak > 0 && (
            <span className="ch-stat" data-testid="ch-home-streak">
              🔥 {streakText(achievements.streak)}
            </span>
          )}
          <span className="ch-stat">
            <strong>{solved}</strong> / {questions.length} solved
          </span>
          {achievements && (
            <span className="ch-stat">
              <strong>{earned.length}</strong> / {achievements.achievements.length} achievements
            </span>
          )}
        </div>
      </header>
      {course.integrity && <IntegrityNotice />}
      <section className="ch-home-next" data-testid="ch-home-next" aria-labelledby="ch-next-h">
        <h2 id="ch-next-h">What to do next</h2>
        {next ? (
          <div className="ch-next-card">
            <div>
              <div className="ch-next-title">{next.title}</div>
              <div className="ch-muted">
                {modules.find(m => String(m.id) === String(next.module))?.title ??
                  next.module_slug}
                {' · '}
                {pointsText(next.points)}
                {next.difficulty ? ` · ${next.difficulty}` : ''}
              </div>
              {descriptionSnippet(next) && (
                <p className="ch-next-description">{descriptionSnippet(next)}</p>
              )}
            </div>
            <OpenButton question={next} openQuestion={props.openQuestion} />
          </div>
        ) : (
          <p>
            {questions.length
              ? 'You solved every question released so far. Well done!'
              : 'No question is released yet.'}
          </p>
        )}
      </section>
      <section className="ch-home-modules" aria-labelledby="ch-modules-h">
        <h2 id="ch-modules-h">
          Modules{' '}
          <button className="ch-link" onClick={props.showPanel}>
            all questions
          </button>
        </h2>
        <ol className="ch-home-module-list">
          {summaries.map(s => (
            <li key={s.module.id} className="ch-home-module" data-testid="ch-home-module">
              <div className="ch-home-module-head">
                <span className="ch-home-module-title">{s.module.title}</span>
                <span className="ch-muted">
                  {s.solved} / {s.total} solved
                </span>
              </div>
              {s.module.description && (
                <p className="ch-home-module-description">{s.module.description}</p>
              )}
              <div
                className="ch-progressbar"
                role="progressbar"
                aria-label={`${s.module.title} progress`}
                aria-valuemin={0}
                aria-valuemax={100}
                aria-valuenow={clampPercent(s.percent)}
                aria-valuetext={formatPercent(s.percent)}
              >
                <div
                  className="ch-progressbar-fill"
                  style={{ width: `${clampPercent(s.percent)}%` }}
                />
              </div>
            </li>
          ))}
        </ol>
      </section>
    </div>
  );
}

function OpenButton(props: {
  question: IQuestion;
  openQuestion: (q: IQuestion) => Promise<void>;
}): JSX.Element {
  const [busy, setBusy] = React.useState(false);
  const [error, setError] = React.useState<string | null>(null);
  return (
    <div>
      <button
        className="ch-button ch-mod-primary"
        data-testid="ch-home-open-next"
        disabled={busy}
        onClick={async () => {
          setBusy(true);
          setError(null);
          try {
            await props.openQuestion(props.question);
          } catch (e) {
            setError((e as Error).message);
          } finally {
            setBusy(false);
          }
        }}
      >
        Open question
      </button>
      <ErrorMessage message={error} />
    </div>
  );
}
