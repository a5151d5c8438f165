/**
 * Pure helpers for courses: which course the panel shows, which tabs it has, who
 * teaches, who may join. No JupyterLab import, so they are unit-tested.
 */
import { ICourse } from './types';

/** The panel's tabs; Courses (joining) always, Instructor only for a course one teaches. */
export const LEARNER_TABS = ['Questions', 'Progress', 'Leaderboard', 'Profile'] as const;
export type Tab = (typeof LEARNER_TABS)[number] | 'Courses' | 'Instructor';

/** Where the chosen course is remembered between visits (one browser, one user's server). */
export const COURSE_STORAGE_KEY = 'coursehub:course';

/** The courses the user is in, in the grader's order. */
export function enrolledCourses(courses: ICourse[]): ICourse[] {
  return courses.filter(c => c.enrolled);
}

/** Courses the user is not in and may join: open ones, and those with a join code. */
export function joinableCourses(courses: ICourse[]): ICourse[] {
  return courses.filter(c => !c.enrolled && (c.join === 'open' || c.join === 'code'));
}

/**
 * The course to show: `wanted` (a slug, e.g. the one chosen last time) if the user is
 * in it, else their first course; null when they are in none.
 */
export function chooseCourse(courses: ICourse[], wanted: string | null): ICourse | null {
  const mine = enrolledCourses(courses);
  return mine.find(c => c.slug === wanted) ?? mine[0] ?? null;
}

/**
 * The courses with those just joined marked as the user's: the grader may take a moment
 * (its cache of the user's Hub identity) before its list says so itself.
 */
export function withJoined(courses: ICourse[], joined: ReadonlySet<string>): ICourse[] {
  return courses.map(c =>
    joined.has(c.slug) && !c.enrolled ? { ...c, enrolled: true, role: c.role ?? 'learner' } : c
  );
}

/** Whether the user teaches `course`: the grader says so in `role`. */
export function isInstructor(course: ICourse | null | undefined): boolean {
  return !!course && course.enrolled && course.role === 'instructor';
}

/** The panel's tabs for the chosen course (none chosen: only Courses, to join one). */
export function panelTabs(course: ICourse | null): Tab[] {
  if (!course) {
    return ['Courses'];
  }
  const tabs: Tab[] = [...LEARNER_TABS, 'Courses'];
  if (isInstructor(course)) {
    tabs.push('Instructor');
  }
  return tabs;
}

/** How a course is joined, as the Courses tab says it. */
export function joinText(course: ICourse): string {
  switch (course.join) {
    case 'open':
      return 'open to everyone';
    case 'code':
      return 'join with the code your instructor gave you';
    default:
      return 'by invitation';
  }
}

/** What the user is in a course: "learner", "instructor", or "" when not in it. */
export function roleText(course: ICourse): string {
  if (!course.enrolled) {
    return '';
  }
  return course.role === 'instructor' ? 'instructor' : 'learner';
}

/**
 * A join code as typed: surrounding spaces dropped and spaces inside removed (codes are
 * often read out in groups, "K7QP 2XWM"); null when nothing is left.
 */
export function cleanJoinCode(typed: string): string | null {
  const code = typed.replace(/\s+/g, '');
  return code ? code : null;
}
