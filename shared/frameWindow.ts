/**
 * The bytes the frame decoder (rpcFrame.ts) holds between pushes: the window
 * [start, end) of one reused buffer. Appending compacts the window to the front or grows
 * the buffer; once everything held is consumed the buffer shrinks back, so a big frame's
 * memory is given back after it is decoded. The decoder reads `bytes` and moves `start`
 * itself: that is its hot loop, so the fields are plain.
 */
export class FrameWindow {
  bytes: Uint8Array;
  start = 0;
  end = 0;
  private readonly initialBytes: number;

  constructor(initialBytes: number) {
    this.initialBytes = initialBytes;
    this.bytes = new Uint8Array(initialBytes);
  }

  get held(): number {
    return this.end - this.start;
  }

  /**
   * Appends `piece` after the held bytes. Returns how far the held bytes moved toward the
   * front of the buffer: a position the caller kept into `bytes` moves by as much.
   */
  append(piece: Uint8Array): number {
    let moved = 0;
    if (this.end + piece.length > this.bytes.length) {
      const held = this.end - this.start;
      const needed = held + piece.length;
      if (needed <= this.bytes.length) {
        this.bytes.copyWithin(0, this.start, this.end);
      } else {
        const grown = new Uint8Array(Math.max(needed, this.bytes.length * 2));
        grown.set(this.bytes.subarray(this.start, this.end), 0);
        this.bytes = grown;
      }
      moved = this.start;
      this.start = 0;
      this.end = held;
    }
    this.bytes.set(piece, this.end);
    this.end += piece.length;
    return moved;
  }

  /** Forgets what is held (the stream ended). */
  clear(): void {
    this.start = 0;
    this.end = 0;
  }

  /** Once nothing is held, starts over at the front of the buffer and gives back a big frame's memory. */
  releaseIfIdle(): void {
    if (this.start === this.end) {
      this.start = 0;
      this.end = 0;
      if (this.bytes.length > 4 * this.initialBytes) this.bytes = new Uint8Array(this.initialBytes);
    }
  }
}
