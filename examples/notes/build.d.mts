// Types for build.mjs (plain JavaScript, so Node runs it without a build step).
import type { LogLevel } from 'esbuild';

/** examples/notes/dist, where the app is built (git-ignored). */
export const NOTES_DIST: string;

/** Bundles the app with esbuild, copies index.html and styles.css, writes sw.js (the service worker that precaches them); resolves with the output directory. */
export function buildNotes(options?: { outdir?: string; logLevel?: LogLevel }): Promise<string>;
