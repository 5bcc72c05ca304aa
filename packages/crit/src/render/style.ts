// Colour for crit's own reports: only when stdout is a terminal, never with
// NO_COLOR (any value, https://no-color.org) or --no-color.
import { Chalk, type ChalkInstance } from 'chalk';

export interface StyleOptions {
  /** yargs turns --no-color into color: false */
  color?: boolean;
}

export function colorWanted(opts: StyleOptions = {}, stream: { isTTY?: boolean } = process.stdout): boolean {
  if (opts.color === false) return false;
  if (process.env.NO_COLOR !== undefined && process.env.NO_COLOR !== '') return false;
  return stream.isTTY === true;
}

/** A chalk that colours only when colorWanted() says so. */
export function makeStyle(opts: StyleOptions = {}): ChalkInstance {
  return new Chalk({ level: colorWanted(opts) ? 1 : 0 });
}
