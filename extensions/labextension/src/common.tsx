/** Small pieces shared by the panel's tabs. */
import React from 'react';

export function ErrorMessage({
  message,
  testid
}: {
  message: string | null;
  testid?: string;
}): JSX.Element | null {
  return message ? (
    <div className="ch-error" role="alert" data-testid={testid}>
      {message}
    </div>
  ) : null;
}
