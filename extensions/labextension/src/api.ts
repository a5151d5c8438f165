/**
 * Typed client of the coursehub server extension at `<baseUrl>coursehub/api/`.
 * Requests go through ServerConnection, which carries the server's token and XSRF cookie.
 * Every failure is a CoursehubError whose message is plain text for the learner.
 */
import { ServerConnection } from '@jupyterlab/services';

import { IAIStatus, ITutorConversation } from './ai';
import { errorMessage } from './format';
import { IIntegritySignals } from './integrity';
import { ITextStream, textStream } from './sse';
import {
  ICourse,
  ILeaderboard,
  IModule,
  IAchievements,
  IHints,
  IOpenResult,
  IPreviewResult,
  IProfile,
  IProfileUpdate,
  IProgress,
  IQuestion,
  IQuestionDetail,
  IQuestionFilters,
  IRegradeProgress,
  ISubmission,
  IValidation
} from './types';

/**
 * An event stream that says nothing for this long is taken for dead: the grader sends
 * a keep-alive comment every 15 s or so, and the server extension relays it.
 */
const STREAM_IDLE_MS = 45_000;

export class CoursehubError extends Error {
  constructor(
    message: string,
    readonly status: number,
    /** seconds, from a 429's Retry-After (a cool-off): when to try again */
    readonly retryAfter: number | null = null
  ) {
    super(message);
    this.name = 'CoursehubError';
  }
}

/** Retry-After in seconds (the grader sends seconds, never a date); null if absent. */
/** The text of a server-sent event stream the server answered with, or the error it
 * answered instead (a refusal, or something that is not a stream). */
export async function eventStreamOf(response: Response): Promise<ITextStream> {
  if (!response.ok) {
    const text = await response.text();
    throw new CoursehubError(errorMessage(response.status, text), response.status);
  }
  const type = response.headers.get('Content-Type') ?? '';
  if (!response.body || !type.startsWith('text/event-stream')) {
    response.body?.cancel().catch(() => undefined);
    throw new CoursehubError('The server did not answer with an event stream.', response.status);
  }
  return textStream(response.body, STREAM_IDLE_MS);
}

function retryAfterOf(response: Response): number | null {
  const value = Number(response.headers.get('Retry-After') ?? NaN);
  return Number.isFinite(value) && value >= 0 ? value : null;
}

function query(params: Record<string, string | number | undefined | null>): string {
  const parts = Object.entries(params)
    .filter(([, v]) => v !== undefined && v !== null && v !== '')
    .map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(String(v))}`);
  return parts.length ? `?${parts.join('&')}` : '';
}

export class CoursehubAPI {
  constructor(private settings: ServerConnection.ISettings = ServerConnection.makeSettings()) {}

  async request<T>(path: string, init: RequestInit = {}): Promise<T> {
    const response = await this.send(path, init);
    const text = await response.text();
    if (!response.ok) {
      throw new CoursehubError(
        errorMessage(response.status, text),
        response.status,
        retryAfterOf(response)
      );
    }
    if (!text) {
      return undefined as T;
    }
    try {
      return JSON.parse(text) as T;
    } catch {
      throw new CoursehubError(
        `The server answered with something that is not JSON (status ${response.status}).`,
        response.status
      );
    }
  }

  /** The response to `<baseUrl>coursehub/api/<path>`, whatever its status. */
  private async send(path: string, init: RequestInit): Promise<Response> {
    const url = `${this.settings.baseUrl.replace(/\/?$/, '/')}coursehub/api/${path}`;
    try {
      return await ServerConnection.makeRequest(url, init, this.settings);
    } catch (e) {
      // a NetworkError (an aborted request too): the server (or the network) is down
      throw new CoursehubError(errorMessage(0, ''), 0);
    }
  }

  private post<T>(path: string, body: unknown): Promise<T> {
    return this.request<T>(path, { method: 'POST', body: JSON.stringify(body) });
  }

  private put<T>(path: string, body: unknown): Promise<T> {
    return this.request<T>(path, { method: 'PUT', body: JSON.stringify(body) });
  }

  /** The courses the user is in and those they may join. */
  async courses(): Promise<ICourse[]> {
    return (await this.request<{ courses: ICourse[] }>('courses')).courses;
  }

  /** Join a course: an open one without a code, one that needs it with the code. */
  enrol(course: string, code: string | null): Promise<ICourse> {
    return this.post<ICourse>(
      `courses/${encodeURIComponent(course)}/enrol`,
      code === null ? {} : { code }
    );
  }

  async modules(course: string): Promise<IModule[]> {
    return (await this.request<{ modules: IModule[] }>(`modules${query({ course })}`)).modules;
  }

  async questions(course: string): Promise<IQuestion[]> {
    return (await this.request<{ questions: IQuestion[] }>(`questions${query({ course })}`))
      .questions;
  }

  filters(course: string): Promise<IQuestionFilters> {
    return this.request<IQuestionFilters>(`questions/filters${query({ course })}`);
  }

  question(id: number | string): Promise<IQuestionDetail> {
    return this.request<IQuestionDetail>(`questions/${encodeURIComponent(String(id))}`);
  }

  /** Grade a source notebook's reference solution and student version (instructors). */
  validate(notebook: unknown): Promise<IValidation> {
    return this.post<IValidation>('questions/validate', { notebook });
  }

  /** Save a new question (instructors); see authoring.createBody. */
  createQuestion(body: Record<string, unknown>): Promise<IQuestion> {
    return this.post<IQuestion>('questions', body);
  }

  /** A new version, new fields, a release time (instructors); see authoring.updateBody. */
  updateQuestion(id: number | string, body: Record<string, unknown>): Promise<IQuestion> {
    return this.put<IQuestion>(`questions/${encodeURIComponent(String(id))}`, body);
  }

  /** Release now ("now") or at an ISO time. */
  release(id: number | string, when: string): Promise<IQuestion> {
    return this.updateQuestion(id, { release: when });
  }

  /** Retire: learners no longer see it; submissions and scores stay. */
  async retire(id: number | string): Promise<void> {
    await this.request<void>(`questions/${encodeURIComponent(String(id))}`, { method: 'DELETE' });
  }

  regradeProgress(id: number | string): Promise<IRegradeProgress> {
    return this.request<IRegradeProgress>(`questions/${encodeURIComponent(String(id))}/regrade`);
  }

  /** Write the student version to a read-only preview notebook; its path. */
  preview(id: number | string): Promise<IPreviewResult> {
    return this.post<IPreviewResult>(`questions/${encodeURIComponent(String(id))}/preview`, {});
  }

  open(id: number | string): Promise<IOpenResult> {
    return this.post<IOpenResult>(`questions/${encodeURIComponent(String(id))}/open`, {});
  }

  /** Submit the saved notebook at `path`; `integrity`: the signals recorded for it, in
   * a course that records them (src/integrity.ts), else left out. */
  submit(
    id: number | string,
    path: string,
    integrity: IIntegritySignals | null = null
  ): Promise<Pick<ISubmission, 'id' | 'status'>> {
    const body = integrity ? { path, integrity } : { path };
    return this.post(`questions/${encodeURIComponent(String(id))}/submit`, body);
  }

  submission(id: number | string): Promise<ISubmission> {
    return this.request<ISubmission>(`submissions/${encodeURIComponent(String(id))}`);
  }

  /**
   * The submission's server-sent events (`event: submission` on every change), read
   * as text as they arrive; `signal` closes the stream.
   */
  async submissionEvents(id: number | string, signal?: AbortSignal): Promise<ITextStream> {
    const response = await this.send(`submissions/${encodeURIComponent(String(id))}/events`, {
      headers: { Accept: 'text/event-stream' },
      signal
    });
    return eventStreamOf(response);
  }

  progress(course: string): Promise<IProgress> {
    return this.request<IProgress>(`progress${query({ course })}`);
  }

  profile(course: string): Promise<IProfile> {
    return this.request<IProfile>(`profile${query({ course })}`);
  }

  /** Another learner's public profile in the course. */
  publicProfile(name: string, course: string): Promise<IProfile> {
    return this.request<IProfile>(`profiles/${encodeURIComponent(name)}${query({ course })}`);
  }

  updateProfile(course: string, changes: IProfileUpdate): Promise<IProfile> {
    return this.request<IProfile>(`profile${query({ course })}`, {
      method: 'PATCH',
      body: JSON.stringify(changes)
    });
  }

  /** Upload an avatar: the file's bytes as they are, its type in Content-Type. */
  uploadAvatar(file: Blob): Promise<IProfile> {
    return this.request<IProfile>('profile/avatar', {
      method: 'PUT',
      body: file,
      headers: { 'Content-Type': file.type }
    });
  }

  async removeAvatar(): Promise<void> {
    await this.request<void>('profile/avatar', { method: 'DELETE' });
  }

  /**
   * The URL an `<img>` shows an avatar from (the grader's relative one, served through
   * this server's extension); null for none, or anything but a profiles/ path.
   */
  avatarUrl(relative: string | null | undefined): string | null {
    if (!relative || !/^profiles\/[^/?#]+\/avatar(\?v=[\w.-]+)?$/.test(relative)) {
      return null;
    }
    return `${this.settings.baseUrl.replace(/\/?$/, '/')}coursehub/api/${relative}`;
  }

  achievements(course: string): Promise<IAchievements> {
    return this.request<IAchievements>(`achievements${query({ course })}`);
  }

  hints(questionId: number | string): Promise<IHints> {
    return this.request<IHints>(`questions/${encodeURIComponent(String(questionId))}/hints`);
  }

  /** Reveal the next hint (409 when all are revealed). */
  revealHint(questionId: number | string): Promise<IHints> {
    return this.post<IHints>(`questions/${encodeURIComponent(String(questionId))}/hints`, {});
  }

  /** What the learner may ask the course's AI about a question. */
  aiStatus(questionId: number | string): Promise<IAIStatus> {
    return this.request<IAIStatus>(`questions/${encodeURIComponent(String(questionId))}/ai`);
  }

  /** Ask the AI for a hint on a graded submission: its answer, streamed. */
  async askHint(submissionId: number | string, signal?: AbortSignal): Promise<ITextStream> {
    const path = `submissions/${encodeURIComponent(String(submissionId))}/hint`;
    return eventStreamOf(await this.send(path, { method: 'POST', body: '{}', signal }));
  }

  /** The learner's conversation with the tutor about a question. */
  tutor(questionId: number | string): Promise<ITutorConversation> {
    return this.request<ITutorConversation>(`tutor/${encodeURIComponent(String(questionId))}`);
  }

  /** A message to the tutor with the learner's answer cells' code: its answer, streamed. */
  async tellTutor(
    questionId: number | string,
    text: string,
    code: string[] | null,
    signal?: AbortSignal
  ): Promise<ITextStream> {
    const path = `tutor/${encodeURIComponent(String(questionId))}/messages`;
    const body = JSON.stringify(code === null ? { text } : { text, code });
    return eventStreamOf(await this.send(path, { method: 'POST', body, signal }));
  }

  /** The learner's submissions to a question, newest first. */
  async submissions(questionId: number | string, limit = 20): Promise<ISubmission[]> {
    const path = `submissions${query({ question: String(questionId), limit })}`;
    return (await this.request<{ submissions: ISubmission[] }>(path)).submissions;
  }

  /** Write a past submission's notebook beside the question's (read-only); its path. */
  openSubmission(id: number | string): Promise<IOpenResult> {
    return this.post<IOpenResult>(`submissions/${encodeURIComponent(String(id))}/open`, {});
  }

  leaderboard(
    course: string,
    module: string,
    offset: number,
    limit: number
  ): Promise<ILeaderboard> {
    return this.request<ILeaderboard>(`leaderboard${query({ course, module, offset, limit })}`);
  }
}
