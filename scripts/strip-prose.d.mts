// Types for strip-prose.mjs.
import type { Plugin } from 'esbuild';

/** The source with the prose of errors and warnings left out (see strip-prose.mjs). */
export function stripProse(source: string, fileName?: string): string;
/** An esbuild plugin applying {@link stripProse} to the project's TypeScript sources. */
export function stripProsePlugin(): Plugin;
