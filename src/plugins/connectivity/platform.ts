/**
 * What the platform says about the network: `navigator.onLine` and the `online`/`offline` events
 * in browsers and workers, or an adapter over a native API (React Native NetInfo, Capacitor
 * Network, Electron). "Offline" from the platform is trusted at once; "online" may lie
 * (captive portals, dead Wi-Fi), which is what a probe is for.
 *
 * @example
 * const platform: PlatformConnectivity = {
 *   isOnline: () => lastNetInfoState,
 *   subscribe: (listener) => NetInfo.addEventListener((s) => listener(s.isConnected === true)),
 * };
 */
export interface PlatformConnectivity {
  /** The platform's current opinion. */
  isOnline(): boolean;
  /** Calls `listener` on every change; returns the function that stops it. */
  subscribe(listener: (online: boolean) => void): () => void;
}

interface EventTargetLike {
  addEventListener(type: string, listener: () => void): void;
  removeEventListener(type: string, listener: () => void): void;
}

interface NavigatorLike {
  readonly onLine: boolean;
}

/**
 * The platform source of a browser window or worker global: `navigator.onLine` and the
 * `online`/`offline` events. `undefined` where those do not exist (Node, React Native, SSR).
 * Reads `scope` only when called, never at import.
 *
 * @param scope - the global to listen on. @default globalThis
 * @example
 * const monitor = new ConnectivityMonitor();
 * monitor.start({ platform: browserPlatform() });
 */
export function browserPlatform(scope: unknown = globalThis): PlatformConnectivity | undefined {
  if (scope === null || typeof scope !== 'object') return undefined;
  const target = scope as Partial<EventTargetLike> & { navigator?: Partial<NavigatorLike> };
  const navigator = target.navigator;
  if (
    !navigator ||
    typeof navigator.onLine !== 'boolean' ||
    typeof target.addEventListener !== 'function' ||
    typeof target.removeEventListener !== 'function'
  ) {
    return undefined;
  }
  const events = target as EventTargetLike;
  return {
    isOnline: () => navigator.onLine === true,
    subscribe(listener) {
      // The event type is the truth: some engines update navigator.onLine after dispatching.
      const online = (): void => listener(true);
      const offline = (): void => listener(false);
      events.addEventListener('online', online);
      events.addEventListener('offline', offline);
      let active = true;
      return () => {
        if (!active) return;
        active = false;
        events.removeEventListener('online', online);
        events.removeEventListener('offline', offline);
      };
    },
  };
}
