// The one import of @preact/signals-core in the production code of the main entries (fluxy/collections
// has its own, in its deps.ts). A bundle keeps one import statement per statement in the source,
// and in a split build (dist/, an app's chunks) each chunk that imports the package directly repeats
// it: core, storage, connectivity and sync take these functions from here instead, so their chunks
// import them from core's chunk (with the rest of core they import already). Internal: the public
// `computed`, `effect`, `batch` and `untracked` are core/signals.ts's checked versions.
export { batch, computed, effect, signal, untracked } from '@preact/signals-core';
