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
