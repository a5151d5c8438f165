/**
 * Typed client of the coursehub server extension at `<baseUrl>coursehub/api/`.
 * Requests go through ServerConnection, which carries the server's token and XSRF cookie.
 * Every failure is a CoursehubError whose message is plain text for the learner.
 */
import { ServerConnection } from '@jupyterlab/services';

import { errorMessage } from './format';
import { ITextStream, textStream } from './sse';
import {
  ILeaderboard,
  IModule,
  IOpenResult,
  IProfile,
  IProgress,
  IQuestion,
  IQuestionFilters,
  ISubmission
} from './types';

/**
 * An event stream that says nothing for this long is taken for dead: the grader sends
 * a keep-alive comment every 15 s or so, and the server extension relays it.
 */
const STREAM_IDLE_MS = 45_000;

export class CoursehubError extends Error {
  constructor(
    message: string,
    readonly status: number
  ) {
    super(message);
    this.name = 'CoursehubError';
  }
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
      throw new CoursehubError(errorMessage(response.status, text), response.status);
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

  async modules(): Promise<IModule[]> {
    return (await this.request<{ modules: IModule[] }>('modules')).modules;
  }

  async questions(): Promise<IQuestion[]> {
    return (await this.request<{ questions: IQuestion[] }>('questions')).questions;
  }

  filters(): Promise<IQuestionFilters> {
    return this.request<IQuestionFilters>('questions/filters');
  }

  question(id: number | string): Promise<IQuestion> {
    return this.request<IQuestion>(`questions/${encodeURIComponent(String(id))}`);
  }

  open(id: number | string): Promise<IOpenResult> {
    return this.post<IOpenResult>(`questions/${encodeURIComponent(String(id))}/open`, {});
  }

  submit(id: number | string, path: string): Promise<Pick<ISubmission, 'id' | 'status'>> {
    return this.post(`questions/${encodeURIComponent(String(id))}/submit`, { path });
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

  progress(): Promise<IProgress> {
    return this.request<IProgress>('progress');
  }

  profile(): Promise<IProfile> {
    return this.request<IProfile>('profile');
  }

  leaderboard(module: string, offset: number, limit: number): Promise<ILeaderboard> {
    return this.request<ILeaderboard>(`leaderboard${query({ module, offset, limit })}`);
  }
}
