/**
 * JSON shapes of the coursehub server extension's API (docs/api.md, "Learner's server
 * extension"). Only the fields the front end uses are typed.
 */

export type CourseRole = 'learner' | 'instructor';

/** invite: an instructor adds people; code: anyone with the join code; open: anyone. */
export type JoinPolicy = 'invite' | 'code' | 'open';

export interface ICourse {
  id: number;
  slug: string;
  title: string;
  description?: string | null;
  join: JoinPolicy;
  /** whether the user is in it (as a learner or an instructor) */
  enrolled: boolean;
  role: CourseRole | null;
  /** only for the course's instructors */
  join_code?: string | null;
  /** the course records integrity signals (src/integrity.ts): learners are told */
  integrity?: boolean;
}

export interface IModule {
  id: number;
  slug: string;
  title: string;
  description?: string;
  position?: number;
}

export interface IQuestion {
  id: number | string;
  slug: string;
  title: string;
  /** The module's id. */
  module: number;
  module_slug: string;
  category: string | null;
  difficulty: string | null;
  tags: string[];
  /** notebook (code), choice, fill_in or flashcard */
  type?: string;
  /** what its code is written in: python (the default), r, javascript or c */
  language?: string;
  points: number;
  best_score: number | null;
  solved: boolean;
  /** the task in plain text (its first markdown cell), searched with the title */
  description?: string | null;
  /** how many hints the question has (their text only through `hints`) */
  hints?: number;
  /** the course's slug */
  course?: string;
  version?: number;
  /** drafts and scheduled questions are seen by the course's instructors only */
  status?: QuestionStatus;
  /** when it was (or will be) released; null for a draft */
  released?: string | null;
  /** The rules in force (the question's own, else its module's); null: none. */
  due?: string | null;
  late_policy?: LatePolicy | null;
  /** a fraction of the question's points, per day (or part of a day) late */
  penalty_per_day?: number | null;
  submission_limit?: number | null;
  /** seconds between two submissions */
  cooloff?: number | null;
  submissions_used?: number;
  /** while a cool-off runs: when the next submission is accepted */
  next_submission_at?: string | null;
}

export type QuestionStatus = 'draft' | 'scheduled' | 'released';

export type LatePolicy = 'refuse' | 'accept' | 'penalty';

/** `GET questions/{id}`: the summary and the student version. */
export interface IQuestionDetail extends IQuestion {
  notebook?: unknown;
}

export interface IQuestionFilters {
  categories: string[];
  difficulties: string[];
  tags: string[];
  /** the question types in use (older graders send none) */
  types?: string[];
}

export interface IOpenResult {
  path: string;
  created: boolean;
}

export type SubmissionStatus = 'queued' | 'running' | 'graded' | 'error';

export interface ITestResult {
  /** the test's stable id (its grade_id) */
  name: string;
  /** the human name ("hours wrap after a day"); older graders send none */
  title?: string | null;
  points: number;
  max_points: number;
  passed: boolean;
  hidden: boolean;
  message: string | null;
}

export interface ISubmission {
  id: number | string;
  question?: number | string;
  status: SubmissionStatus;
  score: number | null;
  max_score: number | null;
  tests: ITestResult[] | null;
  error?: string | null;
  /** While queued: 1 is the next to be graded; null otherwise. */
  queue_position?: number | null;
  /** While queued: the grader's estimate of the wait, in seconds; null when unknown. */
  estimated_wait?: number | null;
  created?: string | null;
  finished?: string | null;
  late?: boolean | null;
  /** what this grading earned: XP, the streak, new achievements; null: nothing */
  awards?: IAwards | null;
  /** the integrity signals sent with it (its course records them), shown to its owner */
  integrity?: import('./integrity').IIntegrityReport | null;
}

export interface IAchievementInfo {
  key: string;
  title: string;
  description: string;
  /** an emoji */
  icon: string;
}

export interface IAwards {
  xp: number;
  streak: number;
  achievements: IAchievementInfo[];
}

/** `GET achievements?course=`: every achievement of the course, earned or not. */
export interface IAchievements {
  course: string;
  xp: number;
  streak: number;
  best_streak: number;
  achievements: (IAchievementInfo & { earned: string | null })[];
}

/** `GET questions/{id}/hints` and the answer to POST (the next one revealed). */
export interface IHints {
  count: number;
  revealed: { index: number; text: string }[];
  /** the fraction of a later solve's XP each revealed hint costs */
  xp_penalty: number;
}

export interface IModuleProgress {
  module: number;
  module_slug: string;
  title: string;
  score: number;
  max_score: number;
  solved: number;
  total: number;
  percent: number;
}

export interface IProgress {
  user: string;
  modules: IModuleProgress[];
}

export type TopBucket = 1 | 5 | 10 | 25 | 50;

export interface IProfileModule {
  id: number;
  slug: string;
  title: string;
  score: number;
  solved: number;
  rank: number | null;
  percentile: number | null;
  top: TopBucket | null;
}

export interface IProfileLinks {
  github?: string | null;
  linkedin?: string | null;
  website?: string | null;
}

export interface ILearnerSettings {
  /** false: no celebration after a solve */
  celebrations?: boolean;
  [key: string]: unknown;
}

export interface IPrivateProfile {
  email: string | null;
  timezone: string;
  anonymous: boolean;
  settings: ILearnerSettings;
}

export interface IProfile {
  course?: string;
  name: string;
  display_name: string;
  bio?: string | null;
  links?: IProfileLinks;
  /** relative to the API: "profiles/<name>/avatar?v=<n>"; null: none */
  avatar?: string | null;
  xp?: number;
  streak?: number;
  best_streak?: number;
  achievements?: (IAchievementInfo & { earned?: string | null })[];
  score: number;
  solved: number;
  attempted: number;
  submissions: number;
  rank: number | null;
  percentile?: number | null;
  top?: TopBucket | null;
  modules?: IProfileModule[];
  joined?: string | null;
  /** only in the learner's own profile */
  private?: IPrivateProfile;
}

/** What `PATCH profile` accepts. */
export interface IProfileUpdate {
  display_name?: string;
  bio?: string;
  links?: IProfileLinks;
  email?: string | null;
  timezone?: string;
  anonymous?: boolean;
  settings?: ILearnerSettings;
}

export interface ILeaderboardEntry {
  rank: number;
  /** null: an anonymous learner, as others see them */
  user: string | null;
  display_name?: string;
  anonymous?: boolean;
  /** the reader's own entry */
  you?: boolean;
  avatar?: string | null;
  score: number;
  solved: number;
}

export interface ILeaderboard {
  entries: ILeaderboardEntry[];
  total: number;
  offset: number;
  limit: number;
}

/** `POST questions/validate`: the reference solution and the student version, graded. */
export interface IValidation {
  ok: boolean;
  problems: string[];
  reference: { score: number; max_score: number; tests?: ITestResult[] } | null;
  stub: { score: number; max_score: number } | null;
}

/** `GET questions/{id}/regrade`: how far the regrading of its submissions has come. */
export interface IRegradeProgress {
  queued: number;
  running: number;
  graded: number;
  error: number;
  total: number;
}

export interface IPreviewResult {
  path: string;
}
