export { App, type AppOptions, createApp } from './core/app.js';
export { FluxyPlugin } from './core/base-plugin.js';
export {
  Controller,
  type ControllerEffect,
  type ControllerErrorCode,
} from './core/controller.js';
export { dispose, getDefaultApp, ready, register, use } from './core/default-app.js';
export {
  type CoreErrorCode,
  FluxyError,
  type FluxyErrorCode,
  type FluxyErrorCodes,
  type FluxyErrorOptions,
  isFluxyError,
} from './core/errors.js';
export { EventBus, type EventMap, type FluxyEvents, type Unsubscribe } from './core/events.js';
export { consoleLogger, type Logger, type LogLevel } from './core/logger.js';
export type { FluxyPlugins, Plugin, PluginClass, PluginContext, PluginLookup } from './core/plugin.js';
export {
  batch,
  computed,
  effect,
  flux,
  type ReadonlySignal,
  type Signal,
  signal,
  untracked,
} from './core/signals.js';
