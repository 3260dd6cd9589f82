import type { IDBFactory } from 'fake-indexeddb';

/** Every value stored in every object store of every database of a fake IndexedDB, as text. */
export async function rawContents(factory: IDBFactory): Promise<string> {
  const texts: string[] = [];
  for (const { name } of await factory.databases()) {
    const db = await new Promise<IDBDatabase>((resolve, reject) => {
      const request = factory.open(name as string);
      request.onsuccess = () => resolve(request.result);
      request.onerror = () => reject(request.error);
    });
    for (const storeName of db.objectStoreNames) {
      const values = await new Promise<unknown[]>((resolve, reject) => {
        const request = db.transaction(storeName).objectStore(storeName).getAll();
        request.onsuccess = () => resolve(request.result);
        request.onerror = () => reject(request.error);
      });
      texts.push(JSON.stringify(values));
    }
    db.close();
  }
  return texts.join('\n');
}

/** The stored values (as text) of the records whose key contains `part`, in every database of a fake IndexedDB. */
export async function rawRecords(factory: IDBFactory, part: string): Promise<string[]> {
  const found: string[] = [];
  for (const { name } of await factory.databases()) {
    const db = await new Promise<IDBDatabase>((resolve, reject) => {
      const request = factory.open(name as string);
      request.onsuccess = () => resolve(request.result);
      request.onerror = () => reject(request.error);
    });
    for (const storeName of db.objectStoreNames) {
      const store = db.transaction(storeName).objectStore(storeName);
      const [keys = [], values = []] = await Promise.all(
        [store.getAllKeys(), store.getAll()].map(
          (request) =>
            new Promise<unknown[]>((resolve, reject) => {
              request.onsuccess = () => resolve(request.result);
              request.onerror = () => reject(request.error);
            }),
        ),
      );
      keys.forEach((key, n) => {
        if (String(key).includes(part)) found.push(String(values[n]));
      });
    }
    db.close();
  }
  return found;
}
