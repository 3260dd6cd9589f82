import { App } from './app.js';
import type { FluxyPlugins, Plugin, PluginClass } from './plugin.js';

// Created on first use (never at import time), replaced after dispose().
let defaultApp: App | undefined;

/** The default app that `register`, `use`, `ready` and `dispose` act on. */
export function getDefaultApp(): App {
  defaultApp ??= new App();
  return defaultApp;
}

/**
 * Register a plugin with the default app.
 *
 * @example const sync = register(new SyncPlugin({ baseUrl: '/api' }));
 */
export function register<P extends Plugin>(plugin: P): P {
  return getDefaultApp().register(plugin);
}

/** A plugin of the default app, by class (typed) or by name. */
export function use<P extends Plugin>(plugin: PluginClass<P>): P;
export function use<K extends keyof FluxyPlugins>(name: K): FluxyPlugins[K];
export function use(name: string): Plugin;
export function use(plugin: string | PluginClass): Plugin {
  return getDefaultApp().use(plugin as string);
}

/** Initialise the default app's plugins. */
export function ready(): Promise<void> {
  return getDefaultApp().ready();
}

/** Dispose the default app; the next `register` starts a fresh one. */
export async function dispose(): Promise<void> {
  const app = defaultApp;
  defaultApp = undefined;
  await app?.dispose();
}
