import { afterEach, describe, expect, it } from 'vitest';
import { App } from '../../src/core/app.js';
import { dispose, getDefaultApp, ready, register, use } from '../../src/core/default-app.js';
import { isFluxyError } from '../../src/core/errors.js';
import type { Plugin } from '../../src/core/plugin.js';
import { thrownBy } from './helpers.js';

class ClockPlugin implements Plugin {
  readonly name = 'clock';
  inits = 0;
  disposals = 0;
  init(): void {
    this.inits++;
  }
  dispose(): void {
    this.disposals++;
  }
}

// The default app is shared module state: reset it after each test so every test starts fresh.
afterEach(async () => {
  await dispose();
});

describe('default app', () => {
  it('register, use, ready and dispose act on one default app', async () => {
    const clock = register(new ClockPlugin());
    expect(getDefaultApp()).toBeInstanceOf(App);
    expect(getDefaultApp().has('clock')).toBe(true);
    expect(use(ClockPlugin)).toBe(clock);
    expect(use('clock')).toBe(clock);
    await ready();
    expect(clock.inits).toBe(1);
    await dispose();
    expect(clock.disposals).toBe(1);
  });

  it('is created lazily and kept until dispose()', () => {
    const app = getDefaultApp();
    expect(getDefaultApp()).toBe(app);
  });

  it('dispose() resets it: the next call starts a fresh, empty app', async () => {
    register(new ClockPlugin());
    const before = getDefaultApp();
    await ready();
    await dispose();
    expect(before.disposed).toBe(true);
    expect(getDefaultApp()).not.toBe(before);
    expect(getDefaultApp().has('clock')).toBe(false);
    expect(
      isFluxyError(
        thrownBy(() => use('clock')),
        'plugin/not-registered',
      ),
    ).toBe(true);
    const again = register(new ClockPlugin());
    await ready();
    expect(again.inits).toBe(1);
  });

  it('dispose() without a default app does nothing', async () => {
    await expect(dispose()).resolves.toBeUndefined();
  });

  it('free functions report errors like the app does', async () => {
    expect(
      isFluxyError(
        thrownBy(() => register(null as never)),
        'invalid-argument',
      ),
    ).toBe(true);
    register({ name: 'needs', dependencies: ['absent'] });
    await expect(ready()).rejects.toMatchObject({ code: 'plugin/missing-dependency' });
  });
});
