import { FluxyError } from './errors.js';
import type { Plugin } from './plugin.js';

/**
 * Checks, for the registered plugins (by name), that every dependency is registered and that there is no cycle, before anything runs.
 * Throws `plugin/missing-dependency` or `plugin/dependency-cycle` with the fix in the message.
 */
export function checkDependencies(plugins: ReadonlyMap<string, { readonly plugin: Plugin }>): void {
  for (const { plugin } of plugins.values()) {
    for (const dependency of plugin.dependencies ?? []) {
      if (!plugins.has(dependency)) {
        throw new FluxyError(
          'plugin/missing-dependency',
          `The dependency "${dependency}" of plugin "${plugin.name}" is not registered: register it before calling ready().`,
        );
      }
    }
  }
  const state = new Map<string, 'visiting' | 'done'>();
  const visit = (name: string): void => {
    const seen = state.get(name);
    if (seen === 'done') return;
    if (seen === 'visiting') {
      throw new FluxyError(
        'plugin/dependency-cycle',
        `Plugins depend on each other in a cycle: ${cycleThrough(state, name)}. Remove one of these dependencies.`,
      );
    }
    state.set(name, 'visiting');
    for (const dependency of plugins.get(name)?.plugin.dependencies ?? []) visit(dependency);
    state.set(name, 'done');
  };
  for (const name of plugins.keys()) visit(name);
}

/**
 * The cycle that reaches `name` again, for the message: `a → b → a`. In insertion order, the names
 * still 'visiting' are the path of the walk (a name keeps its place when it becomes 'done'), so
 * the walk keeps no path of its own, and the production build (without the message) none at all.
 */
function cycleThrough(state: ReadonlyMap<string, 'visiting' | 'done'>, name: string): string {
  const path = [...state.keys()].filter((visited) => state.get(visited) === 'visiting');
  return [...path.slice(path.indexOf(name)), name].join(' → ');
}
