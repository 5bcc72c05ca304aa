// `hexdump -C` lines for memory: address, 16 bytes in two groups of 8, |ascii|;
// a line equal to the previous one becomes a single "*" (as hexdump does).

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));

function asciiOf(b: Buffer): string {
  let s = '';
  for (const c of b) s += c >= 0x20 && c < 0x7f ? String.fromCharCode(c) : '.';
  return s;
}

function line(addr: bigint, b: Buffer): string {
  let hex = '';
  for (let i = 0; i < 16; i++) {
    hex += i < b.length ? HEX[b[i]] + ' ' : '   ';
    if (i === 7) hex += ' ';
  }
  return `${addr.toString(16).padStart(8, '0')}  ${hex} |${asciiOf(b)}|\n`;
}

/**
 * Formats consecutive pieces of memory that start at `start` (each piece
 * follows the previous one). Call end() for the closing address line.
 */
export class HexDumper {
  private prev: Buffer | undefined;
  private starred = false;
  private carry = Buffer.alloc(0);
  private addr: bigint;

  constructor(start: bigint) {
    this.addr = start;
  }

  *push(data: Buffer): Generator<string> {
    let buf = this.carry.length ? Buffer.concat([this.carry, data]) : data;
    let i = 0;
    let out = '';
    for (; i + 16 <= buf.length; i += 16) {
      const b = buf.subarray(i, i + 16);
      if (this.prev && b.equals(this.prev)) {
        if (!this.starred) out += '*\n';
        this.starred = true;
      } else {
        out += line(this.addr, b);
        this.starred = false;
      }
      this.prev = b;
      this.addr += 16n;
      if (out.length > 1 << 16) {
        yield out;
        out = '';
      }
    }
    this.carry = Buffer.from(buf.subarray(i));
    buf = Buffer.alloc(0);
    if (out) yield out;
  }

  /** The last partial line (if any) and the end address, as hexdump ends. */
  end(): string {
    let out = '';
    if (this.carry.length) {
      out += line(this.addr, this.carry);
      this.addr += BigInt(this.carry.length);
      this.carry = Buffer.alloc(0);
    }
    return out + this.addr.toString(16).padStart(8, '0') + '\n';
  }
}
