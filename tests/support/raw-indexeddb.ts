import type { IDBFactory } from 'fake-indexeddb';

function result<T>(request: IDBRequest<T>): Promise<T> {
  return new Promise((resolve, reject) => {
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
}

/** Calls `visit` with every object store of every database of a fake IndexedDB. */
async function eachStore(
  factory: IDBFactory,
  visit: (store: IDBObjectStore) => Promise<void>,
): Promise<void> {
  for (const { name } of await factory.databases()) {
    const db = await result(factory.open(name as string));
    for (const storeName of db.objectStoreNames)
      await visit(db.transaction(storeName).objectStore(storeName));
    db.close();
  }
}

/** Every value stored in every object store of every database of a fake IndexedDB, as text. */
export async function rawContents(factory: IDBFactory): Promise<string> {
  const texts: string[] = [];
  await eachStore(factory, async (store) => {
    texts.push(JSON.stringify(await result(store.getAll())));
  });
  return texts.join('\n');
}

/** The stored values (as text) of the records whose key contains `part`, in every database of a fake IndexedDB. */
export async function rawRecords(factory: IDBFactory, part: string): Promise<string[]> {
  const found: string[] = [];
  await eachStore(factory, async (store) => {
    const [keys, values] = await Promise.all([result(store.getAllKeys()), result(store.getAll())]);
    keys.forEach((key, n) => {
      if (String(key).includes(part)) found.push(String(values[n]));
    });
  });
  return found;
}
