import type { ClientBehaviour } from './client.ts';
import type { ClearMode } from './fields.ts';
import type { SekoiaBehaviours } from './profile.ts';

/**
 * What the product does under each recorded behaviour (issue 14; docs/sekoia-behaviours.md): the one place a
 * profile turns into choices. A row `unknown` (no profile recorded, or not observed) gets the choice that is
 * right whatever the real behaviour is.
 */

/** How the client reads lists and searches. */
export function clientBehaviour(b: SekoiaBehaviours): ClientBehaviour {
  return {
    trustHasMore: b.hasMore === 'present',
    termIgnoresCase: b.termSearch === 'case-insensitive' || b.termSearch === 'tokenised',
    ...(b.termSearch === 'substring' || b.termSearch === 'tokenised' ? { termMatch: b.termSearch } : {}),
    ...(b.collectionFeed === 'usable' ? { collectionFeed: true } : {}),
  };
}

export interface WriteChoices {
  /**
   * How an edit clears `valid_until` and `description` when OpenCTI has none:
   * - 'null': send null (the probe saw it clear the field);
   * - 'omit': leave `valid_until` out and send `description: ''` — right when PUT replaces, and otherwise the
   *   closest the API allows: the old `valid_until` stays (Sekoia's default validity applies the same way to a
   *   create without one), the description is emptied.
   */
  clear: ClearMode;
  /**
   * Kill chain phases: 'all' sent as OpenCTI has them; 'known-only' only MITRE ATT&CK / Lockheed Martin phases
   * (the probe saw others refused); 'retry-known-only' all first, and a write refused while carrying other
   * phases is sent again with the known ones only.
   */
  killChains: 'all' | 'known-only' | 'retry-known-only';
}

export function writeChoices(b: SekoiaBehaviours): WriteChoices {
  return {
    // Without the probe's word, null is never sent: one variant refuses it (400 on every such edit).
    clear: b.putNull === 'clear' ? 'null' : 'omit',
    killChains:
      b.killChainPhases === 'accept-all'
        ? 'all'
        : b.killChainPhases === 'mitre-lockheed'
          ? 'known-only'
          : 'retry-known-only',
  };
}
