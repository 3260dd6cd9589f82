/** Internal property names the builds shorten (see mangle.mjs). */
export const MANGLED: readonly string[];
/** The esbuild `mangleProps` option: exactly the names of {@link MANGLED}. */
export const mangleProps: RegExp;
/** Problems with the list against the sources under `root` (empty when it is safe). */
export function mangleProblems(root: string): string[];
/** Listed names found in the built declarations of `distDir` (empty when none is public). */
export function publicApiProblems(distDir: string): string[];
