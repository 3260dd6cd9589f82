import type { OutboxStorage } from './outbox.js';

/** What is stored under `t/<tempId>`: which operation introduced it, and its fate. @internal */
export interface TempIdRecord {
  v: 1;
  /** The id of the create operation that introduced the temporary id. */
  operationId: string;
  /** The server's id, once the create succeeded. */
  serverId?: string;
  /** Set when the create failed for good: operations referring to it cannot succeed. */
  failed?: true;
}

const prefix = 't/';

/**
 * Temporary ids (client-made ids of records the server has not created yet). A create declares
 * the temporary id it introduces; later operations that mention it (in URL or body) record it as
 * a reference; when the create succeeds, the server id is stored, and each referring operation
 * has the temporary id replaced — durably — right before it is sent.
 */
export class TempIds {
  readonly #storage: OutboxStorage;
  #known = new Set<string>();

  constructor(storage: OutboxStorage) {
    this.#storage = storage;
  }

  /** Learn the temporary ids from a listing of the namespace's keys. */
  load(keys: string[]): void {
    for (const key of keys) if (key.startsWith(prefix)) this.#known.add(key.slice(prefix.length));
  }

  /** Record that operation `operationId` introduces `tempId` (before the operation is written). */
  async introduce(tempId: string, operationId: string): Promise<void> {
    this.#known.add(tempId);
    await this.#storage.set(prefix + tempId, { v: 1, operationId } satisfies TempIdRecord);
  }

  /** Remember a temporary id seen on a stored operation (e.g. one queued in another tab). */
  learn(tempId: string): void {
    this.#known.add(tempId);
  }

  /** Whether `tempId` was introduced by some operation. */
  isKnown(tempId: string): boolean {
    return this.#known.has(tempId);
  }

  /** The known temporary ids that appear in `texts`. */
  referencesIn(...texts: Array<string | undefined>): string[] {
    const found: string[] = [];
    for (const tempId of this.#known) if (texts.some((text) => text?.includes(tempId))) found.push(tempId);
    return found;
  }

  async get(tempId: string): Promise<TempIdRecord | undefined> {
    if (!this.#known.has(tempId)) return undefined;
    return ((await this.#storage.get(prefix + tempId)) as TempIdRecord | undefined) ?? undefined;
  }

  /** Store the outcome of the create that introduced `tempId`. */
  async settle(
    tempId: string,
    operationId: string,
    outcome: { serverId: string } | { failed: true },
  ): Promise<void> {
    this.#known.add(tempId);
    await this.#storage.set(prefix + tempId, { v: 1, operationId, ...outcome } satisfies TempIdRecord);
  }

  /** Forget every temporary id (with `clearQueue()`). */
  async clear(): Promise<void> {
    for (const tempId of this.#known) await this.#storage.remove(prefix + tempId);
    this.#known = new Set();
  }
}

/** Replace `tempId` by `serverId` in a URL (percent-encoded) and in JSON text (string-escaped). @internal */
export function substituteTempId(
  url: string,
  bodyText: string | undefined,
  tempId: string,
  serverId: string,
): { url: string; bodyText: string | undefined } {
  const inJson = JSON.stringify(serverId).slice(1, -1);
  return {
    url: url.split(tempId).join(encodeURIComponent(serverId)),
    bodyText: bodyText?.split(tempId).join(inJson),
  };
}

/** Read the server id from a response: a field name (default `id`) or a function. @internal */
export function extractServerId(
  response: unknown,
  from: string | ((response: unknown) => string | number | undefined),
): string | undefined {
  const value =
    typeof from === 'function'
      ? from(response)
      : response !== null && typeof response === 'object'
        ? (response as Record<string, unknown>)[from]
        : undefined;
  if (typeof value === 'string' && value !== '') return value;
  if (typeof value === 'number' && Number.isFinite(value)) return String(value);
  return undefined;
}
