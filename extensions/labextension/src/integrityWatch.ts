/**
 * Integrity signals wired to JupyterLab: for each question notebook whose course
 * records them (`integrity: true` in `GET courses`), an IntegrityRecorder
 * (integrity.ts) fed by
 *
 * - `paste` events in the notebook's answer cells (the clipboard text is read for its
 *   length only, and not kept);
 * - the page's visibility and focus (leaving the tab or window), counted only while the
 *   question is part of a timed quiz or duel (`timedQuestions`, marked by the Practice
 *   sidebar);
 * - whether the notebook is on screen, checked every second (time shown).
 *
 * Nothing is recorded for a course that does not record signals, nothing else is
 * listened to, and nothing leaves the page but with a submission.
 */
import { NotebookPanel } from '@jupyterlab/notebook';

import { CoursehubAPI } from './api';
import { Refresh } from './events';
import {
  IIntegritySignals,
  integrityCourses,
  IntegrityRecorder,
  isAnswerCell,
  pasteSize,
  timedQuestions
} from './integrity';

/** How often whether the notebook is on screen is checked, ms. */
const SHOWN_CHECK_MS = 1000;

interface IWatched {
  questionId: string;
  recorder: IntegrityRecorder;
}

export class IntegrityWatch {
  private courses: Promise<Set<string>> | null = null;
  private watched = new Map<NotebookPanel, IWatched>();

  constructor(
    private api: CoursehubAPI,
    refresh: Refresh
  ) {
    // a course may have turned them on or off: ask again next time
    refresh.connect(() => {
      this.courses = null;
    });
  }

  /** Whether `course` (a slug) records integrity signals. */
  async recordsIn(course: string | null | undefined): Promise<boolean> {
    if (!course) {
      return false;
    }
    if (this.courses === null) {
      this.courses = this.api.courses().then(integrityCourses, () => new Set<string>());
    }
    return (await this.courses).has(course);
  }

  /** Whether `panel`'s notebook is being recorded. */
  isWatched(panel: NotebookPanel): boolean {
    return this.watched.has(panel);
  }

  /**
   * Record `panel`'s notebook (question `questionId`, opened at `opened`, ms) if the
   * question's `course` records signals; whether it does.
   */
  async watch(
    panel: NotebookPanel,
    questionId: string,
    course: string | null | undefined,
    opened: number
  ): Promise<boolean> {
    if (this.watched.has(panel)) {
      return true;
    }
    if (!(await this.recordsIn(course)) || panel.isDisposed) {
      return false;
    }
    const recorder = new IntegrityRecorder(opened, isShown(panel));
    this.watched.set(panel, { questionId, recorder });

    const onPaste = (event: Event) => {
      const cell = panel.content.widgets.find(c => c.node.contains(event.target as Node));
      if (!cell || !isAnswerCell({ nbgrader: cell.model.getMetadata('nbgrader') })) {
        return;
      }
      const text = (event as ClipboardEvent).clipboardData?.getData('text/plain') ?? '';
      recorder.paste(pasteSize(text)); // the size only: the text goes no further
    };
    const onPage = () => {
      const now = Date.now();
      const away = document.hidden || !document.hasFocus();
      recorder.away(
        away,
        now,
        timedQuestions.timedAt(questionId, now),
        timedQuestions.until(questionId)
      );
      recorder.shown(!document.hidden && panel.isVisible, now);
    };
    // capture: before the editor handles the paste
    panel.content.node.addEventListener('paste', onPaste, true);
    document.addEventListener('visibilitychange', onPage);
    window.addEventListener('blur', onPage);
    window.addEventListener('focus', onPage);
    const timer = setInterval(
      () => recorder.shown(!document.hidden && panel.isVisible, Date.now()),
      SHOWN_CHECK_MS
    );
    panel.disposed.connect(() => {
      clearInterval(timer);
      document.removeEventListener('visibilitychange', onPage);
      window.removeEventListener('blur', onPage);
      window.removeEventListener('focus', onPage);
      this.watched.delete(panel);
    });
    return true;
  }

  /** The signals to send with `panel`'s submission now, or null (not recorded). */
  signals(panel: NotebookPanel): IIntegritySignals | null {
    const watched = this.watched.get(panel);
    if (!watched) {
      return null;
    }
    const now = Date.now();
    watched.recorder.shown(!document.hidden && panel.isVisible, now);
    watched.recorder.timed(timedQuestions.timedAt(watched.questionId, now));
    return watched.recorder.signals(now);
  }
}

function isShown(panel: NotebookPanel): boolean {
  return typeof document !== 'undefined' && !document.hidden && panel.isVisible;
}
