// Bounds-checked reading of TLS wire structures (RFC 8446 section 3: big-endian integers and
// length-prefixed vectors). Every read checks what is left first and throws Malformed, so a
// parser built on it cannot read past its slice however the lengths lie. The parser catches
// Malformed at its one entry point and turns it into a result; nothing else is thrown.

export class Malformed extends Error {}

export class WireReader {
  private offset = 0;

  constructor(
    private readonly bytes: Buffer,
    /** Names the structure in error reasons: "cipher_suites truncated". */
    private readonly name: string,
  ) {}

  get remaining(): number {
    return this.bytes.length - this.offset;
  }

  u8(): number {
    this.need(1);
    return this.bytes.readUInt8(this.offset++);
  }

  u16(): number {
    this.need(2);
    const value = this.bytes.readUInt16BE(this.offset);
    this.offset += 2;
    return value;
  }

  skip(count: number): void {
    this.need(count);
    this.offset += count;
  }

  /** A vector with a one-byte length prefix (`<0..2^8-1>` in the RFC's notation). */
  vector8(name: string): WireReader {
    return this.vector(this.u8(), name);
  }

  /** A vector with a two-byte length prefix (`<0..2^16-1>`). */
  vector16(name: string): WireReader {
    return this.vector(this.u16(), name);
  }

  /** What is left, as a Buffer view; consumes it. */
  rest(): Buffer {
    const rest = this.bytes.subarray(this.offset);
    this.offset = this.bytes.length;
    return rest;
  }

  /** Vectors must be filled exactly: bytes left over mean the lengths disagree. */
  end(): void {
    if (this.remaining !== 0) throw new Malformed(`${this.remaining} stray bytes after ${this.name}`);
  }

  private vector(length: number, name: string): WireReader {
    if (length > this.remaining) throw new Malformed(`${name} length ${length} overruns ${this.name}`);
    const view = this.bytes.subarray(this.offset, this.offset + length);
    this.offset += length;
    return new WireReader(view, name);
  }

  private need(count: number): void {
    if (count > this.remaining) throw new Malformed(`${this.name} truncated`);
  }
}
