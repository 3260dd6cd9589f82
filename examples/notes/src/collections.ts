// `fluxy/collections`. In your app: `import { Collection } from 'fluxy/collections';`.
// This file stands in for that import until the repository's root tsconfig.json maps
// 'fluxy/collections' to the sources like the other entries (then `npm run typecheck` would
// otherwise check the example against dist/ or fail before a build).
export * from '../../../src/plugins/collections/index.js';
