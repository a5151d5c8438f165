/**
 * Courses in the panel: the course bar (which course the tabs show) and the Courses tab
 * (the user's courses, and those they may join: open ones with a button, the others
 * with their join code).
 */
import React, { useState } from 'react';

import { CoursehubAPI } from './api';
import { ErrorMessage } from './common';
import { cleanJoinCode, enrolledCourses, joinableCourses, joinText, roleText } from './courses';
import { ICourse } from './types';

/** The chosen course: a `<select>` when the user is in several, else its title. */
export function CourseBar(props: {
  courses: ICourse[];
  course: ICourse | null;
  onChoose: (slug: string) => void;
}): JSX.Element | null {
  const mine = enrolledCourses(props.courses);
  const course = props.course;
  if (!course) {
    return null;
  }
  return (
    <div className="ch-course-bar" data-testid="ch-course-bar" data-course={course.slug}>
      {mine.length > 1 ? (
        <label className="ch-filter">
          <span className="ch-filter-label">Course</span>
          <select
            aria-label="Course"
            data-testid="ch-course-select"
            value={course.slug}
            onChange={e => props.onChoose(e.target.value)}
          >
            {mine.map(c => (
              <option key={c.slug} value={c.slug}>
                {c.title}
              </option>
            ))}
          </select>
        </label>
      ) : (
        <span className="ch-course-title" data-testid="ch-course-title">
          {course.title}
        </span>
      )}
      {course.role === 'instructor' && (
        <span className="ch-chip ch-role" data-testid="ch-course-role">
          instructor
        </span>
      )}
    </div>
  );
}

export interface ICoursesTabProps {
  api: CoursehubAPI;
  courses: ICourse[];
  course: ICourse | null;
  onChoose: (slug: string) => void;
  /** After joining: reload the courses and show the one joined. */
  onJoined: (course: ICourse) => void;
}

export function CoursesTab(props: ICoursesTabProps): JSX.Element {
  const mine = enrolledCourses(props.courses);
  const joinable = joinableCourses(props.courses);
  return (
    <div className="ch-courses" data-testid="ch-courses">
      <section aria-labelledby="ch-my-courses-heading">
        <h3 id="ch-my-courses-heading">My courses</h3>
        {mine.length === 0 ? (
          <p className="ch-muted" data-testid="ch-no-course">
            You are in no course yet: join one below, or ask your instructor for an invitation
            or a join code.
          </p>
        ) : (
          <ul className="ch-course-list">
            {mine.map(c => (
              <li
                key={c.slug}
                className={`ch-course${props.course?.slug === c.slug ? ' ch-mod-active' : ''}`}
                data-testid="ch-course"
                data-course={c.slug}
                data-role={roleText(c)}
              >
                <div className="ch-course-head">
                  <span className="ch-course-name">{c.title}</span>
                  <span className="ch-chip ch-role">{roleText(c)}</span>
                  {props.course?.slug !== c.slug && (
                    <button
                      className="ch-button"
                      aria-label={`Show ${c.title}`}
                      onClick={() => props.onChoose(c.slug)}
                    >
                      Show
                    </button>
                  )}
                </div>
                {c.description && <p className="ch-muted">{c.description}</p>}
                {c.role === 'instructor' && c.join === 'code' && c.join_code && (
                  <p className="ch-join-code-info">
                    Join code for learners:{' '}
                    <code data-testid="ch-course-join-code">{c.join_code}</code>
                  </p>
                )}
              </li>
            ))}
          </ul>
        )}
      </section>
      <section aria-labelledby="ch-join-heading">
        <h3 id="ch-join-heading">Join a course</h3>
        {joinable.length === 0 ? (
          <p className="ch-muted">No other course to join.</p>
        ) : (
          <ul className="ch-course-list">
            {joinable.map(c => (
              <JoinableCourse key={c.slug} api={props.api} course={c} onJoined={props.onJoined} />
            ))}
          </ul>
        )}
      </section>
    </div>
  );
}

function JoinableCourse(props: {
  api: CoursehubAPI;
  course: ICourse;
  onJoined: (course: ICourse) => void;
}): JSX.Element {
  const c = props.course;
  const [code, setCode] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const needsCode = c.join === 'code';

  const join = async (event?: React.FormEvent) => {
    event?.preventDefault();
    const cleaned = needsCode ? cleanJoinCode(code) : null;
    if (needsCode && cleaned === null) {
      setError('Type the join code your instructor gave you.');
      return;
    }
    setBusy(true);
    setError(null);
    try {
      await props.api.enrol(c.slug, cleaned);
      props.onJoined(c);
    } catch (e) {
      setError((e as Error).message);
      setBusy(false);
    }
  };

  return (
    <li
      className="ch-course ch-mod-joinable"
      data-testid="ch-joinable-course"
      data-course={c.slug}
      data-join={c.join}
    >
      <div className="ch-course-head">
        <span className="ch-course-name">{c.title}</span>
        <span className="ch-muted ch-join-policy">{joinText(c)}</span>
      </div>
      {c.description && <p className="ch-muted">{c.description}</p>}
      {needsCode ? (
        <form className="ch-join-form" onSubmit={join}>
          <input
            type="text"
            className="ch-join-code"
            data-testid="ch-join-code"
            aria-label={`Join code for ${c.title}`}
            placeholder="Join code"
            autoComplete="off"
            spellCheck={false}
            value={code}
            onChange={e => setCode(e.target.value)}
          />
          <button
            type="submit"
            className="ch-button"
            data-testid="ch-join"
            aria-label={`Join ${c.title} with the code`}
            disabled={busy}
          >
            Join
          </button>
        </form>
      ) : (
        <button
          className="ch-button"
          data-testid="ch-join"
          aria-label={`Join ${c.title}`}
          disabled={busy}
          onClick={() => void join()}
        >
          Join
        </button>
      )}
      <ErrorMessage message={error} testid="ch-join-error" />
    </li>
  );
}
