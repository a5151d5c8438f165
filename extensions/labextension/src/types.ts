/**
 * JSON shapes of the coursehub server extension's API (docs/api.md, "Learner's server
 * extension"). Only the fields the front end uses are typed.
 */

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
  points: number;
  best_score: number | null;
  solved: boolean;
}

export interface IQuestionFilters {
  categories: string[];
  difficulties: string[];
  tags: string[];
}

export interface IOpenResult {
  path: string;
  created: boolean;
}

export type SubmissionStatus = 'queued' | 'running' | 'graded' | 'error';

export interface ITestResult {
  name: string;
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

export interface IProfile {
  name: string;
  display_name: string;
  bio?: string | null;
  score: number;
  solved: number;
  attempted: number;
  submissions: number;
  rank: number | null;
}

export interface ILeaderboardEntry {
  rank: number;
  user: string;
  score: number;
  solved: number;
}

export interface ILeaderboard {
  entries: ILeaderboardEntry[];
  total: number;
  offset: number;
  limit: number;
}
