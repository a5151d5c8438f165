/**
 * The Practice sidebar: for the chosen course, the reviews due, the daily question,
 * learning paths, quizzes and duels, one foldable section each. It reloads after every
 * graded submission, on every pushed duel, and now and then while shown (LiveWidget).
 */
import { LabIcon } from '@jupyterlab/ui-components';
import React, { useCallback, useState } from 'react';

import { ErrorMessage } from '../common';
import { chooseCourse, COURSE_STORAGE_KEY } from '../courses';
import { CourseBar } from '../coursesTab';
import { Refresh } from '../events';
import { LiveWidget } from '../live';
import { storedCourse } from '../panel';
import { useLoad } from '../useLoad';
import { PracticeAPI } from './api';
import { ISectionProps, Section } from './common';
import { DuelsSection } from './duelsSection';
import { DuelFeed } from './feed';
import { practiceCaption } from './format';
import { PathsSection } from './pathsSection';
import { QuizzesSection } from './quizzesSection';
import { DailySection, ReviewsSection } from './todaySections';

/** A target: practice, aim. */
const ICON_SVG = `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 24 24" width="16">
<path class="jp-icon3" fill="#616161" d="M12 2a10 10 0 1 0 10 10A10 10 0 0 0 12 2zm0 18a8 8 0 1 1
8-8 8 8 0 0 1-8 8zm0-14a6 6 0 1 0 6 6 6 6 0 0 0-6-6zm0 10a4 4 0 1 1 4-4 4 4 0 0 1-4 4zm0-6a2 2 0 1 0
2 2 2 2 0 0 0-2-2z"/>
</svg>`;

export const practiceIcon = new LabIcon({ name: 'coursehub:practice', svgstr: ICON_SVG });

/** The sidebar's name, on its tab. */
export const PRACTICE_LABEL = 'Practice';

export const PRACTICE_PANEL_ID = 'coursehub-practice';

export interface IPracticePanelOptions {
  api: PracticeAPI;
  /** every graded submission (relayed from the Course sidebar) and every pushed duel */
  refresh: Refresh;
  feed: DuelFeed;
  openQuestion: ISectionProps['openQuestion'];
  openFresh: ISectionProps['openFresh'];
}

const SECTIONS = ['reviews', 'daily', 'paths', 'quizzes', 'duels'] as const;
type SectionName = (typeof SECTIONS)[number];

const TITLES: Record<SectionName, string> = {
  reviews: 'Reviews due',
  daily: 'Daily question',
  paths: 'Paths',
  quizzes: 'Quizzes',
  duels: 'Duels'
};

function storeCourse(slug: string): void {
  try {
    window.localStorage.setItem(COURSE_STORAGE_KEY, slug);
  } catch {
    // storage disabled: the choice lasts until the page is reloaded
  }
}

export class PracticePanel extends LiveWidget {
  /** the course chosen last (here or in the Course sidebar: the same memory) */
  private wanted: string | null = storedCourse();

  constructor(private options: IPracticePanelOptions) {
    super(options.refresh);
    this.id = PRACTICE_PANEL_ID;
    this.addClass('ch-Panel');
    this.addClass('ch-Practice');
    this.title.icon = practiceIcon;
    this.title.label = PRACTICE_LABEL;
    this.title.caption = practiceCaption(null);
  }

  protected onAfterShow(): void {
    // the Course sidebar may have chosen another course meanwhile
    const stored = storedCourse();
    if (stored !== this.wanted) {
      this.wanted = stored;
      this.update();
    }
    super.onAfterShow();
  }

  render(): JSX.Element {
    return (
      <PracticeView
        {...this.options}
        live={this.liveRefresh.live}
        wanted={this.wanted}
        onChoose={slug => {
          this.wanted = slug;
          storeCourse(slug);
          this.update();
        }}
        onDueNow={count => {
          this.title.caption = practiceCaption(count);
        }}
      />
    );
  }
}

function PracticeView(
  props: IPracticePanelOptions & {
    live: Refresh;
    wanted: string | null;
    onChoose: (slug: string) => void;
    onDueNow: (count: number | null) => void;
  }
): JSX.Element {
  const { api, refresh } = props;
  const courses = useLoad(() => api.courses(), refresh, [api]);
  const [open, setOpen] = useState<ReadonlySet<SectionName>>(new Set(SECTIONS));
  const [dueNow, setDueNow] = useState<number | null>(null);
  const { onDueNow } = props;
  const onCounts = useCallback(
    (count: number | null) => {
      setDueNow(count);
      onDueNow(count);
    },
    [onDueNow]
  );
  const toggle = (name: SectionName) =>
    setOpen(current => {
      const next = new Set(current);
      if (!next.delete(name)) {
        next.add(name);
      }
      return next;
    });

  if (!courses.data) {
    return (
      <div className="ch-PanelView ch-practice" data-testid="coursehub-practice">
        <ErrorMessage message={courses.error} testid="coursehub-practice-error" />
        {courses.error ? (
          <button className="ch-button" onClick={courses.reload}>
            Try again
          </button>
        ) : (
          <p className="ch-muted">Loading…</p>
        )}
      </div>
    );
  }
  const course = chooseCourse(courses.data, props.wanted);
  if (!course) {
    return (
      <div className="ch-PanelView ch-practice" data-testid="coursehub-practice">
        <p className="ch-practice-note" data-testid="coursehub-practice-no-course">
          You are in no course yet: join one in the Course sidebar, then practise here.
        </p>
      </div>
    );
  }
  const sectionProps = (name: SectionName): ISectionProps => ({
    api,
    refresh,
    // the periodic refresh only for the sections unfolded
    live: open.has(name) ? props.live : null,
    course: course.slug,
    feed: props.feed,
    openQuestion: props.openQuestion,
    openFresh: props.openFresh
  });
  const badge: Partial<Record<SectionName, string | null>> = {
    reviews: dueNow ? String(dueNow) : null
  };
  return (
    <div
      className="ch-PanelView ch-practice"
      data-testid="coursehub-practice"
      data-course={course.slug}
    >
      <div className="ch-panel-head">
        <CourseBar courses={courses.data} course={course} onChoose={props.onChoose} />
        {/* what changed elsewhere (a card come due, a challenge) without waiting for the
            periodic refresh */}
        <button
          className="ch-link ch-practice-reload"
          data-testid="coursehub-practice-reload"
          title="Reload reviews, paths, quizzes and duels"
          onClick={() => props.live.emit()}
        >
          Reload
        </button>
      </div>
      {/* the course is part of the key: another course starts every section afresh */}
      <div className="ch-tabpanel ch-practice-sections" key={course.slug}>
        {SECTIONS.map(name => (
          <Section
            key={name}
            name={name}
            title={TITLES[name]}
            badge={badge[name]}
            open={open.has(name)}
            onToggle={() => toggle(name)}
          >
            {name === 'reviews' && <ReviewsSection {...sectionProps(name)} onCounts={onCounts} />}
            {name === 'daily' && <DailySection {...sectionProps(name)} />}
            {name === 'paths' && <PathsSection {...sectionProps(name)} />}
            {name === 'quizzes' && <QuizzesSection {...sectionProps(name)} />}
            {name === 'duels' && <DuelsSection {...sectionProps(name)} />}
          </Section>
        ))}
      </div>
    </div>
  );
}
