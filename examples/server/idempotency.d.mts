// Types for idempotency.mjs.
import type { StoredResponse } from './server.d.mts';

export type { StoredResponse };
export interface KeyRecord {
  fingerprint: string;
  response: StoredResponse;
  storedAt: number;
}
export type KeyTable = Record<string, KeyRecord>;
export type KeyOutcome =
  | { kind: 'new' }
  | { kind: 'replay'; response: StoredResponse }
  | { kind: 'key-reuse' }
  | { kind: 'in-progress' };

export const MAX_KEY_LENGTH: number;
export function isValidKey(key: unknown): key is string;
export function fingerprintOf(method: string, path: string, body: Uint8Array): string;
export function shouldRemember(status: number): boolean;

export class IdempotencyKeys {
  constructor(ttlMs: number);
  begin(table: KeyTable, key: string, fingerprint: string, now: number): KeyOutcome;
  release(key: string): void;
  remember(table: KeyTable, key: string, fingerprint: string, response: StoredResponse, now: number): void;
  forgetExpired(table: KeyTable, now: number): void;
}
