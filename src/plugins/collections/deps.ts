// What the eager modules of this folder import from outside it, imported once: a bundle has one
// import statement per external module and importing file, so each is written once, not once per
// file that uses it (−17 B gzipped). The lazy chunks import on their own (this would be a chunk).
export { computed, effect, signal, untracked } from '@preact/signals-core';
export { FluxyError, publish } from '../../core/errors.js';
