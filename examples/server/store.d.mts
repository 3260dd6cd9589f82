// Types for store.mjs.
export class JsonFileDatabase<T> {
  constructor(file: string | null, initial: T);
  static open<T>(file: string | null, createEmpty: () => T): Promise<JsonFileDatabase<T>>;
  readonly current: T;
  update<R>(mutate: (draft: T) => R | Promise<R>): Promise<R>;
  close(): Promise<void>;
}
export function writeJsonFileAtomically(file: string, value: unknown): Promise<void>;
