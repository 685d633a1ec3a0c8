/**
 * The Sekoia.io behaviour profile: what `pnpm cli probe` observed, on a real account, for each behaviour no
 * public source settles (issue 14; docs/sekoia-behaviours.md). Workers read it at start; without one (or with
 * a row `unknown`) they use the safe choice of that row. Pure: types, validation, and the read/write of its one
 * Redis record through a minimal get/set interface (the key name lives in @octi-sekoia/queue `keys()`).
 */

/** Every behaviour (one per row of the issue, in its order) and the variants the probe can tell apart. */
export const BEHAVIOUR_VARIANTS = {
  /** Row 1: `name` of each item in the POST …/indicators answer. */
  createName: ['as-sent', 'canonical', 'upper-hashes', 'ipv6-expanded', 'file-hashes'],
  /** Row 2: PUT with `valid_until: null` / `description: null`. */
  putNull: ['clear', 'reject', 'keep'],
  /** Row 3: PUT keeps ('partial') or clears ('replace') the editable fields it does not name. */
  putOmitted: ['partial', 'replace'],
  /** Row 4: `has_more` in list/search answers. */
  hasMore: ['present', 'absent'],
  /** Row 5: create of a value whose indicator is revoked. */
  reimportRevoked: ['new', 'reactivate', 'ignore'],
  /** Row 6: DELETE of an already revoked indicator. */
  repeatRevoke: ['200', '404', '400'],
  /** Row 7: body of a permission 403. */
  forbiddenBody: ['json', 'text', 'html'],
  /** Row 8: `kill_chain_phases` accepted. */
  killChainPhases: ['accept-all', 'mitre-lockheed'],
  /** Row 10: how `term` matches. */
  termSearch: ['substring', 'case-insensitive', 'tokenised'],
  /**
   * Row 11: the cursor feed read with the collection id: 'usable' (every check passed: see the probe),
   * 'not-a-feed' (refused), 'limit-refused' (a page of 10,000 refused), 'fields-missing' (a compared field or the
   * revoked flag does not come through), 'inconsistent' (an object missed or changed id under concurrent writes).
   */
  collectionFeed: ['usable', 'not-a-feed', 'limit-refused', 'fields-missing', 'inconsistent'],
} as const;

/** Row 9 (quota full) has open-ended variants: `<status> <body kind>`, e.g. `400 json-code`. */
export const QUOTA_BODY_KINDS = ['json-code', 'json-message', 'text', 'html', 'empty'] as const;
export type QuotaBodyKind = (typeof QUOTA_BODY_KINDS)[number];
export type QuotaFullVariant = `${number} ${QuotaBodyKind}`;

export type ClosedBehaviour = keyof typeof BEHAVIOUR_VARIANTS;
export type BehaviourName = ClosedBehaviour | 'quotaFull';

export type BehaviourVariant<B extends BehaviourName> = B extends ClosedBehaviour
  ? (typeof BEHAVIOUR_VARIANTS)[B][number]
  : QuotaFullVariant;

/** One field per behaviour: the observed variant, or `unknown` (not observed: the safe choice applies). */
export type SekoiaBehaviours = { [B in BehaviourName]: BehaviourVariant<B> | 'unknown' };

export interface SekoiaProfile {
  version: 1;
  /** When the probe ran (ISO). */
  observedAt: string;
  /** Host of the Sekoia API probed; a worker ignores a profile of another host. */
  sekoiaHost: string;
  /** The scratch collection the probe wrote to. */
  collectionId: string;
  behaviours: SekoiaBehaviours;
}

/** Behaviours in the row order (row number = index + 1). */
export const BEHAVIOURS: readonly BehaviourName[] = [
  'createName',
  'putNull',
  'putOmitted',
  'hasMore',
  'reimportRevoked',
  'repeatRevoke',
  'forbiddenBody',
  'killChainPhases',
  'quotaFull',
  'termSearch',
  'collectionFeed',
];

/** Every behaviour unknown: what a worker assumes when no profile is recorded. */
export function unknownBehaviours(): SekoiaBehaviours {
  return Object.fromEntries(BEHAVIOURS.map((b) => [b, 'unknown'])) as SekoiaBehaviours;
}

const QUOTA_RE = new RegExp(`^[1-5]\\d\\d (${QUOTA_BODY_KINDS.join('|')})$`);

export function isVariant<B extends BehaviourName>(b: B, v: unknown): v is BehaviourVariant<B> | 'unknown' {
  if (v === 'unknown') return true;
  if (typeof v !== 'string') return false;
  if (b === 'quotaFull') return QUOTA_RE.test(v);
  return (BEHAVIOUR_VARIANTS[b as ClosedBehaviour] as readonly string[]).includes(v);
}

/**
 * Parses a stored profile. A record that is not a valid version-1 profile yields an error naming the problem
 * (the caller logs it and falls back to the safe choices): a half-understood profile is never used.
 */
export function parseProfile(text: string): { profile: SekoiaProfile } | { error: string } {
  let o: unknown;
  try {
    o = JSON.parse(text);
  } catch {
    return { error: 'the Sekoia profile record is not JSON' };
  }
  if (typeof o !== 'object' || o === null) return { error: 'the Sekoia profile record is not an object' };
  const p = o as Record<string, unknown>;
  if (p.version !== 1) return { error: `unsupported Sekoia profile version ${JSON.stringify(p.version)}` };
  for (const f of ['observedAt', 'sekoiaHost', 'collectionId'] as const) {
    if (typeof p[f] !== 'string') return { error: `the Sekoia profile has no "${f}"` };
  }
  const b = p.behaviours;
  if (typeof b !== 'object' || b === null) return { error: 'the Sekoia profile has no "behaviours"' };
  const behaviours = unknownBehaviours() as Record<BehaviourName, string>;
  for (const name of BEHAVIOURS) {
    const v = (b as Record<string, unknown>)[name];
    if (v === undefined) continue;
    if (!isVariant(name, v)) {
      return { error: `the Sekoia profile has an unknown variant for ${name}: ${JSON.stringify(v)}` };
    }
    behaviours[name] = v;
  }
  return {
    profile: {
      version: 1,
      observedAt: p.observedAt as string,
      sekoiaHost: p.sekoiaHost as string,
      collectionId: p.collectionId as string,
      behaviours: behaviours as SekoiaBehaviours,
    },
  };
}

/** The little of a Redis client the record needs (ioredis fits). */
export interface ProfileStore {
  get(key: string): Promise<string | null>;
  set(key: string, value: string): Promise<unknown>;
}

export type ProfileRead =
  | { state: 'absent' }
  | { state: 'invalid'; error: string }
  | { state: 'recorded'; profile: SekoiaProfile };

/** Reads the profile record at `key` (`keys(…).sekoiaProfile`). */
export async function readProfile(store: ProfileStore, key: string): Promise<ProfileRead> {
  const text = await store.get(key);
  if (text === null) return { state: 'absent' };
  const r = parseProfile(text);
  return 'error' in r ? { state: 'invalid', error: r.error } : { state: 'recorded', profile: r.profile };
}

export async function writeProfile(store: ProfileStore, key: string, profile: SekoiaProfile): Promise<void> {
  await store.set(key, JSON.stringify(profile));
}

/**
 * The behaviours a worker should use for `host`: the recorded ones when the profile is for that host,
 * otherwise every behaviour unknown (safe choices).
 */
export function behavioursFor(read: ProfileRead, host: string): SekoiaBehaviours {
  if (read.state !== 'recorded' || read.profile.sekoiaHost.toLowerCase() !== host.toLowerCase()) {
    return unknownBehaviours();
  }
  return read.profile.behaviours;
}

/** A mode in which the product works but cannot reach OpenCTI's exact state; the probe exits 1 on any. */
export interface DegradedMode {
  behaviour: BehaviourName;
  /** Stable name (status lines, `--json`). */
  mode: string;
  why: string;
}

/** Degraded modes a profile forces (pure; `unknown` rows force none: their safe choices apply). */
export function degradedModes(b: SekoiaBehaviours): DegradedMode[] {
  const out: DegradedMode[] = [];
  const cannotClear =
    (b.putNull === 'reject' || b.putNull === 'keep') &&
    (b.putOmitted === 'partial' || b.putOmitted === 'unknown');
  if (cannotClear) {
    out.push({
      behaviour: 'putNull',
      mode: 'fields-not-clearable',
      why: 'a PUT cannot clear valid_until (null is refused or ignored, omitted fields are kept): an indicator whose valid_until OpenCTI removed keeps the old one in Sekoia.io; descriptions are emptied instead',
    });
  }
  if (b.reimportRevoked === 'ignore') {
    out.push({
      behaviour: 'reimportRevoked',
      mode: 'revoked-values-not-recreatable',
      why: 'Sekoia answers the re-creation of a revoked value with the revoked indicator, which can only be deleted for good 24 h after its revocation: until then the re-creation is dead-lettered once (replay it later); after that the worker deletes the revoked indicator and creates the value again',
    });
  }
  if (b.killChainPhases === 'mitre-lockheed') {
    out.push({
      behaviour: 'killChainPhases',
      mode: 'custom-kill-chains-dropped',
      why: 'phases outside MITRE ATT&CK and Lockheed Martin are not sent to Sekoia',
    });
  }
  if (b.quotaFull !== 'unknown') {
    out.push({
      behaviour: 'quotaFull',
      mode: 'quota-full',
      why: 'the community IOC quota is used up: creates stop until room is made',
    });
  }
  return out;
}

/** Row title and, per variant, what the product does (shown by the probe; docs/sekoia-behaviours.md). */
export const BEHAVIOUR_NOTES: Record<
  BehaviourName,
  { row: number; title: string; product: Record<string, string> }
> = {
  createName: {
    row: 1,
    title: 'name of created items',
    product: {
      'as-sent': 'items matched back by canonical name',
      canonical: 'items matched back by canonical name',
      'upper-hashes': 'items matched back by canonical name (hash case ignored)',
      'ipv6-expanded': 'items matched back by canonical name (IPv6 re-canonicalised)',
      'file-hashes': 'name is a label: items matched back by their pattern',
      unknown: 'items matched by canonical name, then by pattern (by order only with evidence)',
    },
  },
  putNull: {
    row: 2,
    title: 'PUT with null fields',
    product: {
      clear: 'fields cleared by sending null',
      reject: "null never sent: valid_until left out, description ''; valid_until stays unless PUT replaces",
      keep: "null never sent: valid_until left out, description ''; valid_until stays unless PUT replaces",
      unknown: "safe choice: null never sent (valid_until left out, description '')",
    },
  },
  putOmitted: {
    row: 3,
    title: 'PUT: omitted fields',
    product: {
      partial: 'edits send every field the product owns (right under both)',
      replace: 'edits send every field the product owns (right under both)',
      unknown: 'edits send every field the product owns (right under both)',
    },
  },
  hasMore: {
    row: 4,
    title: 'has_more in list answers',
    product: {
      present: 'has_more trusted: a page with has_more false ends a read',
      absent: 'paging by total (and full pages), until an empty page',
      unknown: 'safe choice: paging by has_more, total and full pages, until an empty page',
    },
  },
  reimportRevoked: {
    row: 5,
    title: 're-import of a revoked value',
    product: {
      new: 'a new indicator is made live',
      reactivate: 'the revoked indicator comes back live (same id)',
      ignore:
        'revoked-values-not-recreatable: the revoked indicator is deleted for good and the value created again once Sekoia allows it (24 h after the revocation); before, the re-creation is dead-lettered once',
      unknown:
        'safe choice: the answer is checked; a revoked answer is deleted for good and created again, or dead-lettered once',
    },
  },
  repeatRevoke: {
    row: 6,
    title: 'DELETE of a revoked indicator',
    product: {
      '200': 'taken as revoked',
      '404': 'taken as revoked (gone)',
      '400': 'a rejected revoke: ends once as the worker README "failure edges" say, never looped',
      unknown: '200 and 404 revoked; a 400 is a rejected revoke (worker README, failure edges)',
    },
  },
  forbiddenBody: {
    row: 7,
    title: 'permission 403 body',
    product: {
      json: 'named as a permission problem (configuration error)',
      text: 'named as a permission problem (configuration error)',
      html: 'like a WAF block: named a permission problem once a read works while writes are refused (or after 10 min)',
      unknown:
        'not observed (no view-only key): JSON/text 403 a permission problem; HTML/empty told apart by a read',
    },
  },
  killChainPhases: {
    row: 8,
    title: 'kill_chain_phases accepted',
    product: {
      'accept-all': 'phases sent as OpenCTI has them',
      'mitre-lockheed': 'custom-kill-chains-dropped: only MITRE ATT&CK / Lockheed phases sent',
      unknown:
        'safe choice: phases sent; a write refused with other phases is sent again with the known ones only',
    },
  },
  quotaFull: {
    row: 9,
    title: 'quota full answer',
    product: {
      unknown:
        'not observable while the community has room: inferred from a refused create + count-total-iocs',
      observed: 'quota-full: creates stop, edits and revokes go on; the status line names it',
    },
  },
  termSearch: {
    row: 10,
    title: 'term search',
    product: {
      substring: 'exact search reads every page of the substring hits and filters them',
      'case-insensitive': 'exact search filters the hits by canonical value',
      tokenised: 'exact search by the whole value, hits filtered by canonical value',
      unknown:
        'safe choice: every page read, hits filtered by canonical value (hashes searched upper-cased too)',
    },
  },
  collectionFeed: {
    row: 11,
    title: 'cursor feed of the collection',
    product: {
      usable:
        'collection reads through the feed, 10,000 objects a page (offset pages if it refuses at run time)',
      'not-a-feed': 'collection reads in offset pages of 100',
      'limit-refused': 'collection reads in offset pages of 100',
      'fields-missing': 'collection reads in offset pages of 100',
      inconsistent: 'collection reads in offset pages of 100',
      unknown: 'safe choice: collection reads in offset pages of 100',
    },
  },
};

/** What the product does under `variant` of `b` (for the quota row any observed variant reads the same). */
export function productResponse(b: BehaviourName, variant: string): string {
  const notes = BEHAVIOUR_NOTES[b].product;
  return notes[variant] ?? notes.observed ?? notes.unknown!;
}
