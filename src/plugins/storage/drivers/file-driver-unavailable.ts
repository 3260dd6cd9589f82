import { storageError } from '../errors.js';
import type { FileDriverOptions } from './file-driver.js';
import type { StorageBackend } from './storage-backend.js';

/**
 * What `#file-driver` resolves to outside Node (the `default` branch of package.json `imports`;
 * Node takes the `node` branch, ./file-driver.ts). Browser bundlers load this module instead of
 * one that imports `node:fs`, so they bundle Fluxy with no configuration.
 * @internal
 */
export const FileDriver = {
  /** Always rejects: there is no file system here. */
  async open(_options: FileDriverOptions): Promise<StorageBackend> {
    throw storageError(
      'storage/unavailable',
      'The file driver needs Node (node:fs), and this build is not running in Node: in a browser or worker, use the default "indexeddb" driver (or "localstorage" / "memory").',
    );
  },
};
