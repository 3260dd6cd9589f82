// How the project's tests and benchmarks start Chromium: Debian's browser (CHROMIUM_PATH to
// change), headless, with the flags this machine's closed network needs (no background
// networking, component updates or sync: their connections are refused, many at a time).

/** The browser executable. */
export const chromiumPath = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/** The command-line flags every launch uses. */
export const chromiumArgs = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];
