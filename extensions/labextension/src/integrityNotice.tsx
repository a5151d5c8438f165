/**
 * The notice a learner sees when their course records integrity signals: in the course
 * home and under each question's notebook. What is recorded, what is not, who sees it.
 */
import React from 'react';

import {
  IIntegrityReport,
  NOT_RECORDED,
  NOTICE_CAVEAT,
  NOTICE_TITLE,
  RECORDED,
  reportText
} from './integrity';

export function IntegrityNotice(props: { compact?: boolean }): JSX.Element {
  const body = (
    <>
      <p>Recorded with each of your submissions:</p>
      <ul>
        {RECORDED.map(item => (
          <li key={item}>{item}</li>
        ))}
      </ul>
      <p>Never recorded: {NOT_RECORDED.join(', ')}.</p>
      <p className="ch-muted">{NOTICE_CAVEAT}</p>
    </>
  );
  return (
    <section className="ch-integrity-notice" data-testid="ch-integrity-notice" role="note">
      {props.compact ? (
        <details>
          <summary>{NOTICE_TITLE}</summary>
          {body}
        </details>
      ) : (
        <>
          <h2 className="ch-integrity-title">{NOTICE_TITLE}</h2>
          {body}
        </>
      )}
    </section>
  );
}

/** What was recorded with one of the learner's own submissions. */
export function IntegrityReport(props: { report: IIntegrityReport }): JSX.Element {
  return (
    <p className="ch-integrity-report ch-muted" data-testid="ch-integrity-report">
      Recorded with this submission: {reportText(props.report)}
    </p>
  );
}
