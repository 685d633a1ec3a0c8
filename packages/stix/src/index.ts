export type * from './ast.ts';
export {
  type CanonicalResult,
  canonicalize,
  canonicalValue,
  detectObservableType,
  OBSERVABLE_TYPES,
  type Observable,
  type ObservableType,
  type SekoiaFormat,
  sekoiaFormat,
} from './canonical.ts';
export { StixPatternError } from './errors.ts';
export {
  EXTRACTION_MODES,
  type ExtractionMode,
  type ExtractionOptions,
  type ExtractionResult,
  exportTarget,
  extractObservables,
  formatObjectPath,
  literalJson,
  type SkipNote,
} from './extract.ts';
export { type ParseOptions, parsePattern } from './parser.ts';
export { expandIpv6, KNOWN_KILL_CHAIN_PHASES } from './sekoia-names.ts';
