// Summaries of V8 CPU profiles (Chromium's CDP profiler, Node's inspector): self time per function
// and per source file, idle and garbage collection shown as such. Used by bench/run.mjs (browser
// steps) and bench/node/main.mjs (Node steps), both under --profile.

/** Lines of the functions and the source files with the most self time over `profiles`. */
export function summarizeProfiles(profiles, { functions = 30, files = 12 } = {}) {
  const perFunction = new Map();
  const perFile = new Map();
  const add = (map, key) => map.set(key, (map.get(key) ?? 0) + 1);
  let total = 0;
  for (const profile of profiles) {
    const byId = new Map(profile.nodes.map((node) => [node.id, node.callFrame]));
    for (const id of profile.samples) {
      const { functionName, url, lineNumber } = byId.get(id);
      const file = url ? url.split('/').pop() : functionName || '(anonymous)';
      add(perFunction, `${functionName || '(anonymous)'} ${file}:${lineNumber + 1}`);
      add(perFile, file);
    }
    total += profile.samples.length;
  }
  const top = (map, count) =>
    [...map]
      .sort((a, b) => b[1] - a[1])
      .slice(0, count)
      .map(([key, n]) => `${((n / total) * 100).toFixed(1).padStart(5)}%  ${key}`);
  return [
    `profile: ${total} samples; self time per function:\n${top(perFunction, functions).join('\n')}`,
    `self time per file:\n${top(perFile, files).join('\n')}`,
  ];
}
