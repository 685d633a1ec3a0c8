/**
 * The only exception the parser throws. `position` is a 0-based offset into the pattern string
 * (UTF-16 code units, i.e. a JavaScript string index; equal to the character index for BMP text).
 */
export class StixPatternError extends Error {
  readonly position: number;

  constructor(message: string, position: number) {
    super(message);
    this.name = 'StixPatternError';
    this.position = position;
  }
}
