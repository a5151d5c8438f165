import {
  countdownText,
  dueText,
  formatDateTime,
  latePolicyText,
  parseTime,
  submissionsText,
  submitBlock,
  withRetryAfter
} from '../src/rules';

const UTC = { locale: 'en-GB', timeZone: 'UTC' };
const NOW = Date.parse('2025-03-03T12:00:00Z');

describe('times', () => {
  it('reads the grader’s UTC times, with or without the Z', () => {
    expect(parseTime('2025-03-03T12:00:00Z')).toBe(NOW);
    expect(parseTime('2025-03-03T12:00:00')).toBe(NOW);
    expect(parseTime('2025-03-03T13:00:00+01:00')).toBe(NOW);
    expect(parseTime(null)).toBeNull();
    expect(parseTime('not a date')).toBeNull();
  });

  it('shows a due date in the learner’s time zone', () => {
    const due = { due: '2025-03-10T16:30:00Z' };
    expect(dueText(due, NOW, UTC)).toBe('due 10 Mar 2025, 16:30');
    // the same instant for a learner in Tokyo (UTC+9) is the next day
    expect(dueText(due, NOW, { locale: 'en-GB', timeZone: 'Asia/Tokyo' })).toBe(
      'due 11 Mar 2025, 01:30'
    );
    expect(dueText(due, Date.parse('2025-03-11T00:00:00Z'), UTC)).toBe(
      'was due 10 Mar 2025, 16:30'
    );
    expect(dueText({ due: null }, NOW, UTC)).toBeNull();
    expect(formatDateTime(NOW, UTC)).toBe('3 Mar 2025, 12:00');
  });

  it('counts down like a clock', () => {
    expect(countdownText(5_000)).toBe('0:05');
    expect(countdownText(4_001)).toBe('0:05'); // rounded up: never "0:00" while waiting
    expect(countdownText(754_000)).toBe('12:34');
    expect(countdownText(3_723_000)).toBe('1:02:03');
    expect(countdownText(-10)).toBe('0:00');
  });
});

describe('late policy and limits', () => {
  it('says what a late submission costs', () => {
    expect(latePolicyText({ late_policy: 'penalty', penalty_per_day: 0.1 })).toBe(
      'late: -10% per day'
    );
    expect(latePolicyText({ late_policy: 'penalty', penalty_per_day: 0.125 })).toBe(
      'late: -12.5% per day'
    );
    expect(latePolicyText({ late_policy: 'penalty', penalty_per_day: 0 })).toBe(
      'late submissions accepted'
    );
    expect(latePolicyText({ late_policy: 'refuse', penalty_per_day: null })).toBe(
      'late submissions refused'
    );
    expect(latePolicyText({ late_policy: 'accept' })).toBe('late submissions accepted');
    expect(latePolicyText({ late_policy: null })).toBeNull();
  });

  it('counts submissions used against the limit', () => {
    expect(submissionsText({ submission_limit: 5, submissions_used: 2 })).toBe(
      '2 of 5 submissions used'
    );
    expect(submissionsText({ submission_limit: 1, submissions_used: 0 })).toBe(
      '0 of 1 submission used'
    );
    expect(submissionsText({ submission_limit: 3 })).toBe('0 of 3 submissions used');
    expect(submissionsText({ submission_limit: null, submissions_used: 7 })).toBeNull();
  });
});

describe('whether submitting is allowed now', () => {
  const open = {
    due: '2025-03-10T00:00:00Z',
    late_policy: 'refuse' as const,
    submission_limit: 3,
    submissions_used: 1,
    next_submission_at: null
  };

  it('allows a question within its rules, and one without rules', () => {
    expect(submitBlock(open, NOW)).toBeNull();
    expect(submitBlock({}, NOW)).toBeNull();
    expect(submitBlock(null, NOW)).toBeNull();
  });

  it('refuses once every submission is used', () => {
    expect(submitBlock({ ...open, submissions_used: 3 }, NOW)).toEqual({
      kind: 'limit',
      reason: 'All 3 submissions used.',
      until: null
    });
  });

  it('refuses after the due date only when late submissions are refused', () => {
    const late = Date.parse('2025-03-10T00:00:01Z');
    expect(submitBlock(open, late)?.kind).toBe('closed');
    expect(submitBlock({ ...open, late_policy: 'penalty' }, late)).toBeNull();
    expect(submitBlock({ ...open, late_policy: 'accept' }, late)).toBeNull();
  });

  it('counts down a cool-off to the next submission, then allows it', () => {
    const cooling = { ...open, next_submission_at: '2025-03-03T12:00:42Z' };
    expect(submitBlock(cooling, NOW)).toEqual({
      kind: 'cooloff',
      reason: 'Wait 0:42 before submitting again.',
      until: Date.parse('2025-03-03T12:00:42Z')
    });
    expect(submitBlock(cooling, NOW + 42_000)).toBeNull();
  });

  it('takes a cool-off from a 429’s Retry-After', () => {
    const cooling = withRetryAfter(open, 30, NOW);
    expect(cooling.next_submission_at).toBe('2025-03-03T12:00:30.000Z');
    expect(submitBlock(cooling, NOW + 10_000)?.reason).toBe('Wait 0:20 before submitting again.');
  });
});
