/**
 * The Instructor tab: authoring the notebook open in JupyterLab as a question of the
 * chosen course. Its fields live in the notebook's `metadata.coursehub` (see
 * authoring.ts); Validate, Save, Preview, Release and Retire call the grader through
 * the server extension, which relays them with the server's token: the grader decides
 * who may author (the course's instructors). nbgrader's own Create Assignment sidebar
 * marks the cells (answers, tests, read-only).
 */
import { Dialog, showDialog } from '@jupyterlab/apputils';
import { INotebookTracker, NotebookPanel } from '@jupyterlab/notebook';
import React, { useCallback, useEffect, useState } from 'react';

import { CoursehubAPI } from './api';
import {
  buildMetadata,
  createBody,
  DIFFICULTIES,
  formProblems,
  IAuthoringForm,
  mayHaveSubmissions,
  notASource,
  readAuthoring,
  regradeFinished,
  regradePercent,
  regradeText,
  releaseTime,
  savedQuestionId,
  statusText,
  updateBody,
  validationLines,
  withQuestionId
} from './authoring';
import { ErrorMessage } from './common';
import { ICourse, IModule, IQuestion, IRegradeProgress, IValidation } from './types';

/** How often the regrade's progress is asked for. */
const REGRADE_POLL_MS = 2000;

export interface IInstructorTabProps {
  api: CoursehubAPI;
  course: ICourse;
  tracker: INotebookTracker;
  /** Open a file of the server (the preview) in JupyterLab. */
  openPath: (path: string) => Promise<void>;
  /** Reveal nbgrader's Create Assignment sidebar; false when it is not there. */
  showCreateAssignment: () => boolean;
}

/** The notebook JupyterLab shows (or last showed), re-rendering when it or its metadata change. */
function useCurrentNotebook(tracker: INotebookTracker): [NotebookPanel | null, number] {
  const [panel, setPanel] = useState<NotebookPanel | null>(tracker.currentWidget);
  const [changes, setChanges] = useState(0);
  useEffect(() => {
    const onCurrent = () => setPanel(tracker.currentWidget);
    tracker.currentChanged.connect(onCurrent);
    return () => {
      tracker.currentChanged.disconnect(onCurrent);
    };
  }, [tracker]);
  useEffect(() => {
    if (!panel) {
      return;
    }
    const bump = () => setChanges(n => n + 1);
    const closed = () => setPanel(tracker.currentWidget === panel ? null : tracker.currentWidget);
    let model = panel.model;
    model?.metadataChanged.connect(bump);
    panel.context.pathChanged.connect(bump);
    panel.disposed.connect(closed);
    // the model is there once the file is loaded
    void panel.context.ready.then(() => {
      if (!panel.isDisposed && panel.model !== model) {
        model?.metadataChanged.disconnect(bump);
        model = panel.model;
        model?.metadataChanged.connect(bump);
      }
      bump();
    });
    return () => {
      model?.metadataChanged.disconnect(bump);
      panel.context.pathChanged.disconnect(bump);
      panel.disposed.disconnect(closed);
    };
  }, [panel, tracker]);
  return [panel, changes];
}

type Message = { kind: 'ok' | 'error'; text: string } | null;

export function InstructorTab(props: IInstructorTabProps): JSX.Element {
  const [panel, changes] = useCurrentNotebook(props.tracker);
  const copy = panel ? notASource(panel.model?.getMetadata('coursehub')) : null;
  let content: JSX.Element;
  if (!panel) {
    content = (
      <p className="ch-muted" data-testid="ch-instructor-no-notebook">
        Open a notebook to author it as a question of {props.course.title}.
      </p>
    );
  } else if (copy) {
    content = (
      <p className="ch-muted" data-testid="ch-instructor-not-source" data-path={panel.context.path}>
        {copy}
      </p>
    );
  } else {
    // a new form for each notebook
    content = <NotebookAuthoring key={panel.id} {...props} panel={panel} changes={changes} />;
  }
  return (
    <div className="ch-instructor" data-testid="ch-instructor">
      <CreateAssignmentNote showCreateAssignment={props.showCreateAssignment} />
      {content}
    </div>
  );
}

function CreateAssignmentNote(props: { showCreateAssignment: () => boolean }): JSX.Element {
  const [missing, setMissing] = useState(false);
  return (
    <div className="ch-note" data-testid="ch-instructor-nbgrader">
      <p>
        Mark the cells (answers, tests, read-only) with nbgrader&apos;s{' '}
        <b>Create Assignment</b> sidebar in the right side bar: it writes the cell metadata a
        question is made of.
      </p>
      <button
        className="ch-button"
        data-testid="ch-instructor-create-assignment"
        onClick={() => setMissing(!props.showCreateAssignment())}
      >
        Open Create Assignment
      </button>
      {missing && (
        <p className="ch-muted">
          The Create Assignment sidebar is not enabled in this JupyterLab: ask your administrator
          to make you an instructor there.
        </p>
      )}
    </div>
  );
}

function NotebookAuthoring(
  props: IInstructorTabProps & { panel: NotebookPanel; changes: number }
): JSX.Element {
  const { api, course, panel } = props;
  const model = panel.model;
  const raw: unknown = model?.getMetadata('coursehub');
  const questionId = savedQuestionId(raw);

  const [form, setForm] = useState<IAuthoringForm>(() => readAuthoring(raw, panel.context.path));
  const [modules, setModules] = useState<IModule[]>([]);
  const [question, setQuestion] = useState<IQuestion | null>(null);
  const [validation, setValidation] = useState<IValidation | null>(null);
  const [regrade, setRegrade] = useState<IRegradeProgress | null>(null);
  const [regrading, setRegrading] = useState(false);
  const [releaseAt, setReleaseAt] = useState('');
  const [busy, setBusy] = useState<string | null>(null);
  const [message, setMessage] = useState<Message>(null);

  // the form follows the notebook until the file is loaded (its metadata arrives then)
  const [touched, setTouched] = useState(false);
  useEffect(() => {
    if (!touched) {
      setForm(readAuthoring(model?.getMetadata('coursehub'), panel.context.path));
    }
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [props.changes]);

  useEffect(() => {
    let live = true;
    api.modules(course.slug).then(
      m => live && setModules(m),
      (e: Error) => live && setMessage({ kind: 'error', text: e.message })
    );
    return () => {
      live = false;
    };
  }, [api, course.slug]);

  const loadQuestion = useCallback(async () => {
    if (questionId === null) {
      setQuestion(null);
      return;
    }
    try {
      const { notebook: _student, ...summary } = await api.question(questionId);
      setQuestion(summary);
    } catch (e) {
      setQuestion(null);
      setMessage({ kind: 'error', text: `Question ${questionId}: ${(e as Error).message}` });
    }
  }, [api, questionId]);
  useEffect(() => {
    void loadQuestion();
  }, [loadQuestion]);

  // the regrade's progress, polled until nothing is left waiting or running
  useEffect(() => {
    if (!regrading || questionId === null) {
      return;
    }
    let live = true;
    const poll = async () => {
      try {
        const progress = await api.regradeProgress(questionId);
        if (!live) {
          return;
        }
        setRegrade(progress);
        if (regradeFinished(progress)) {
          setRegrading(false);
        }
      } catch (e) {
        if (live) {
          setMessage({ kind: 'error', text: (e as Error).message });
          setRegrading(false);
        }
      }
    };
    void poll();
    const timer = setInterval(() => void poll(), REGRADE_POLL_MS);
    return () => {
      live = false;
      clearInterval(timer);
    };
  }, [api, questionId, regrading]);

  const set = (key: keyof IAuthoringForm) => (value: string) => {
    setTouched(true);
    setForm(f => ({ ...f, [key]: value }));
  };

  /** Run one action at a time; its failure becomes the message. */
  const run = async (name: string, action: () => Promise<void>) => {
    setBusy(name);
    setMessage(null);
    try {
      await action();
    } catch (e) {
      setMessage({ kind: 'error', text: (e as Error).message });
    } finally {
      setBusy(null);
    }
  };

  /** The form into `metadata.coursehub`; returns what was stored. */
  const storeMetadata = () => {
    const meta = buildMetadata(form, model?.getMetadata('coursehub'));
    model?.setMetadata('coursehub', meta);
    setTouched(false);
    return meta;
  };

  const validate = () =>
    run('validate', async () => {
      setValidation(null);
      if (!model) {
        return;
      }
      setValidation(await api.validate(model.toJSON()));
    });

  const save = () =>
    run('save', async () => {
      if (!model) {
        return;
      }
      const problems = formProblems(form, modules);
      if (problems.length) {
        setMessage({ kind: 'error', text: problems.join(' ') });
        return;
      }
      if (questionId === null) {
        const module = modules.find(m => m.slug === form.module) as IModule;
        const meta = storeMetadata();
        const created = await api.createQuestion(
          createBody(form, course.slug, module, model.toJSON())
        );
        model.setMetadata('coursehub', withQuestionId(meta, created.id));
        await panel.context.save();
        setQuestion(created);
        setMessage({
          kind: 'ok',
          text:
            `Saved as a draft (question ${created.id}): ` +
            'learners do not see it until you release it.'
        });
        return;
      }
      let again = false;
      if (mayHaveSubmissions(question)) {
        const choice = await askRegrade();
        if (choice === null) {
          return;
        }
        again = choice;
      }
      storeMetadata();
      const saved = await api.updateQuestion(questionId, updateBody(form, model.toJSON(), again));
      await panel.context.save();
      setQuestion(saved);
      setMessage({
        kind: 'ok',
        text: again
          ? 'Saved the new version; regrading the existing submissions.'
          : 'Saved the new version.'
      });
      if (again) {
        setRegrade(null);
        setRegrading(true);
      }
    });

  const preview = () =>
    run('preview', async () => {
      if (questionId !== null) {
        await props.openPath((await api.preview(questionId)).path);
      }
    });

  const release = (when: 'now' | 'at') =>
    run(`release-${when}`, async () => {
      if (questionId === null) {
        return;
      }
      const time = when === 'now' ? 'now' : releaseTime(releaseAt);
      if (time === null) {
        setMessage({ kind: 'error', text: 'Choose the date and time of the release.' });
        return;
      }
      setQuestion(await api.release(questionId, time));
      setMessage({
        kind: 'ok',
        text: when === 'now' ? 'Released: learners see it now.' : 'Release scheduled.'
      });
    });

  const retire = () =>
    run('retire', async () => {
      if (questionId === null) {
        return;
      }
      const result = await showDialog({
        title: `Retire ${form.title || `question ${questionId}`}?`,
        body:
          'Learners will no longer see it and it leaves their totals and the leaderboard. ' +
          'Its submissions and scores are kept.',
        buttons: [Dialog.cancelButton(), Dialog.warnButton({ label: 'Retire' })]
      });
      if (!result.button.accept) {
        return;
      }
      await api.retire(questionId);
      setQuestion(null);
      setMessage({ kind: 'ok', text: 'Retired: learners no longer see it.' });
    });

  const saved = questionId !== null;
  const disabled = busy !== null || !model;
  return (
    <div
      className="ch-authoring"
      data-testid="ch-instructor-notebook"
      data-path={panel.context.path}
    >
      <p className="ch-authoring-file">
        Notebook: <code>{panel.context.path}</code>
      </p>
      <p className="ch-authoring-status" data-testid="ch-instructor-status">
        {saved
          ? `Question ${questionId}: ${question ? statusText(question) : 'saved'}`
          : 'Not saved to the course yet.'}
      </p>

      <fieldset className="ch-authoring-fields" disabled={disabled}>
        <legend>Question</legend>
        <TextField
          label="Title"
          testid="ch-instructor-title"
          value={form.title}
          onChange={set('title')}
        />
        <SelectField
          label="Module"
          ariaLabel="Module of the question"
          testid="ch-instructor-module"
          value={form.module}
          onChange={set('module')}
          empty="Choose a module"
          options={modules.map(m => ({ value: m.slug, label: m.title }))}
          // a saved question stays in its module: the grader does not move questions
          disabled={saved}
        />
        <TextField
          label="Slug"
          testid="ch-instructor-slug"
          value={form.slug}
          onChange={set('slug')}
          disabled={saved}
        />
        <TextField
          label="Category"
          testid="ch-instructor-category"
          value={form.category}
          onChange={set('category')}
        />
        <SelectField
          label="Difficulty"
          ariaLabel="Difficulty"
          testid="ch-instructor-difficulty"
          value={form.difficulty}
          onChange={set('difficulty')}
          empty="None"
          options={DIFFICULTIES.map(d => ({ value: d, label: d }))}
        />
        <TextField
          label="Tags"
          testid="ch-instructor-tags"
          value={form.tags}
          onChange={set('tags')}
          placeholder="comma, separated"
        />
        <button
          className="ch-button"
          data-testid="ch-instructor-apply"
          onClick={() => storeMetadata()}
          title="Write these fields into the notebook's metadata (coursehub)"
        >
          Store in notebook
        </button>
      </fieldset>

      <div className="ch-authoring-actions">
        <button
          className="ch-button"
          data-testid="ch-instructor-validate"
          disabled={disabled}
          onClick={() => void validate()}
          title="Grade the reference solution and the student version"
        >
          {busy === 'validate' ? 'Validating…' : 'Validate'}
        </button>
        <button
          className="ch-button ch-mod-primary"
          data-testid="ch-instructor-save"
          disabled={disabled}
          onClick={() => void save()}
        >
          {saved ? 'Save new version' : 'Save as draft'}
        </button>
        <button
          className="ch-button"
          data-testid="ch-instructor-preview"
          disabled={disabled || !saved}
          onClick={() => void preview()}
          title="Open the student version, as learners get it (read-only)"
        >
          Preview as learner
        </button>
      </div>

      <ErrorMessage
        message={message?.kind === 'error' ? message.text : null}
        testid="ch-instructor-error"
      />
      {message?.kind === 'ok' && (
        <p className="ch-ok" role="status" data-testid="ch-instructor-message">
          {message.text}
        </p>
      )}

      {validation && <ValidationResult result={validation} />}

      {(regrading || regrade) && (
        <div className="ch-regrade" data-testid="ch-instructor-regrade" data-done={!regrading}>
          <div>{regrade ? regradeText(regrade) : 'Regrading…'}</div>
          <div
            className="ch-progressbar"
            role="progressbar"
            aria-label="Regrading"
            aria-valuemin={0}
            aria-valuemax={100}
            aria-valuenow={regrade ? regradePercent(regrade) : 0}
          >
            <div
              className="ch-progressbar-fill"
              style={{ width: `${regrade ? regradePercent(regrade) : 0}%` }}
            />
          </div>
        </div>
      )}

      <fieldset className="ch-authoring-release" disabled={disabled || !saved}>
        <legend>Release</legend>
        <button
          className="ch-button"
          data-testid="ch-instructor-release-now"
          onClick={() => void release('now')}
        >
          Release now
        </button>
        <div className="ch-release-at">
          <input
            type="datetime-local"
            data-testid="ch-instructor-release-date"
            aria-label="Release date and time (your local time)"
            value={releaseAt}
            onChange={e => setReleaseAt(e.target.value)}
          />
          <button
            className="ch-button"
            data-testid="ch-instructor-release-at"
            onClick={() => void release('at')}
          >
            Release at
          </button>
        </div>
        <button
          className="ch-button ch-mod-warn"
          data-testid="ch-instructor-retire"
          onClick={() => void retire()}
        >
          Retire
        </button>
      </fieldset>
    </div>
  );
}

/** Ask whether the new version grades the existing submissions again; null: cancel. */
async function askRegrade(): Promise<boolean | null> {
  const result = await showDialog({
    title: 'Regrade existing submissions?',
    body:
      'Learners may have submitted answers to this question. Grade every submission ' +
      'again with the new version, or keep their scores as they are?',
    buttons: [
      Dialog.cancelButton(),
      Dialog.okButton({ label: 'Keep scores', displayType: 'default' }),
      Dialog.okButton({ label: 'Regrade' })
    ]
  });
  if (!result.button.accept) {
    return null;
  }
  return result.button.label === 'Regrade';
}

function TextField(props: {
  label: string;
  testid: string;
  value: string;
  onChange: (value: string) => void;
  placeholder?: string;
  disabled?: boolean;
}): JSX.Element {
  return (
    <label className="ch-field">
      <span>{props.label}</span>
      <input
        type="text"
        data-testid={props.testid}
        value={props.value}
        placeholder={props.placeholder}
        disabled={props.disabled}
        onChange={e => props.onChange(e.target.value)}
      />
    </label>
  );
}

/** A `<select>` with an empty choice first (`empty`, e.g. "None"). */
function SelectField(props: {
  label: string;
  ariaLabel: string;
  testid: string;
  value: string;
  onChange: (value: string) => void;
  empty: string;
  options: { value: string; label: string }[];
  disabled?: boolean;
}): JSX.Element {
  return (
    <label className="ch-field">
      <span>{props.label}</span>
      <select
        data-testid={props.testid}
        aria-label={props.ariaLabel}
        value={props.value}
        disabled={props.disabled}
        onChange={e => props.onChange(e.target.value)}
      >
        <option value="">{props.empty}</option>
        {props.options.map(o => (
          <option key={o.value} value={o.value}>
            {o.label}
          </option>
        ))}
      </select>
    </label>
  );
}

function ValidationResult({ result }: { result: IValidation }): JSX.Element {
  return (
    <div
      className={`ch-validation ${result.ok ? 'ch-mod-passed' : 'ch-mod-failed'}`}
      data-testid="ch-instructor-validation"
      data-ok={result.ok ? 'true' : 'false'}
      role="status"
    >
      <div className="ch-validation-verdict">
        {result.ok ? '✓ Ready to save' : '✗ Not ready: fix the problems below'}
      </div>
      {validationLines(result).map(line => (
        <div
          key={line}
          className="ch-validation-score"
          data-testid="ch-instructor-validation-score"
        >
          {line}
        </div>
      ))}
      {result.problems.length > 0 && (
        <ul className="ch-problems">
          {result.problems.map((p, i) => (
            <li key={i} data-testid="ch-instructor-problem">
              {p}
            </li>
          ))}
        </ul>
      )}
    </div>
  );
}
