import { describe, expect, it } from 'vitest';
import { OPENCTI_EXTENSION, openCtiInternalId } from '../src/index.ts';

describe('openCtiInternalId', () => {
  it.each([
    [{ extensions: { [OPENCTI_EXTENSION]: { id: 'a1b2' } } }, 'a1b2'],
    [{ extensions: { [OPENCTI_EXTENSION]: { id: '' } } }, undefined],
    [{ extensions: { [OPENCTI_EXTENSION]: { id: 7 } } }, undefined],
    [{ extensions: { [OPENCTI_EXTENSION]: 'a1b2' } }, undefined],
    [{ extensions: { 'extension-definition--other': { id: 'a1b2' } } }, undefined],
    [{ extensions: [] }, undefined],
    [{ id: 'indicator--x' }, undefined],
  ])('%j → %s', (obj, want) => {
    expect(openCtiInternalId(obj)).toBe(want);
  });
});
