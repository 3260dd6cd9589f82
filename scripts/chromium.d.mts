// Types for chromium.mjs.
/** The browser executable. */
export const chromiumPath: string;
/** The command-line flags every launch uses. */
export const chromiumArgs: readonly string[];
