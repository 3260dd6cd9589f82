// The lazy part of a pull: a page's check (loaded by the first page) and the adoption of client
// ids (used only with the `clientIdField` option).
import type { Row } from './options.js';
import type { RowView } from './view.js';

/**
 * True when a pull's answer is a changes page — `{ changes: Row[], deleted: id[], cursor: string,
 * more: boolean, clock?: string }`, each row's `key` a non-empty string — that does not say `more`
 * with the cursor it was asked with (which would ask for the same page again, forever). @internal
 */
export function isPage(body: Record<string, unknown>, cursor: string, key: string): boolean {
  return (
    Array.isArray(body.changes) &&
    body.changes.every(
      (row) =>
        row !== null &&
        typeof row === 'object' &&
        !Array.isArray(row) &&
        typeof row[key] === 'string' &&
        row[key] !== '',
    ) &&
    Array.isArray(body.deleted) &&
    body.deleted.every((id) => typeof id === 'string') &&
    typeof body.cursor === 'string' &&
    typeof body.more === 'boolean' &&
    (body.clock === undefined || typeof body.clock === 'string') &&
    !(body.more && body.cursor === cursor)
  );
}

/**
 * Rows that carry the temporary id of a pending insert (the `clientIdField` option) are that
 * insert's rows: the temporary id stands for their id from now on. Returns the new aliases.
 * Used only by a collection with `clientIdField`. @internal
 */
export function adoptClientIds<R extends Row>(
  rows: readonly R[],
  field: string,
  key: string,
  view: RowView<R>,
): Array<[string, string]> {
  const adopted: Array<[string, string]> = [];
  for (const row of rows) {
    const tempId = row[field];
    const unresolvedInsert =
      typeof tempId === 'string' &&
      !view.aliasMap.has(tempId) &&
      view.changeList.some((change) => change.type === 'insert' && change.id === tempId);
    if (unresolvedInsert) {
      view.addAlias(tempId, row[key] as string);
      adopted.push([tempId, row[key] as string]);
    }
  }
  return adopted;
}
