// @vitest-environment happy-dom
// The shared suite on the localstorage driver (localforage's built-in one), which needs a DOM
// environment from the start: localforage decides at import whether localStorage exists.
import { afterEach } from 'vitest';
import { storagePerTest } from './fixtures.js';
import { describeStoreContract } from './store-contract.js';

const openStorage = storagePerTest();
let database = 0;

afterEach(() => {
  localStorage.clear();
});

describeStoreContract(
  [
    {
      driver: 'localstorage',
      persistent: true,
      // A fresh database name per test: the same name after a restart finds the same data.
      setup: async () => ({ driver: 'localstorage', name: `contract-${++database}` }),
    },
  ],
  openStorage,
);
