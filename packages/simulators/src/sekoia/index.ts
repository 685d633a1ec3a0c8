export { type SekoiaSimControl, type SekoiaSimulator, startSekoiaSimulator } from './server.ts';
export { CODES as SEKOIA_ERROR_CODES, DESCRIPTION_MAX, FORCE_DELETION_AFTER_MS } from './store.ts';
export * from './types.ts';
