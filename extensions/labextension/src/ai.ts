/**
 * AI hints and the tutor: the answers the grader streams (server-sent events of text
 * pieces, then `done` or `error`), and the learner's answer cells' code that a
 * message to the tutor carries. No JupyterLab import, so it is unit-tested.
 */
import { IServerSentEvent, ITextStream, parseSSE, SSE_START } from './sse';

/** What the learner may ask the course's AI about a question (`questions/{id}/ai`). */
export interface IAIStatus {
  question: number;
  hints: boolean;
  tutor: boolean;
  daily_budget: number;
  used_today: number;
  /** share of the question's XP an AI hint costs a later solve */
  hint_cost: number;
}

export interface ITutorMessage {
  role: 'learner' | 'tutor';
  text: string;
  status?: string;
  error?: string | null;
  created: string | null;
}

export interface ITutorConversation {
  question: number;
  tutor: boolean;
  messages: ITutorMessage[];
  max_chars: number;
}

/** How an answer ended: `ok` with its exchange, or `error` with the message. */
export interface IAIAnswer {
  status: 'ok' | 'error';
  text: string;
  exchange: number | null;
  error: string | null;
}

/** The answer's events, applied one at a time: text so far, then how it ended. */
export function applyAIEvent(answer: IAIAnswer, message: IServerSentEvent): IAIAnswer {
  let data: { text?: unknown; exchange?: unknown; message?: unknown };
  try {
    data = JSON.parse(message.data);
  } catch {
    return answer;
  }
  const exchange = typeof data.exchange === 'number' ? data.exchange : answer.exchange;
  if (message.event === 'message' && typeof data.text === 'string') {
    return { ...answer, text: answer.text + data.text };
  }
  if (message.event === 'done') {
    return { ...answer, status: 'ok', exchange };
  }
  if (message.event === 'error') {
    const error = typeof data.message === 'string' ? data.message : 'The AI request failed.';
    return { ...answer, status: 'error', exchange, error };
  }
  return answer;
}

/**
 * Read an AI answer to its end, calling `onUpdate` with the text so far as each piece
 * arrives. A stream that ends without `done` is an error (the connection broke).
 */
export async function readAIAnswer(
  stream: ITextStream,
  onUpdate: (answer: IAIAnswer) => void
): Promise<IAIAnswer> {
  let answer: IAIAnswer = { status: 'error', text: '', exchange: null, error: null };
  let state = SSE_START;
  let ended = false;
  try {
    for (;;) {
      const piece = await stream.read();
      if (piece === null) {
        break;
      }
      const parsed = parseSSE(state, piece);
      state = parsed.state;
      for (const message of parsed.messages) {
        answer = applyAIEvent(answer, message);
        ended = ended || message.event === 'done' || message.event === 'error';
        onUpdate(answer);
      }
    }
  } catch (e) {
    answer = { ...answer, status: 'error', error: (e as Error).message };
    ended = true;
  } finally {
    stream.close();
  }
  if (!ended) {
    answer = { ...answer, status: 'error', error: 'The answer broke off before its end.' };
  }
  onUpdate(answer);
  return answer;
}

interface ICellLike {
  cell_type?: string;
  source?: string | string[];
  metadata?: { nbgrader?: { solution?: boolean } };
}

/** The code of a notebook's answer cells (nbgrader solution cells), in order. */
export function answerCells(cells: ICellLike[]): string[] {
  return cells
    .filter(c => c.cell_type === 'code' && c.metadata?.nbgrader?.solution === true)
    .map(c => (Array.isArray(c.source) ? c.source.join('') : c.source ?? ''));
}

/** What the hint button says it costs ("costs a quarter of …"). */
export function aiHintCostText(cost: number): string {
  if (!cost) {
    return 'Free: it does not lower your XP.';
  }
  return `Each AI hint lowers the XP of a later solve by ${Math.round(cost * 100)}%.`;
}
