import {
  chooseCourse,
  cleanJoinCode,
  enrolledCourses,
  isInstructor,
  joinableCourses,
  joinText,
  panelTabs,
  roleText,
  withJoined
} from '../src/courses';
import { ICourse } from '../src/types';

function course(slug: string, fields: Partial<ICourse> = {}): ICourse {
  return {
    id: slug.length,
    slug,
    title: slug.toUpperCase(),
    description: '',
    join: 'invite',
    enrolled: false,
    role: null,
    ...fields
  };
}

const python = course('python', { enrolled: true, role: 'learner' });
const stats = course('stats', {
  enrolled: true,
  role: 'instructor',
  join: 'code',
  join_code: 'K7QP'
});
const open = course('open-ml', { join: 'open' });
const coded = course('rust', { join: 'code' });
const invite = course('secret');
const all = [python, stats, open, coded, invite];

describe('choosing the course', () => {
  it('lists the courses the user is in, and those they may join', () => {
    expect(enrolledCourses(all).map(c => c.slug)).toEqual(['python', 'stats']);
    // invitation-only courses are never offered
    expect(joinableCourses(all).map(c => c.slug)).toEqual(['open-ml', 'rust']);
  });

  it('keeps the course chosen last time while the user is in it', () => {
    expect(chooseCourse(all, 'stats')).toBe(stats);
    expect(chooseCourse(all, null)).toBe(python);
    // left the course, or never in it: the first of theirs
    expect(chooseCourse(all, 'rust')).toBe(python);
    expect(chooseCourse(all, 'gone')).toBe(python);
  });

  it('has no course for a user in none', () => {
    expect(chooseCourse([open, coded, invite], 'python')).toBeNull();
  });

  it('counts a course just joined as the user’s before the grader says so', () => {
    const courses = withJoined(all, new Set(['rust']));
    const rust = courses.find(c => c.slug === 'rust');
    expect(rust).toMatchObject({ enrolled: true, role: 'learner' });
    expect(chooseCourse(courses, 'rust')?.slug).toBe('rust');
    // the others are left as they are
    expect(courses.find(c => c.slug === 'stats')).toBe(stats);
  });
});

describe('roles', () => {
  it('says who teaches a course from the grader’s role', () => {
    expect(isInstructor(stats)).toBe(true);
    expect(isInstructor(python)).toBe(false);
    expect(isInstructor(null)).toBe(false);
    // a role on a course the user is not in does not count
    expect(isInstructor(course('x', { role: 'instructor', enrolled: false }))).toBe(false);
    expect(roleText(stats)).toBe('instructor');
    expect(roleText(python)).toBe('learner');
    expect(roleText(open)).toBe('');
  });

  it('shows the Instructor tab only to the course’s instructors', () => {
    expect(panelTabs(python)).toEqual([
      'Questions',
      'Progress',
      'Leaderboard',
      'Profile',
      'Courses'
    ]);
    expect(panelTabs(stats)).toEqual([
      'Questions',
      'Progress',
      'Leaderboard',
      'Profile',
      'Courses',
      'Instructor'
    ]);
    // in no course: only joining one
    expect(panelTabs(null)).toEqual(['Courses']);
  });
});

describe('joining', () => {
  it('says how each course is joined', () => {
    expect(joinText(open)).toBe('open to everyone');
    expect(joinText(coded)).toBe('join with the code your instructor gave you');
    expect(joinText(invite)).toBe('by invitation');
  });

  it('cleans a typed join code', () => {
    expect(cleanJoinCode('  K7QP 2XWM ')).toBe('K7QP2XWM');
    expect(cleanJoinCode('abc')).toBe('abc');
    expect(cleanJoinCode('   ')).toBeNull();
  });
});
