/**
 * The results area of a question's notebook: one view under the notebook (never a pane
 * beside it, so the notebook keeps its width), updated in place by every submission.
 * It shows the latest result again after a reload, the learner's past submissions
 * (each reopenable, with its notebook as submitted), the question's hints, and a small
 * celebration when a grading earned XP or an achievement. When the course has AI help
 * on: "Ask the AI for a hint" under a graded submission (its answer streamed in), and a
 * tutor chat about the question.
 */
import { ReactWidget } from '@jupyterlab/ui-components';
import React from 'react';

import {
  aiHintCostText,
  IAIAnswer,
  IAIStatus,
  ITutorConversation,
  readAIAnswer
} from './ai';
import { CoursehubAPI } from './api';
import { celebrationOf, hintCostText, ICelebration } from './awards';
import { formatScore, testTitle } from './format';
import { IntegrityNotice, IntegrityReport } from './integrityNotice';
import { LearnerSettings } from './learner';
import { agoText } from './profile';
import {
  followSubmission,
  IResultState,
  isFinal,
  queueDetail,
  statusText
} from './results';
import { IHints, IQuestion, ISubmission } from './types';

const sleep = (ms: number) => new Promise<void>(resolve => setTimeout(resolve, ms));

/** How tall the open area is: a third of the window, within reason. */
function openHeight(): number {
  return Math.round(Math.max(180, Math.min(360, window.innerHeight * 0.36)));
}
const CLOSED_HEIGHT = 34;

export interface IResultsAreaOptions {
  questionId: string;
  api: CoursehubAPI;
  settings: LearnerSettings;
  openPath: (path: string) => Promise<void>;
  /** The code of the open notebook's answer cells (sent with a tutor message). */
  answerCode?: () => string[] | null;
}

export class ResultsArea extends ReactWidget {
  readonly questionId: string;
  /** null: no submission yet */
  result: IResultState | null = null;
  /** the result shown is the one just graded (celebrate it), not one reloaded */
  fresh = false;
  celebration: ICelebration | null = null;
  /** the celebration's animation runs (the first seconds only) */
  confetti = false;
  /** the id of an older submission shown instead of the latest, or null */
  viewing: string | null = null;
  history: ISubmission[] | null = null;
  historyOpen = false;
  question: IQuestion | null = null;
  hints: IHints | null = null;
  hintsOpen = false;
  message: string | null = null;
  /** what the course's AI may be asked (null: not known, or off) */
  ai: IAIStatus | null = null;
  /** the AI hint being streamed (or the last one) and the submission it is about */
  aiHint: IAIAnswer | null = null;
  aiHintFor: string | null = null;
  aiBusy = false;
  tutorOpen = false;
  tutor: ITutorConversation | null = null;
  tutorDraft = '';
  /** the tutor's answer being streamed */
  tutorAnswer: IAIAnswer | null = null;
  tutorAsked = '';
  open = false;
  /** the course records integrity signals: say what, under the notebook */
  integrity = false;
  /** Incremented by every new submission, so an older loop stops. */
  run = 0;
  private following = new AbortController();

  constructor(private options: IResultsAreaOptions) {
    super();
    this.questionId = options.questionId;
    const safe = options.questionId.replace(/[^A-Za-z0-9_-]/g, '_');
    this.id = `coursehub-results-${safe}-${Private.next()}`;
    this.addClass('ch-ResultsArea');
    this.setOpen(false);
  }

  /** The question, the history, and the latest result again (after a reload). */
  async load(): Promise<void> {
    const { api, questionId } = this.options;
    api.question(questionId).then(
      ({ notebook: _student, ...q }) => {
        this.question = q;
        this.update();
      },
      () => undefined // the title stays generic
    );
    api.aiStatus(questionId).then(
      status => {
        this.ai = status;
        this.update();
      },
      () => undefined // no AI help: nothing to show
    );
    await this.loadHistory();
    const latest = this.history?.[0];
    if (latest && this.result === null) {
      await this.showSubmission(latest.id, false);
      if (this.result && !isFinal(this.result)) {
        void this.follow(this.result, this.startRun());
      }
    }
  }

  async loadHistory(): Promise<void> {
    try {
      this.history = await this.options.api.submissions(this.options.questionId);
    } catch (e) {
      this.history = this.history ?? [];
    }
    this.update();
  }

  /** Show a submission (the latest, or an older one the learner chose). */
  async showSubmission(id: number | string, older: boolean): Promise<void> {
    try {
      const s = await this.options.api.submission(id);
      this.result = {
        phase: s.status,
        submissionId: String(s.id),
        submission: s,
        message: s.status === 'error' ? s.error || 'Grading failed.' : null
      };
      this.viewing = older ? String(s.id) : null;
      this.fresh = false;
      this.celebration = null;
      this.message = null;
      this.setOpen(true);
    } catch (e) {
      this.message = (e as Error).message;
      this.update();
    }
  }

  /**
   * Begin showing a new submission: the older one's event stream is closed. Returns
   * the signal that closes this one's, aborted by the next run or closing the notebook.
   */
  startRun(): AbortSignal {
    this.following.abort();
    this.following = new AbortController();
    this.run++;
    this.viewing = null;
    this.fresh = true;
    this.celebration = null;
    this.setOpen(true);
    return this.following.signal;
  }

  /** Follow a submission to its end (the stream, else polling); the final state. */
  async follow(start: IResultState, signal: AbortSignal): Promise<IResultState> {
    const run = this.run;
    const cancelled = () => run !== this.run || this.isDisposed;
    const api = this.options.api;
    const final = await followSubmission(start, {
      openStream: id => api.submissionEvents(id, signal),
      fetch: id => api.submission(id),
      sleep,
      update: state => {
        if (!cancelled()) {
          this.setResult(state);
        }
      },
      cancelled
    });
    if (!cancelled()) {
      void this.loadHistory();
    }
    return final;
  }

  setResult(state: IResultState): void {
    this.result = state;
    if (this.fresh && state.phase === 'graded' && state.submission) {
      const awards = state.submission.awards;
      this.options.settings.get(this.question?.course ?? '').then(settings => {
        if (this.result === state) {
          this.celebration = celebrationOf(awards, settings);
          this.confetti = this.celebration !== null;
          this.update();
          // once: showing the notebook again would replay the animation
          setTimeout(() => {
            this.confetti = false;
            this.update();
          }, 2500);
        }
      });
    }
    this.update();
  }

  dispose(): void {
    this.following.abort();
    super.dispose();
  }

  setOpen(open: boolean): void {
    this.open = open;
    const height = `${open ? openHeight() : CLOSED_HEIGHT}px`;
    this.node.style.minHeight = height;
    this.node.style.maxHeight = height;
    this.toggleClass('ch-mod-open', open);
    this.parent?.fit();
    this.update();
  }

  toggleHistory(): void {
    this.historyOpen = !this.historyOpen;
    this.setOpen(true);
    if (this.historyOpen) {
      void this.loadHistory();
    }
  }

  async toggleHints(): Promise<void> {
    this.hintsOpen = !this.hintsOpen;
    this.setOpen(true);
    if (this.hintsOpen && this.hints === null) {
      try {
        this.hints = await this.options.api.hints(this.options.questionId);
        this.message = null;
      } catch (e) {
        this.message = (e as Error).message;
      }
      this.update();
    }
  }

  async revealHint(): Promise<void> {
    try {
      this.hints = await this.options.api.revealHint(this.options.questionId);
      this.message = null;
    } catch (e) {
      this.message = (e as Error).message;
    }
    this.update();
  }

  /** Ask the AI for a hint on the submission shown, its answer streamed in. */
  async askAIHint(): Promise<void> {
    const id = this.result?.submissionId;
    if (!id || this.aiBusy) {
      return;
    }
    this.aiBusy = true;
    this.aiHintFor = id;
    this.aiHint = { status: 'ok', text: '', exchange: null, error: null };
    this.update();
    try {
      const stream = await this.options.api.askHint(id);
      await readAIAnswer(stream, answer => {
        this.aiHint = answer;
        this.update();
      });
    } catch (e) {
      this.aiHint = { status: 'error', text: '', exchange: null, error: (e as Error).message };
    }
    this.aiBusy = false;
    void this.refreshAIStatus();
    this.update();
  }

  async refreshAIStatus(): Promise<void> {
    try {
      this.ai = await this.options.api.aiStatus(this.options.questionId);
    } catch {
      // keep what was known
    }
    this.update();
  }

  async toggleTutor(): Promise<void> {
    this.tutorOpen = !this.tutorOpen;
    this.setOpen(true);
    if (this.tutorOpen && this.tutor === null) {
      try {
        this.tutor = await this.options.api.tutor(this.options.questionId);
      } catch (e) {
        this.message = (e as Error).message;
      }
      this.update();
    }
  }

  /** Send the draft to the tutor with the answer cells' code; its answer streamed in. */
  async sendToTutor(): Promise<void> {
    const text = this.tutorDraft.trim();
    if (!text || this.aiBusy) {
      return;
    }
    this.aiBusy = true;
    this.tutorAsked = text;
    this.tutorAnswer = { status: 'ok', text: '', exchange: null, error: null };
    this.update();
    try {
      const code = this.options.answerCode?.() ?? null;
      const stream = await this.options.api.tellTutor(this.options.questionId, text, code);
      this.tutorDraft = '';
      await readAIAnswer(stream, answer => {
        this.tutorAnswer = answer;
        this.update();
      });
      this.tutor = await this.options.api.tutor(this.options.questionId);
      this.tutorAnswer = null;
    } catch (e) {
      this.tutorAnswer = {
        status: 'error',
        text: '',
        exchange: null,
        error: (e as Error).message
      };
    }
    this.aiBusy = false;
    void this.refreshAIStatus();
    this.update();
  }

  async openNotebook(id: number | string): Promise<void> {
    try {
      const { path } = await this.options.api.openSubmission(id);
      await this.options.openPath(path);
    } catch (e) {
      this.message = (e as Error).message;
      this.update();
    }
  }

  setIntegrity(on: boolean): void {
    this.integrity = on;
    this.update();
  }

  render(): JSX.Element {
    return <ResultsAreaView area={this} />;
  }
}

namespace Private {
  let counter = 0;
  export function next(): number {
    return ++counter;
  }
}

function ResultsAreaView({ area }: { area: ResultsArea }): JSX.Element {
  const state = area.result;
  const s = state?.submission ?? null;
  const graded = state?.phase === 'graded' && s !== null;
  const queue = state ? queueDetail(state) : '';
  const title = area.question?.title;
  const hintCount = area.question?.hints ?? 0;
  const historyCount = area.history?.length ?? 0;
  return (
    <div
      className="ch-results"
      data-testid="ch-results"
      data-question-id={area.questionId}
      aria-busy={state !== null && !isFinal(state)}
    >
      <div className="ch-results-bar">
        <button
          className="ch-results-toggle"
          aria-expanded={area.open}
          aria-label={area.open ? 'Hide results' : 'Show results'}
          title={area.open ? 'Hide results' : 'Show results'}
          onClick={() => area.setOpen(!area.open)}
        >
          {area.open ? '▾' : '▸'}
        </button>
        <h2 className="ch-results-title">Results{title ? `: ${title}` : ''}</h2>
        <span className="ch-results-status" aria-live="polite">
          {state === null ? (
            <span className="ch-muted" data-testid="ch-status" data-phase="none">
              no submission yet
            </span>
          ) : (
            <>
              <span className={`ch-status ch-status-${state.phase}`} data-testid="ch-status">
                {statusText(state)}
              </span>
              {graded && (
                <>
                  {' · '}
                  <strong data-testid="ch-score">{formatScore(s.score, s.max_score)}</strong>
                </>
              )}
              {queue && (
                <span className="ch-queue">
                  {' · '}
                  <span data-testid="ch-queue">{queue}</span>
                </span>
              )}
              {!isFinal(state) && <span className="ch-spinner" aria-hidden="true" />}
            </>
          )}
        </span>
        <span className="ch-results-actions">
          {hintCount > 0 && (
            <button
              className="ch-button"
              data-testid="ch-hints-toggle"
              aria-expanded={area.hintsOpen}
              onClick={() => void area.toggleHints()}
            >
              Hints ({hintCount})
            </button>
          )}
          {area.ai?.tutor && (
            <button
              className="ch-button"
              data-testid="ch-tutor-toggle"
              aria-expanded={area.tutorOpen}
              onClick={() => void area.toggleTutor()}
            >
              Tutor
            </button>
          )}
          <button
            className="ch-button"
            data-testid="ch-history-toggle"
            aria-expanded={area.historyOpen}
            onClick={() => area.toggleHistory()}
          >
            History{historyCount ? ` (${historyCount})` : ''}
          </button>
        </span>
      </div>
      {/* before any submission too, whether the results are shown or not: a learner is
          told what is recorded before it is */}
      {area.integrity && <IntegrityNotice compact />}
      {area.open && (
        <div className="ch-results-body">
          {s?.integrity && <IntegrityReport report={s.integrity} />}
          {area.message && (
            <div className="ch-error" role="alert">
              {area.message}
            </div>
          )}
          {area.celebration && (
            <Celebration celebration={area.celebration} animated={area.confetti} />
          )}
          {area.viewing !== null && s && (
            <p className="ch-results-older" data-testid="ch-viewing-older">
              An earlier submission (#{s.id}, {agoText(s.created, Date.now()) || 'earlier'}).{' '}
              <button
                className="ch-link"
                onClick={() => {
                  const latest = area.history?.[0];
                  if (latest) {
                    void area.showSubmission(latest.id, false);
                  }
                }}
              >
                Back to the latest
              </button>
            </p>
          )}
          {state?.message && (
            <div className="ch-error" role="alert">
              {state.message}
            </div>
          )}
          {area.historyOpen && <HistoryView area={area} />}
          {area.hintsOpen && <HintsView area={area} />}
          {area.tutorOpen && <TutorView area={area} />}
          {graded && (s.tests || []).length > 0 && (
            <ul className="ch-tests" aria-label="Tests">
              {(s.tests || []).map((t, i) => (
                <li
                  key={`${i}-${t.name}`}
                  className={`ch-test ${t.passed ? 'ch-mod-passed' : 'ch-mod-failed'}`}
                  data-testid="ch-test"
                  data-test-name={t.name}
                  data-passed={t.passed ? 'true' : 'false'}
                  data-hidden={t.hidden ? 'true' : 'false'}
                >
                  <div className="ch-test-head">
                    <span className="ch-test-outcome">
                      {t.passed ? '✓ passed' : '✗ failed'}
                    </span>
                    <span className="ch-test-name" title={t.name}>
                      {testTitle(t)}
                    </span>
                    {t.hidden && <span className="ch-chip ch-hidden">hidden test</span>}
                    <span className="ch-test-points">{formatScore(t.points, t.max_points)}</span>
                  </div>
                  {t.message && !t.passed && <pre className="ch-test-message">{t.message}</pre>}
                </li>
              ))}
            </ul>
          )}
          {graded && area.ai?.hints && <AIHintView area={area} />}
          {state === null && !area.historyOpen && !area.hintsOpen && !area.tutorOpen && (
            <p className="ch-muted">Submit your notebook: the results appear here.</p>
          )}
        </div>
      )}
    </div>
  );
}

function Celebration(props: { celebration: ICelebration; animated: boolean }): JSX.Element {
  const celebration = props.celebration;
  return (
    <div
      className={`ch-celebration${props.animated ? ' ch-mod-animated' : ''}`}
      role="status"
      data-testid="ch-celebration"
    >
      {props.animated && (
        <div className="ch-confetti" aria-hidden="true">
          {Array.from({ length: 14 }, (_, i) => (
            <span key={i} className={`ch-confetti-piece ch-confetti-${i % 7}`} />
          ))}
        </div>
      )}
      <div className="ch-celebration-line">
        {celebration.xp && (
          <span className="ch-celebration-xp" data-testid="ch-xp">
            {celebration.xp}
          </span>
        )}
        {celebration.streak && (
          <span className="ch-celebration-streak" data-testid="ch-streak">
            🔥 {celebration.streak}
          </span>
        )}
      </div>
      {celebration.achievements.map(a => (
        <div key={a.key} className="ch-achievement-new" data-testid="ch-achievement">
          <span className="ch-achievement-icon" aria-hidden="true">
            {a.icon}
          </span>
          <span>
            Achievement unlocked: <strong>{a.title}</strong>
            {a.description && <span className="ch-muted"> — {a.description}</span>}
          </span>
        </div>
      ))}
    </div>
  );
}

function AIAnswerText({ answer, testid }: { answer: IAIAnswer; testid: string }): JSX.Element {
  return (
    <>
      {answer.text && (
        <div className="ch-ai-text" data-testid={testid} aria-live="polite">
          {answer.text}
        </div>
      )}
      {answer.status === 'error' && answer.error && (
        <div className="ch-error" role="alert" data-testid={`${testid}-error`}>
          {answer.error}
        </div>
      )}
    </>
  );
}

function budgetText(ai: IAIStatus): string {
  const left = Math.max(0, ai.daily_budget - ai.used_today);
  return `${left} of ${ai.daily_budget} AI requests left today.`;
}

function AIHintView({ area }: { area: ResultsArea }): JSX.Element {
  const ai = area.ai as IAIStatus;
  const shown = area.aiHintFor === area.result?.submissionId ? area.aiHint : null;
  return (
    <section className="ch-ai-hint" data-testid="ch-ai-hint-area" aria-label="AI hint">
      <p>
        <button
          className="ch-button"
          data-testid="ch-ai-hint-ask"
          disabled={area.aiBusy}
          onClick={() => void area.askAIHint()}
        >
          {area.aiBusy && shown ? 'The AI is answering…' : 'Ask the AI for a hint'}
        </button>{' '}
        <span className="ch-muted">
          {aiHintCostText(ai.hint_cost)} {budgetText(ai)}
        </span>
      </p>
      {shown && <AIAnswerText answer={shown} testid="ch-ai-hint" />}
    </section>
  );
}

function TutorView({ area }: { area: ResultsArea }): JSX.Element {
  const conversation = area.tutor;
  const max = conversation?.max_chars ?? 2000;
  return (
    <section className="ch-tutor" data-testid="ch-tutor" aria-label="Tutor">
      <h3>Tutor</h3>
      {conversation === null && <p className="ch-muted">Loading the conversation…</p>}
      <ol className="ch-tutor-messages">
        {(conversation?.messages ?? []).map((m, i) => (
          <li
            key={i}
            className={`ch-tutor-message ch-mod-${m.role}`}
            data-testid="ch-tutor-message"
            data-role={m.role}
          >
            {m.status === 'error' ? <span className="ch-muted">({m.error})</span> : m.text}
          </li>
        ))}
        {area.tutorAnswer && (
          <>
            <li className="ch-tutor-message ch-mod-learner" data-role="learner">
              {area.tutorAsked}
            </li>
            <li className="ch-tutor-message ch-mod-tutor" data-role="tutor">
              <AIAnswerText answer={area.tutorAnswer} testid="ch-tutor-answer" />
            </li>
          </>
        )}
      </ol>
      <form
        className="ch-tutor-form"
        onSubmit={e => {
          e.preventDefault();
          void area.sendToTutor();
        }}
      >
        <textarea
          className="ch-tutor-input"
          data-testid="ch-tutor-input"
          aria-label="Your message to the tutor"
          maxLength={max}
          value={area.tutorDraft}
          onChange={e => {
            area.tutorDraft = e.target.value;
            area.update();
          }}
        />
        <button
          className="ch-button"
          type="submit"
          data-testid="ch-tutor-send"
          disabled={area.aiBusy || !area.tutorDraft.trim()}
        >
          Send
        </button>{' '}
        {area.ai && <span className="ch-muted">{budgetText(area.ai)}</span>}
      </form>
    </section>
  );
}

function HintsView({ area }: { area: ResultsArea }): JSX.Element {
  const hints = area.hints;
  if (!hints) {
    return <p className="ch-muted">Loading hints…</p>;
  }
  const left = hints.count - hints.revealed.length;
  return (
    <section className="ch-hints" data-testid="ch-hints" aria-label="Hints">
      <ol className="ch-hint-list">
        {hints.revealed.map(h => (
          <li key={h.index} data-testid="ch-hint">
            {h.text}
          </li>
        ))}
      </ol>
      {left > 0 ? (
        <p>
          <span className="ch-muted">{hintCostText(hints.xp_penalty)}</span>{' '}
          <button
            className="ch-button"
            data-testid="ch-reveal-hint"
            onClick={() => void area.revealHint()}
          >
            Reveal hint {hints.revealed.length + 1} of {hints.count}
          </button>
        </p>
      ) : (
        <p className="ch-muted">Every hint is revealed.</p>
      )}
    </section>
  );
}

function HistoryView({ area }: { area: ResultsArea }): JSX.Element {
  const history = area.history;
  const now = Date.now();
  return (
    <section className="ch-history" data-testid="ch-history" aria-label="Your submissions">
      <h3>Your submissions</h3>
      {history === null && <p className="ch-muted">Loading…</p>}
      {history?.length === 0 && <p className="ch-muted">None yet.</p>}
      <ul>
        {(history || []).map(s => {
          const shown = area.result?.submissionId === String(s.id);
          return (
            <li
              key={s.id}
              className={`ch-history-row${shown ? ' ch-mod-shown' : ''}`}
              data-testid="ch-history-row"
              data-submission-id={String(s.id)}
            >
              <span className="ch-history-id">#{s.id}</span>
              <span className="ch-history-score">
                {s.status === 'graded' ? formatScore(s.score, s.max_score) : s.status}
              </span>
              <span className="ch-muted">{agoText(s.created, now)}</span>
              <button
                className="ch-button"
                aria-label={`Show submission ${s.id}`}
                disabled={shown}
                onClick={() => void area.showSubmission(s.id, s !== history?.[0])}
              >
                Show
              </button>
              <button
                className="ch-button"
                aria-label={`Open the notebook of submission ${s.id}`}
                onClick={() => void area.openNotebook(s.id)}
              >
                Notebook
              </button>
            </li>
          );
        })}
      </ul>
    </section>
  );
}
