import type { Row } from './options.js';
import type { RowView } from './view.js';

/**
 * Rows that carry the temporary id of a pending insert (the `clientIdField` option) are that
 * insert's rows: the temporary id stands for their id from now on. Returns the new aliases.
 * Loaded only for a collection with `clientIdField`. @internal
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
