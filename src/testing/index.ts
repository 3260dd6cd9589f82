// fluxy/testing: what app authors need to test their offline behaviour. Node only (the fault
// server is a real HTTP server); the rest works in any test runner on Node.
export { TestConnectivity, type TestConnectivityOptions } from './connectivity.js';
export type { FaultCollectionOptions, ServerRow } from './fault-collection.js';
export {
  type Applied,
  type Fault,
  FaultServer,
  type FaultServerOptions,
  type Received,
} from './fault-server.js';
export { type SettledOptions, settled } from './settled.js';
export { createTestApp, type TestApp, type TestAppOptions } from './test-app.js';
