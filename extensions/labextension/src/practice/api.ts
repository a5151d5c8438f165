/**
 * The practice endpoints of the coursehub server extension (`<baseUrl>coursehub/api/`):
 * reviews, the daily question, learning paths, quizzes, duels and the learner's push
 * channel. Requests go through the main client (CoursehubAPI.request: the same token,
 * XSRF cookie and plain-text errors); the event stream is opened here.
 */
import { ServerConnection } from '@jupyterlab/services';

import { CoursehubAPI, CoursehubError, eventStreamOf } from '../api';
import { errorMessage } from '../format';
import { ITextStream } from '../sse';
import { ICourse, IOpenResult, IQuestion } from '../types';
import {
  IDaily,
  IDuel,
  IDuelList,
  IDuelRequest,
  IPath,
  IPathDetail,
  IQuiz,
  IRatings,
  IReviewCard,
  IReviewList
} from './types';

const id = (value: number | string) => encodeURIComponent(String(value));

function query(params: Record<string, string | number | undefined | null>): string {
  const parts = Object.entries(params)
    .filter(([, v]) => v !== undefined && v !== null && v !== '')
    .map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(String(v))}`);
  return parts.length ? `?${parts.join('&')}` : '';
}

export class PracticeAPI {
  readonly core: CoursehubAPI;

  constructor(private settings: ServerConnection.ISettings = ServerConnection.makeSettings()) {
    this.core = new CoursehubAPI(settings);
  }

  private get<T>(path: string): Promise<T> {
    return this.core.request<T>(path);
  }

  private post<T>(path: string, body: unknown = {}): Promise<T> {
    return this.core.request<T>(path, { method: 'POST', body: JSON.stringify(body) });
  }

  private async remove(path: string): Promise<void> {
    await this.core.request<void>(path, { method: 'DELETE' });
  }

  courses(): Promise<ICourse[]> {
    return this.core.courses();
  }

  questions(course: string): Promise<IQuestion[]> {
    return this.core.questions(course);
  }

  /** Write the question's notebook into the home (once) and say where. */
  open(questionId: number | string): Promise<IOpenResult> {
    return this.core.open(questionId);
  }

  /** A new copy of the student version, whatever the learner wrote before (a review). */
  openFresh(questionId: number | string): Promise<IOpenResult> {
    return this.post<IOpenResult>(`questions/${id(questionId)}/open`, { fresh: true });
  }

  // reviews

  reviews(course: string, limit?: number): Promise<IReviewList> {
    return this.get<IReviewList>(`reviews${query({ course, limit })}`);
  }

  /** Start a review: the grader times it from now (the rating depends on the time taken). */
  startReview(questionId: number | string): Promise<IReviewCard> {
    return this.post<IReviewCard>(`reviews/${id(questionId)}/start`);
  }

  // the daily question

  daily(course: string): Promise<IDaily> {
    return this.get<IDaily>(`daily${query({ course })}`);
  }

  // learning paths

  async paths(course: string): Promise<IPath[]> {
    return (await this.get<{ paths: IPath[] }>(`paths${query({ course })}`)).paths;
  }

  path(pathId: number | string): Promise<IPathDetail> {
    return this.get<IPathDetail>(`paths/${id(pathId)}`);
  }

  enrolPath(pathId: number | string): Promise<IPath> {
    return this.post<IPath>(`paths/${id(pathId)}/enrol`);
  }

  leavePath(pathId: number | string): Promise<void> {
    return this.remove(`paths/${id(pathId)}/enrol`);
  }

  /** A private path of the learner's own, from questions they can see. */
  createPath(body: { title: string; description?: string; questions: number[] }): Promise<IPath> {
    return this.post<IPath>('paths', body);
  }

  deletePath(pathId: number | string): Promise<void> {
    return this.remove(`paths/${id(pathId)}`);
  }

  // quizzes

  async quizzes(course: string): Promise<IQuiz[]> {
    return (await this.get<{ quizzes: IQuiz[] }>(`quizzes${query({ course })}`)).quizzes;
  }

  quiz(quizId: number | string): Promise<IQuiz> {
    return this.get<IQuiz>(`quizzes/${id(quizId)}`);
  }

  startQuiz(quizId: number | string): Promise<IQuiz> {
    return this.post<IQuiz>(`quizzes/${id(quizId)}/start`);
  }

  finishQuiz(quizId: number | string): Promise<IQuiz> {
    return this.post<IQuiz>(`quizzes/${id(quizId)}/finish`);
  }

  // duels

  duels(course: string): Promise<IDuelList> {
    return this.get<IDuelList>(`duels${query({ course })}`);
  }

  duel(duelId: number | string): Promise<IDuel> {
    return this.get<IDuel>(`duels/${id(duelId)}`);
  }

  createDuel(request: IDuelRequest): Promise<IDuel> {
    return this.post<IDuel>('duels', request);
  }

  /** accept, decline, cancel (an open challenge of one's own) or resign (an active duel). */
  duelAction(
    duelId: number | string,
    action: 'accept' | 'decline' | 'cancel' | 'resign'
  ): Promise<IDuel> {
    return this.post<IDuel>(`duels/${id(duelId)}/${action}`);
  }

  ratings(course: string): Promise<IRatings> {
    return this.get<IRatings>(`duels/ratings${query({ course })}`);
  }

  // the push channel

  /**
   * The learner's events (`GET events`, server-sent): `lastEventId` replays what was
   * missed since; `signal` closes the stream.
   */
  async events(lastEventId: string, signal?: AbortSignal): Promise<ITextStream> {
    const url = `${this.settings.baseUrl.replace(/\/?$/, '/')}coursehub/api/events`;
    const headers: Record<string, string> = { Accept: 'text/event-stream' };
    if (lastEventId) {
      headers['Last-Event-ID'] = lastEventId;
    }
    let response: Response;
    try {
      response = await ServerConnection.makeRequest(url, { headers, signal }, this.settings);
    } catch {
      throw new CoursehubError(errorMessage(0, ''), 0);
    }
    return eventStreamOf(response);
  }
}
