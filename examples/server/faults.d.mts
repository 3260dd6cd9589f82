// Types for faults.mjs.
import type { Fault } from './server.d.mts';

export type { Fault };
export function takesFault(method: string, pathname: string, isChangesFeed?: boolean): boolean;
export function parseFaults(value: unknown): Fault[];
export class FaultQueue {
  add(faults: Fault[]): void;
  take(): Fault;
  list(): Fault[];
  clear(): void;
}
