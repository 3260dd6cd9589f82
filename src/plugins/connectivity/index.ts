import type { ConnectivityPlugin } from './plugin.js';

export type { BroadcastChannelLike, FetchFunction } from '../../core/platform-types.js';
export type { ConnectivityErrorCode } from './errors.js';
export { ConnectivityMonitor, type ConnectivityReason } from './monitor.js';
export type {
  ConnectivityMonitorOptions,
  ConnectivityOptions,
  MonitorEnvironment,
  ProbeMethod,
  ProbeOptions,
  Timers,
} from './options.js';
export { browserPlatform, type PlatformConnectivity } from './platform.js';
export { ConnectivityPlugin } from './plugin.js';

declare module '../../core/plugin.js' {
  interface FluxyPlugins {
    /** The {@link ConnectivityPlugin}, for `use('connectivity')`. */
    connectivity: ConnectivityPlugin;
  }
}

declare module '../../core/errors.js' {
  interface FluxyErrorCodes {
    /** The codes of `fluxy/connectivity`. */
    connectivity: import('./errors.js').ConnectivityErrorCode;
  }
}
