/**
 * The local Internal Hub emulator: implements docs' hub-api.md (sensor creation, the
 * storeSensorMeasureData GraphQL mutation, frequency spectra, PASETO v4.public machine tokens)
 * over real HTTP on 127.0.0.1, with programmable faults and an inspectable store, for the
 * agent's tests, benchmarks and demo. Nothing here is used by the agent in production.
 */
export { createHubEmulator, DEFAULT_MAX_BODY_BYTES } from './server.js';
export type { EmulatorOptions, EmulatorTls, HubEmulator } from './server.js';
export { EmulatorStore, pointKey } from './store.js';
export type {
  Counters,
  EmulatorSnapshot,
  RecordMode,
  RequestLogEntry,
  Sensor,
  SnapshotOptions,
  StoredDataPoint,
  StoredSpectrum,
} from './store-types.js';
export { FaultPlan } from './faults.js';
export type { ActiveFault, FaultEndpoint, FaultSpec, HubEndpoint, RateLimitSpec } from './faults.js';
export { importPublicKey, TokenAuthority, tokenFingerprint, verifyV4Public } from './tokens.js';
export type { MintOptions, VerifyOptions, VerifyResult } from './tokens.js';
export type { ResponseShape } from './context.js';
export { parseDuration } from './duration.js';
export { serveEmulator } from './run.js';
export type { ServeOptions, ServeIo } from './run.js';
