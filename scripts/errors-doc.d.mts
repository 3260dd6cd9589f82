// Types for errors-doc.mjs.
/** Every code of the `…ErrorCode` unions in src/, with its group, file and development messages. */
export function collectErrors(): Promise<Map<string, { group: string; file: string; messages: Set<string> }>>;
/** docs/errors.md as it should read. */
export function renderErrors(): Promise<string>;
