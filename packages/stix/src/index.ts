export type * from './ast.ts';
export {
  canonicalize,
  canonicalValue,
  detectObservableType,
  OBSERVABLE_TYPES,
  type ObservableType,
} from './canonical.ts';

export { EXTRACTION_MODES, type ExtractionMode, extractObservables, type SkipNote } from './extract.ts';
export { parsePattern } from './parser.ts';
export { expandIpv6, KNOWN_KILL_CHAIN_PHASES } from './sekoia-names.ts';
