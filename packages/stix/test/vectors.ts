import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ComparisonExpression, Literal, ObservationExpression, SetLiteral } from '../src/index.ts';

/** Shape of test/fixtures/stix-patterns.json (see README-stix-patterns.md next to it). */
export interface Vector {
  id: string;
  pattern: string;
  valid: boolean;
  stix_version: '2.0' | '2.1';
  syntax_valid: boolean;
  invalid_kind?: 'syntax' | 'semantic';
  features: string[];
  structure?: string;
  comparisons?: {
    observation: number;
    object_type: string;
    path: string;
    path_components: (string | number)[];
    operator: string;
    operator_raw?: string;
    negated: boolean;
    value: unknown;
    value_type: string | null;
  }[];
  python_connector: { outcome: 'ioc_import' | 'nothing' | 'exception'; format?: string; indicators?: string };
  proposed_sekoia_extraction: {
    export: boolean;
    iocs: { format: string; value: string }[];
    over_approximate_iocs?: { format: string; value: string }[];
    not_exported_comparisons?: number[];
    reasons: string[];
  };
}

export const vectors: Vector[] = JSON.parse(
  readFileSync(join(import.meta.dirname, 'fixtures', 'stix-patterns.json'), 'utf8'),
);

export const vectorById = new Map(vectors.map((v) => [v.id, v]));

export function vector(id: string): Vector {
  const v = vectorById.get(id);
  if (!v) throw new Error(`no vector ${id}`);
  return v;
}

/** The fixture's value representation of a literal. */
export function fixtureValue(v: Literal | SetLiteral | null): unknown {
  if (v === null) return null;
  if (v.type === 'set') return v.elements.map((e) => fixtureValue(e));
  return v.value;
}

/** The fixture's `structure` S-expression (`cN` = comparison N, parentheses dropped). */
export function sExpression(node: ObservationExpression | ComparisonExpression): string {
  switch (node.kind) {
    case 'observation':
      return `[${sExpression(node.expression)}]`;
    case 'observation-operation':
    case 'comparison-operation':
      return `(${node.operator} ${sExpression(node.left)} ${sExpression(node.right)})`;
    case 'qualified': {
      const q = node.qualifier;
      const inner = sExpression(node.operand);
      if (q.type === 'WITHIN') return `(WITHIN ${q.raw} ${inner})`;
      if (q.type === 'REPEATS') return `(REPEATS ${q.raw} ${inner})`;
      return `(START_STOP ${q.startTime} ${q.stopTime} ${inner})`;
    }
    case 'comparison':
      return `c${node.index}`;
  }
}
