import { FluxyError, invalidArgument } from './errors.js';
import type { Plugin, PluginClass } from './plugin.js';

/**
 * Throws unless `plugin` has the shape of a {@link Plugin}: an object with a non-empty `name`,
 * `dependencies` (if any) an array of distinct names other than its own, `init` and `dispose`
 * (if any) functions. `invalid-argument`, or `plugin/dependency-cycle` for a plugin that depends
 * on itself. @internal
 */
export function validatePlugin(plugin: unknown): asserts plugin is Plugin {
  if (plugin === null || typeof plugin !== 'object') {
    throw invalidArgument(
      'register(plugin): plugin must be an object with a name, e.g. register(new SyncPlugin()).',
    );
  }
  const candidate = plugin as Partial<Record<keyof Plugin, unknown>>;
  if (typeof candidate.name !== 'string' || candidate.name.trim() === '') {
    throw invalidArgument('register(plugin): plugin.name must be a non-empty string.');
  }
  const { name, dependencies } = candidate;
  if (dependencies !== undefined) {
    if (!Array.isArray(dependencies) || dependencies.some((d) => typeof d !== 'string' || d === '')) {
      throw invalidArgument(`Plugin "${name}": dependencies must be an array of plugin names.`);
    }
    if (dependencies.includes(name)) {
      throw new FluxyError(
        'plugin/dependency-cycle',
        `Plugin "${name}" depends on itself: remove "${name}" from its dependencies.`,
      );
    }
    if (new Set(dependencies).size !== dependencies.length) {
      throw invalidArgument(
        `Plugin "${name}": the dependency "${dependencies.find((dependency, index) => dependencies.indexOf(dependency) !== index)}" is listed twice; list each dependency once.`,
      );
    }
  }
  for (const hook of ['init', 'dispose'] as const) {
    if (candidate[hook] !== undefined && typeof candidate[hook] !== 'function') {
      throw invalidArgument(`Plugin "${name}": ${hook} must be a function.`);
    }
  }
}

/**
 * A function usable with `instanceof` (arrow functions have no prototype and would make it throw).
 * @internal
 */
export function isClass(value: unknown): value is PluginClass {
  return typeof value === 'function' && typeof value.prototype === 'object' && value.prototype !== null;
}
