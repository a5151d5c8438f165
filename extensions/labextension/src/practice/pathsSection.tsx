/**
 * Learning paths in the Practice sidebar: the course's public paths and the learner's
 * own, each with its progress, enrol / leave, "Next" (the first unsolved question) and
 * its items with their solved marks; a form to make a private path from chosen
 * questions.
 */
import React, { useState } from 'react';

import { ErrorMessage } from '../common';
import { useLoad } from '../useLoad';
import { ActionButton, ISectionProps, ProgressBar, TypeChip, useAction } from './common';
import { itemScoreText, itemsProgress, newPathProblem, orderPaths, pathProgress } from './format';
import { IPath } from './types';

export function PathsSection(props: ISectionProps): JSX.Element {
  const { api, refresh, live, course } = props;
  const loaded = useLoad(() => api.paths(course), refresh, [api, course], live);
  const [creating, setCreating] = useState(false);
  const paths = loaded.data ? orderPaths(loaded.data) : null;
  return (
    <div className="ch-practice-paths" data-testid="coursehub-practice-paths">
      <ErrorMessage message={loaded.error} testid="coursehub-practice-error" />
      {!paths && !loaded.error && <p className="ch-muted">Loading…</p>}
      {paths?.length === 0 && (
        <p className="ch-muted" data-testid="coursehub-practice-paths-empty">
          No learning path in this course yet.
        </p>
      )}
      {paths && paths.length > 0 && (
        <ul className="ch-practice-list">
          {paths.map(path => (
            <PathRow key={path.id} path={path} {...props} reload={loaded.reload} />
          ))}
        </ul>
      )}
      {creating ? (
        <NewPathForm
          {...props}
          onDone={created => {
            setCreating(false);
            if (created) {
              loaded.reload();
            }
          }}
        />
      ) : (
        <button
          className="ch-button"
          data-testid="coursehub-practice-path-new"
          onClick={() => setCreating(true)}
        >
          New private path…
        </button>
      )}
    </div>
  );
}

function PathRow(props: ISectionProps & { path: IPath; reload: () => void }): JSX.Element {
  const { path, api, reload } = props;
  const [expanded, setExpanded] = useState(false);
  const progress = pathProgress(path);
  const next = path.next;
  return (
    <li
      className={`ch-practice-item ch-practice-path${path.enrolled ? ' ch-mod-enrolled' : ''}`}
      data-testid="coursehub-practice-path"
      data-path-id={String(path.id)}
      data-enrolled={path.enrolled ? 'true' : 'false'}
      data-percent={Math.round(progress.percent)}
    >
      <div className="ch-practice-item-head">
        <span className="ch-practice-item-title">{path.title}</span>
        {!path.public && <span className="ch-chip">private</span>}
        {path.enrolled ? (
          <ActionButton
            label="Leave"
            testid="coursehub-practice-path-leave"
            ariaLabel={`Leave ${path.title}`}
            action={async () => {
              await api.leavePath(path.id);
              reload();
            }}
          />
        ) : (
          <ActionButton
            label="Enrol"
            primary
            testid="coursehub-practice-path-enrol"
            ariaLabel={`Enrol in ${path.title}`}
            action={async () => {
              await api.enrolPath(path.id);
              reload();
            }}
          />
        )}
      </div>
      {path.description && <div className="ch-question-description">{path.description}</div>}
      <ProgressBar
        progress={progress}
        label={`${path.title} progress`}
        testid="coursehub-practice-path-progress"
      />
      <div className="ch-practice-path-foot">
        <span className="ch-muted" data-testid="coursehub-practice-path-solved">
          {progress.text}
        </span>
        <button
          className="ch-link"
          data-testid="coursehub-practice-path-items-toggle"
          aria-expanded={expanded}
          onClick={() => setExpanded(e => !e)}
        >
          {expanded ? 'hide questions' : 'questions'}
        </button>
        {next ? (
          <ActionButton
            label="Next"
            primary={path.enrolled}
            testid="coursehub-practice-path-next"
            ariaLabel={`Next in ${path.title}: ${next.title}`}
            title={`Next: ${next.title}`}
            action={() => props.openQuestion(next.id)}
          />
        ) : (
          progress.total > 0 && (
            <span className="ch-solved" data-testid="coursehub-practice-path-done">
              ✓ done
            </span>
          )
        )}
      </div>
      {expanded && <PathItems {...props} />}
    </li>
  );
}

function PathItems(props: ISectionProps & { path: IPath }): JSX.Element {
  const { api, refresh, live, path } = props;
  const loaded = useLoad(() => api.path(path.id), refresh, [api, path.id], live);
  const detail = loaded.data;
  return (
    <div className="ch-practice-path-items" data-testid="coursehub-practice-path-items">
      <ErrorMessage message={loaded.error} testid="coursehub-practice-error" />
      {!detail && !loaded.error && <p className="ch-muted">Loading…</p>}
      {detail && (
        <>
          <ol className="ch-practice-sublist">
            {detail.items.map(item => (
              <li
                key={item.id}
                className={`ch-practice-subitem${item.solved ? ' ch-mod-solved' : ''}`}
                data-testid="coursehub-practice-path-item"
                data-question-id={String(item.id)}
                data-solved={item.solved ? 'true' : 'false'}
              >
                <span
                  className="ch-practice-mark"
                  aria-label={item.solved ? 'solved' : 'not solved'}
                >
                  {item.solved ? '✓' : '○'}
                </span>
                <span className="ch-practice-item-title">{item.title}</span>
                <TypeChip type={item.type} />
                <span className="ch-muted">{itemScoreText(item)}</span>
                <ActionButton
                  label="Open"
                  testid="coursehub-practice-path-item-open"
                  ariaLabel={`Open ${item.title}`}
                  action={() => props.openQuestion(item.id)}
                />
              </li>
            ))}
          </ol>
          {detail.items.length === 0 && <p className="ch-muted">No question you can see yet.</p>}
          {detail.mine && !detail.public && (
            <ActionButton
              label="Delete this path"
              warn
              testid="coursehub-practice-path-delete"
              action={async () => {
                await api.deletePath(path.id);
                props.refresh.emit();
              }}
            />
          )}
          <span className="ch-muted ch-practice-items-count">
            {itemsProgress(detail.items).text}
          </span>
        </>
      )}
    </div>
  );
}

/** A private path: a title and questions of the course, in the order they are chosen. */
function NewPathForm(props: ISectionProps & { onDone: (created: boolean) => void }): JSX.Element {
  const { api, course, refresh } = props;
  const questions = useLoad(() => api.questions(course), refresh, [api, course]);
  const [title, setTitle] = useState('');
  const [chosen, setChosen] = useState<number[]>([]);
  const { busy, error, run } = useAction();
  const problem = newPathProblem(title, chosen);
  const toggle = (id: number) =>
    setChosen(c => (c.includes(id) ? c.filter(x => x !== id) : [...c, id]));
  return (
    <form
      className="ch-practice-form"
      data-testid="coursehub-practice-path-form"
      onSubmit={e => {
        e.preventDefault();
        if (problem) {
          return;
        }
        void run(async () => {
          await api.createPath({ title: title.trim(), questions: chosen });
          props.onDone(true);
        });
      }}
    >
      <label className="ch-field">
        <span>Title</span>
        <input
          type="text"
          data-testid="coursehub-practice-path-title"
          value={title}
          maxLength={200}
          onChange={e => setTitle(e.target.value)}
        />
      </label>
      <fieldset className="ch-practice-choose">
        <legend>Questions, in the order you tick them</legend>
        <ErrorMessage message={questions.error} testid="coursehub-practice-error" />
        {!questions.data && !questions.error && <p className="ch-muted">Loading…</p>}
        {(questions.data ?? []).map(q => {
          const id = Number(q.id);
          const position = chosen.indexOf(id);
          return (
            <label key={q.id} className="ch-check" data-testid="coursehub-practice-path-choice">
              <input
                type="checkbox"
                checked={position >= 0}
                data-question-id={String(q.id)}
                onChange={() => toggle(id)}
              />
              <span>
                {position >= 0 ? `${position + 1}. ` : ''}
                {q.title}
              </span>
            </label>
          );
        })}
      </fieldset>
      <ErrorMessage message={error} testid="coursehub-practice-error" />
      <div className="ch-form-buttons">
        <button
          type="submit"
          className="ch-button ch-mod-primary"
          data-testid="coursehub-practice-path-create"
          disabled={busy || problem !== null}
          title={problem ?? undefined}
        >
          Create path
        </button>
        <button type="button" className="ch-button" onClick={() => props.onDone(false)}>
          Cancel
        </button>
      </div>
    </form>
  );
}
