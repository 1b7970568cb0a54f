/**
 * Structured logging in Cloud Logging's JSON-line format: one object per line on stdout, with
 * `severity`, `message` and the special `httpRequest` / trace fields the log viewer understands.
 */

export type Severity = 'DEBUG' | 'INFO' | 'NOTICE' | 'WARNING' | 'ERROR' | 'CRITICAL';

/** Receives one finished log line (without the newline). */
export type LogSink = (line: string) => void;

const stdoutSink: LogSink = (line) => {
  process.stdout.write(`${line}\n`);
};

export class Logger {
  private readonly sink: LogSink;
  constructor(sink: LogSink = stdoutSink) {
    this.sink = sink;
  }

  write(severity: Severity, message: string, fields: Record<string, unknown> = {}): void {
    let line: string;
    try {
      line = JSON.stringify({ severity, message, ...fields }, bigintSafe);
    } catch {
      line = JSON.stringify({ severity, message, note: 'log fields could not be serialised' });
    }
    this.sink(line);
  }

  info(message: string, fields?: Record<string, unknown>): void {
    this.write('INFO', message, fields);
  }
  warn(message: string, fields?: Record<string, unknown>): void {
    this.write('WARNING', message, fields);
  }
  error(message: string, error: unknown, fields: Record<string, unknown> = {}): void {
    // Error Reporting picks up entries whose stack_trace holds a JS stack.
    const stack = error instanceof Error ? error.stack : String(error);
    this.write('ERROR', message, { ...fields, stack_trace: stack });
  }
}

function bigintSafe(_key: string, value: unknown): unknown {
  return typeof value === 'bigint' ? value.toString() : value;
}

/** Cloud Logging's trace field value from `X-Cloud-Trace-Context` or `traceparent`. */
export function traceField(
  headers: Readonly<Record<string, string | string[] | undefined>>,
  projectId: string | undefined,
): Record<string, string> {
  if (!projectId) return {};
  const cloud = headers['x-cloud-trace-context'];
  const parent = headers['traceparent'];
  let traceId: string | undefined;
  if (typeof cloud === 'string') traceId = cloud.split('/')[0];
  else if (typeof parent === 'string') traceId = parent.split('-')[1];
  return traceId ? { 'logging.googleapis.com/trace': `projects/${projectId}/traces/${traceId}` } : {};
}
