// @vitest-environment happy-dom
import { afterEach, describe, expect, it, vi } from 'vitest';
import { bindAll, bindAttr, bindClass, bindText, toStore } from '../../src/bindings/dom/index.js';
import { isFluxyError } from '../../src/core/errors.js';
import { computed, effect, flux, type Signal } from '../../src/core/signals.js';
import { createTestApp } from '../../src/testing/index.js';
import { thrownBy } from '../core/helpers.js';

function watchedSignal<T>(initial: T): { signal: Signal<T>; watchers: () => number } {
  let watchers = 0;
  const signal = flux(initial, {
    watched: () => {
      watchers += 1;
    },
    unwatched: () => {
      watchers -= 1;
    },
  });
  return { signal, watchers: () => watchers };
}

describe('bindText', () => {
  it('writes the value at once and on every change', () => {
    const count = flux(1);
    const element = document.createElement('span');
    bindText(element, count);
    expect(element.textContent).toBe('1');
    count.value = 2;
    expect(element.textContent).toBe('2');
  });

  it('follows a function of several signals', () => {
    const done = flux(1);
    const total = flux(3);
    const element = document.createElement('span');
    bindText(element, () => `${done.value}/${total.value}`);
    total.value = 4;
    expect(element.textContent).toBe('1/4');
    done.value = 2;
    expect(element.textContent).toBe('2/4');
  });

  it('shows null and undefined as empty text and never parses HTML', () => {
    const value = flux<string | null | undefined>('<b>bold</b>');
    const element = document.createElement('p');
    bindText(element, value);
    expect(element.children).toHaveLength(0);
    expect(element.textContent).toBe('<b>bold</b>');
    value.value = null;
    expect(element.textContent).toBe('');
    value.value = undefined;
    expect(element.textContent).toBe('');
  });

  it('works on a text node', () => {
    const name = flux('a');
    const node = document.createTextNode('');
    bindText(node, name);
    name.value = 'b';
    expect(node.data).toBe('b');
  });

  it('the disposer stops updates and unsubscribes', () => {
    const { signal, watchers } = watchedSignal('first');
    const element = document.createElement('span');
    const stop = bindText(element, signal);
    expect(watchers()).toBe(1);
    stop();
    stop();
    signal.value = 'second';
    expect(element.textContent).toBe('first');
    expect(watchers()).toBe(0);
  });
});

describe('bindClass', () => {
  it('adds and removes the class with the value, leaving other classes alone', () => {
    const offline = flux(false);
    const element = document.createElement('div');
    element.className = 'banner';
    bindClass(element, 'offline', offline);
    expect(element.className).toBe('banner');
    offline.value = true;
    expect(element.classList.contains('offline')).toBe(true);
    expect(element.classList.contains('banner')).toBe(true);
    offline.value = false;
    expect(element.className).toBe('banner');
  });

  it('follows a function and stops on dispose', () => {
    const count = flux(0);
    const element = document.createElement('div');
    const stop = bindClass(element, 'has-items', () => count.value > 0);
    count.value = 1;
    expect(element.classList.contains('has-items')).toBe(true);
    stop();
    count.value = 0;
    expect(element.classList.contains('has-items')).toBe(true);
  });

  it.each([
    ['', ''],
    ['two classes', 'a b'],
    ['a number', 42],
  ])('refuses %s as class name', (_label, name) => {
    const error = thrownBy(() => bindClass(document.createElement('div'), name as never, flux(true)));
    expect(isFluxyError(error, 'invalid-argument')).toBe(true);
  });
});

describe('bindAttr', () => {
  it('sets strings and numbers, removes on null/undefined/false, and sets "" for true', () => {
    const value = flux<string | number | boolean | null | undefined>('a');
    const element = document.createElement('button');
    bindAttr(element, 'data-state', value);
    expect(element.getAttribute('data-state')).toBe('a');
    value.value = 3;
    expect(element.getAttribute('data-state')).toBe('3');
    value.value = null;
    expect(element.hasAttribute('data-state')).toBe(false);
    value.value = true;
    expect(element.getAttribute('data-state')).toBe('');
    value.value = false;
    expect(element.hasAttribute('data-state')).toBe(false);
    value.value = 'b';
    expect(element.getAttribute('data-state')).toBe('b');
    value.value = undefined;
    expect(element.hasAttribute('data-state')).toBe(false);
  });

  it('drives boolean attributes such as disabled', () => {
    const syncing = flux(true);
    const button = document.createElement('button');
    bindAttr(button, 'disabled', syncing);
    expect(button.disabled).toBe(true);
    syncing.value = false;
    expect(button.disabled).toBe(false);
  });

  // Audit 22b A7: a name setAttribute() refuses threw its DOMException (no code) at the first write.
  it.each([
    ['a space', 'data x'],
    ['a quote', 'a"b'],
    ['angle brackets', '<x>'],
    ['an equals sign', 'a=b'],
    ['a leading digit', '1x'],
    ['an event handler', 'onclick'],
    ['an event handler in capitals', 'ONLOAD'],
  ])('refuses %s in the name with invalid-argument, before touching the element', (_label, name) => {
    const element = document.createElement('div');
    const error = thrownBy(() => bindAttr(element, name, flux<string | null>(null)));
    expect(isFluxyError(error, 'invalid-argument')).toBe(true);
    expect(element.attributes).toHaveLength(0);
  });

  it('takes the attribute names an app uses', () => {
    const element = document.createElement('div');
    for (const name of ['aria-label', 'data-x_y.z', 'xml:lang', 'tabindex', '_private', 'data-é'])
      bindAttr(element, name, flux('1'));
    expect(element.attributes).toHaveLength(6);
  });

  it('the disposer stops updates and unsubscribes', () => {
    const { signal, watchers } = watchedSignal<string | null>('x');
    const element = document.createElement('a');
    const stop = bindAttr(element, 'title', () => signal.value);
    stop();
    signal.value = null;
    expect(element.getAttribute('title')).toBe('x');
    expect(watchers()).toBe(0);
  });
});

describe('bindAll', () => {
  it('disposes every binding once, most recent first', () => {
    const count = flux(0);
    const text = document.createElement('span');
    const box = document.createElement('div');
    const order: string[] = [];
    const unbind = bindAll(
      bindText(text, count),
      bindClass(box, 'some', () => count.value > 0),
      () => order.push('first'),
      () => order.push('second'),
    );
    unbind();
    unbind();
    count.value = 1;
    expect(text.textContent).toBe('0');
    expect(box.classList.contains('some')).toBe(false);
    expect(order).toStrictEqual(['second', 'first']);
  });

  it('runs every disposer even if one throws, then throws', () => {
    const order: string[] = [];
    const unbind = bindAll(
      () => order.push('first'),
      () => {
        throw new Error('boom');
      },
      () => order.push('third'),
    );
    expect(() => unbind()).toThrow('boom');
    expect(order).toStrictEqual(['third', 'first']);
  });

  it('refuses a non-function', () => {
    expect(
      isFluxyError(
        thrownBy(() => bindAll(42 as never)),
        'invalid-argument',
      ),
    ).toBe(true);
  });
});

describe('argument checks', () => {
  it.each([
    ['bindText without a node', () => bindText({} as never, flux(1))],
    ['bindText without a source', () => bindText(document.createElement('p'), 42 as never)],
    ['bindClass on a text node', () => bindClass(document.createTextNode('') as never, 'a', flux(1))],
    ['bindAttr without a name', () => bindAttr(document.createElement('p'), '', flux('a'))],
    ['bindAttr without a source', () => bindAttr(document.createElement('p'), 'title', null as never)],
  ])('%s throws invalid-argument', (_label, attempt) => {
    expect(isFluxyError(thrownBy(attempt), 'invalid-argument')).toBe(true);
  });
});

describe('toStore (the Svelte store contract)', () => {
  it('calls run at once, then on every change, and stops after unsubscribe', () => {
    const { signal, watchers } = watchedSignal(1);
    const store = toStore(signal);
    const seen: number[] = [];
    const unsubscribe = store.subscribe((value) => seen.push(value));
    expect(seen).toStrictEqual([1]);
    signal.value = 2;
    signal.value = 2;
    signal.value = 3;
    expect(seen).toStrictEqual([1, 2, 3]);
    expect(watchers()).toBe(1);
    unsubscribe();
    signal.value = 4;
    expect(seen).toStrictEqual([1, 2, 3]);
    expect(watchers()).toBe(0);
  });

  it('works with computed signals and several subscribers', () => {
    const count = flux(1);
    const store = toStore(computed(() => count.value * 2));
    const first: number[] = [];
    const second: number[] = [];
    const offFirst = store.subscribe((value) => first.push(value));
    store.subscribe((value) => second.push(value));
    count.value = 2;
    offFirst();
    count.value = 3;
    expect(first).toStrictEqual([2, 4]);
    expect(second).toStrictEqual([2, 4, 6]);
  });

  it('does not subscribe an effect that happens to call subscribe', () => {
    const count = flux(0);
    const unrelated = flux(0);
    let outerRuns = 0;
    const stop = effect(() => {
      unrelated.value;
      outerRuns += 1;
      toStore(count).subscribe(() => {})();
    });
    count.value = 1;
    expect(outerRuns).toBe(1);
    stop();
  });

  it('refuses a non-signal and a non-function run', () => {
    expect(
      isFluxyError(
        thrownBy(() => toStore({} as never)),
        'invalid-argument',
      ),
    ).toBe(true);
    expect(
      isFluxyError(
        thrownBy(() => toStore(flux(1)).subscribe(null as never)),
        'invalid-argument',
      ),
    ).toBe(true);
  });
});

describe('a binding that throws after its first write', () => {
  afterEach(() => {
    vi.unstubAllGlobals();
  });

  // Before: the error went up into whatever set the signal. For Sync's signals that is queue()
  // itself, which then rejected although the change was stored (and would be sent): an app that
  // says "not saved" and lets the user try again sends the change twice.
  it('reports the error (reportError) instead of throwing it at the code that changed the signal', () => {
    const reported: unknown[] = [];
    vi.stubGlobal('reportError', (error: unknown) => reported.push(error));
    const count = flux(0);
    const bug = new Error('view bug');
    const node = document.createElement('span');
    const element = document.createElement('div');
    const stop = bindAll(
      bindText(node, () => {
        if (count.value === 1) throw bug;
        return count.value;
      }),
      bindClass(element, 'many', () => {
        if (count.value === 1) throw new TypeError('class bug');
        return count.value > 1;
      }),
      bindAttr(element, 'title', () => (count.value === 1 ? JSON.parse('{') : String(count.value))),
    );
    expect(() => {
      count.value = 1;
    }).not.toThrow();
    expect(reported).toHaveLength(3);
    expect(reported[0]).toBe(bug);
    count.value = 2; // the bindings live on
    expect(node.textContent).toBe('2');
    expect(element.className).toBe('many');
    expect(element.getAttribute('title')).toBe('2');
    stop();
  });

  it('still throws on its first write, to the code that binds', () => {
    expect(() =>
      bindText(document.createElement('span'), () => {
        throw new Error('at once');
      }),
    ).toThrow('at once');
  });

  it('does not make sync.queue() reject after it stored the change', async () => {
    const reported: unknown[] = [];
    vi.stubGlobal('reportError', (error: unknown) => reported.push(error));
    const t = await createTestApp({ sync: { baseUrl: 'http://127.0.0.1:9' }, online: false }); // never sent
    try {
      const badge = document.createElement('span');
      const stop = bindText(badge, () => {
        if (t.sync.pendingCount.value > 0) throw new Error('view bug');
        return 'all saved';
      });
      await expect(t.sync.queue('POST', '/notes', { body: {} })).resolves.toBeDefined();
      expect(t.sync.pendingCount.value).toBe(1);
      expect(reported).toHaveLength(1);
      stop();
    } finally {
      await t.dispose();
    }
  });
});

describe('argument checks say what to do', () => {
  it('an element that was not found (null from querySelector/getElementById) is named as such', () => {
    const missing = document.querySelector('#no-such-badge');
    for (const attempt of [
      () => bindText(missing as never, flux(1)),
      () => bindClass(missing as never, 'offline', flux(true)),
      () => bindAttr(missing as never, 'title', flux('a')),
    ]) {
      const error = thrownBy(attempt);
      expect(isFluxyError(error, 'invalid-argument')).toBe(true);
      expect((error as Error).message).toContain('(got null: the element was not found — check the selector');
    }
    expect((thrownBy(() => bindText(undefined as never, flux(1))) as Error).message).toContain(
      '(got undefined: the element was not found',
    );
    expect((thrownBy(() => bindText({} as never, flux(1))) as Error).message).toBe(
      'bindText(node, source): node must be a DOM node.',
    );
  });

  it('toStore() given a function says to wrap it in computed()', () => {
    const error = thrownBy(() => toStore((() => 1) as never));
    expect(isFluxyError(error, 'invalid-argument')).toBe(true);
    expect((error as Error).message).toContain('not a function: toStore(computed(() => …))');
  });
});
