/**
 * Watches a test file for credentials leaking into what the service writes: every token and
 * secret the tests present is noted, and so is every log line and error body the services wrote;
 * after the file, none of the latter may contain any of the former (see `no-leaks.setup.ts`).
 */
const presented = new Set<string>();
const written: string[] = [];

/** Notes a token or secret the tests handed to the service (short values are too common to search for). */
export function notePresented(credential: string): void {
  // A JWT's signature identifies it; searching for it alone also catches a token quoted in part.
  const needle = credential.split('.').at(-1) ?? credential;
  if (needle.length >= 16) presented.add(needle);
}

/** Notes a log line or an error body the service wrote. */
export function noteWritten(text: string): void {
  written.push(text);
}

/** The credentials found in what the services wrote, each with the start of the text it was found in. */
export function leaks(): string[] {
  const found: string[] = [];
  for (const text of written) {
    for (const needle of presented) if (text.includes(needle)) found.push(`${needle.slice(0, 12)}… in ${text.slice(0, 200)}`);
  }
  return found;
}
