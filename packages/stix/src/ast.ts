/**
 * Typed tree of a STIX 2.x pattern. Binary operators nest exactly as the OASIS grammar does
 * (left-associative, no flattening); parentheses are not kept as nodes. Every node carries its source
 * span: `start` inclusive, `end` exclusive, 0-based string offsets.
 *
 * Trees can be very deep (a long `OR` chain is a left-deep tree): walk them iteratively.
 */

export type StixVersion = '2.0' | '2.1';

export interface Span {
  start: number;
  end: number;
}

export interface Pattern extends Span {
  kind: 'pattern';
  stixVersion: StixVersion;
  root: ObservationExpression;
  /** Every comparison in source order (`Comparison.index` is the position in this list). */
  comparisons: Comparison[];
  /** Every `[...]` observation in source order (`Observation.index` is the position in this list). */
  observations: Observation[];
}

export type ObservationExpression = Observation | ObservationOperation | QualifiedObservation;

/** `[ comparison-expression ]` */
export interface Observation extends Span {
  kind: 'observation';
  index: number;
  expression: ComparisonExpression;
}

export type ObservationOperator = 'AND' | 'OR' | 'FOLLOWEDBY';

export interface ObservationOperation extends Span {
  kind: 'observation-operation';
  operator: ObservationOperator;
  left: ObservationExpression;
  right: ObservationExpression;
}

export type Qualifier =
  | (Span & { type: 'WITHIN'; seconds: number; raw: string })
  | (Span & { type: 'REPEATS'; times: number; raw: string })
  | (Span & { type: 'START_STOP'; startTime: string; stopTime: string });

/** An observation expression followed by one qualifier (several qualifiers nest, innermost first). */
export interface QualifiedObservation extends Span {
  kind: 'qualified';
  qualifier: Qualifier;
  operand: ObservationExpression;
}

export type ComparisonExpression = Comparison | ComparisonOperation;

export interface ComparisonOperation extends Span {
  kind: 'comparison-operation';
  operator: 'AND' | 'OR';
  left: ComparisonExpression;
  right: ComparisonExpression;
}

export type ComparisonOperator =
  | '='
  | '!='
  | '<'
  | '<='
  | '>'
  | '>='
  | 'IN'
  | 'LIKE'
  | 'MATCHES'
  | 'ISSUBSET'
  | 'ISSUPERSET'
  | 'EXISTS';

export interface Comparison extends Span {
  kind: 'comparison';
  /** Position in `Pattern.comparisons`. */
  index: number;
  /** Index of the enclosing observation in `Pattern.observations`. */
  observation: number;
  path: ObjectPath;
  /** Normalised: `==` is `=`, `<>` is `!=`. */
  operator: ComparisonOperator;
  /** As written (`==`, `<>`, `=`, `IN`, ...). */
  operatorRaw: string;
  negated: boolean;
  /** `null` for EXISTS. */
  value: Literal | SetLiteral | null;
}

export interface ObjectPath extends Span {
  objectType: string;
  /** The first step is always a key. */
  steps: PathStep[];
}

export type PathStep =
  | (Span & { kind: 'key'; key: string; quoted: boolean })
  | (Span & { kind: 'index'; index: number })
  | (Span & { kind: 'any-index' });

export type Literal =
  | (Span & { type: 'string'; value: string; raw: string })
  | (Span & { type: 'int'; value: number; raw: string })
  | (Span & { type: 'float'; value: number; raw: string })
  | (Span & { type: 'bool'; value: boolean; raw: string })
  /** value: the base64 text between the quotes */
  | (Span & { type: 'binary'; value: string; raw: string })
  /** value: the hex digits between the quotes */
  | (Span & { type: 'hex'; value: string; raw: string })
  /** value: the ISO text between the quotes (calendar validity not checked, as in the grammar) */
  | (Span & { type: 'timestamp'; value: string; raw: string });

export interface SetLiteral extends Span {
  type: 'set';
  elements: Literal[];
}
