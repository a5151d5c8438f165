/**
 * JSON shapes of the practice endpoints (reviews, the daily question, learning paths,
 * quizzes, duels, the push channel), as the server extension relays them from the
 * grader. Only the fields the Practice sidebar uses are typed.
 */

export type QuestionType = 'notebook' | 'choice' | 'fill_in' | 'flashcard';

/** A question as the practice endpoints name it (fields vary by endpoint). */
export interface IPracticeQuestion {
  id: number;
  title: string;
  /** the module's slug (daily, paths) or its id (reviews, quizzes, duels) */
  module?: string | number | null;
  /** the module's slug, where `module` is its id */
  module_slug?: string | null;
  course?: string | null;
  type?: QuestionType | string;
  difficulty?: string | null;
  points?: number;
  best_score?: number | null;
  solved?: boolean;
}

// reviews

export type ReviewState = 'new' | 'learning' | 'review' | 'relearning';

export interface IReviewDue {
  question: IPracticeQuestion;
  due: string;
  state: ReviewState | string;
  reviews: number;
  last_review: string | null;
}

export interface IReviewCounts {
  due_now: number;
  due_today: number;
  next_7_days: number;
  total: number;
}

/** `GET reviews?course=` */
export interface IReviewList {
  due: IReviewDue[];
  counts: IReviewCounts;
  next_due: string | null;
}

/** `GET reviews/{id}`, `POST reviews/{id}/start` */
export interface IReviewCard {
  question: IPracticeQuestion;
  due: string;
  state: ReviewState | string;
  reviews: number;
  lapses: number;
  last_review: string | null;
  opened: string | null;
}

// the daily question

/** `GET daily?course=` */
export interface IDaily {
  course: string;
  day: string;
  question: IPracticeQuestion | null;
  solved_today: boolean;
  streak: number;
  best_streak: number;
}

// learning paths

export interface IPathNext {
  id: number;
  title: string;
  module?: string | number | null;
  type?: string;
}

export interface IPath {
  id: number;
  slug: string;
  title: string;
  description?: string | null;
  course: string | null;
  owner: string | null;
  public: boolean;
  mine: boolean;
  enrolled: boolean;
  total: number;
  solved: number;
  percent: number;
  next: IPathNext | null;
}

export interface IPathItem {
  id: number;
  slug?: string;
  title: string;
  module?: string | number | null;
  course?: string | null;
  type?: string;
  difficulty?: string | null;
  points?: number;
  best_score?: number | null;
  solved: boolean;
}

/** `GET paths/{id}` */
export interface IPathDetail extends IPath {
  items: IPathItem[];
}

// quizzes

export interface IQuizAttempt {
  started: string;
  deadline: string | null;
  finished: string | null;
  /** seconds left when the grader answered; null: no time limit */
  remaining: number | null;
  questions: IPracticeQuestion[];
  score: number;
  max_score: number;
}

export interface IQuiz {
  id: number;
  course: string;
  slug: string;
  title: string;
  description?: string | null;
  count: number;
  /** seconds; null: untimed */
  time_limit: number | null;
  released?: boolean | string | null;
  attempt: IQuizAttempt | null;
}

// duels

export interface IDuelist {
  name: string;
  display_name?: string | null;
}

export interface IRatingMove {
  before: number;
  after: number;
}

export type DuelStatus = 'open' | 'active' | 'finished' | 'declined' | 'cancelled';
export type DuelSide = 'challenger' | 'opponent';

export interface IDuel {
  id: number;
  course: string;
  challenger: IDuelist;
  opponent: IDuelist | null;
  bot: boolean;
  status: DuelStatus | string;
  time_limit: number;
  created: string;
  started: string | null;
  deadline: string | null;
  /** seconds left when the grader answered (active duels) */
  remaining: number | null;
  question: IPracticeQuestion | null;
  result: DuelSide | 'draw' | null;
  winner: string | null;
  you: DuelSide | null;
  /** each side's rating before and after, once rated */
  ratings: Partial<Record<DuelSide, IRatingMove | [number, number]>> | null;
  /** how each player is doing, while active (to its players only) */
  progress?: Partial<Record<DuelSide, IDuelProgress>> | null;
}

/** A player's graded submissions to the duel's question since its start. */
export interface IDuelProgress {
  submissions: number;
  best_score: number | null;
  max_score: number | null;
}

/** `GET duels?course=` */
export interface IDuelList {
  duels: IDuel[];
  open: IDuel[];
}

export interface IRatingEntry {
  rank: number;
  /** null: an anonymous learner, as others see them */
  user: string | null;
  display_name?: string | null;
  rating: number;
  games: number;
  wins: number;
  losses: number;
  draws: number;
  you?: boolean;
}

/** `GET duels/ratings?course=` */
export interface IRatings {
  entries: IRatingEntry[];
}

/** What `POST duels` accepts: a challenge, an open challenge, or the bot. */
export interface IDuelRequest {
  course: string;
  opponent?: string;
  bot?: boolean;
  time_limit?: number;
}
