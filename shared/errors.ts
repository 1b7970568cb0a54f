/**
 * Typed HTTP errors. Handlers throw these; only the shared wrapper turns them into responses,
 * so every error body has the FastAPI shape `{"detail": ...}` that clients already parse.
 */

/** One entry of a 422 body, as FastAPI writes it. */
export interface ValidationIssue {
  loc: (string | number)[];
  msg: string;
  type: string;
}

export class HttpError extends Error {
  readonly status: number;
  readonly detail: string | ValidationIssue[];
  readonly headers: Readonly<Record<string, string>>;

  constructor(status: number, detail: string | ValidationIssue[], headers: Record<string, string> = {}) {
    super(typeof detail === 'string' ? detail : `request validation failed (${detail.length} issues)`);
    this.name = 'HttpError';
    this.status = status;
    this.detail = detail;
    this.headers = headers;
  }
}

/** 422 with a list of issues, the shape FastAPI uses for request validation failures. */
export class ValidationError extends HttpError {
  constructor(issues: ValidationIssue[]) {
    super(422, issues);
    this.name = 'ValidationError';
  }
}
