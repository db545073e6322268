export const WAVEFORM_POINTS = 100;

/** Fine peaks kept while decoding; when full they are merged in pairs, so memory stays fixed. */
const MAX_BLOCKS = WAVEFORM_POINTS * 64;
const FULL_SCALE = 32768;

/**
 * Reduces a stream of signed 16-bit little-endian mono samples to peaks, without knowing the length
 * in advance: each block holds the loudest sample of `samplesPerBlock` samples.
 */
export class PeakCollector {
  private samples = 0;
  private blocks: number[] = [];
  private samplesPerBlock = 1;
  private carry: Buffer = Buffer.alloc(0);

  get sampleCount(): number {
    return this.samples;
  }

  add(chunk: Buffer): void {
    const bytes = this.carry.length > 0 ? Buffer.concat([this.carry, chunk]) : chunk;
    const whole = bytes.length - (bytes.length % 2);
    this.carry = Buffer.from(bytes.subarray(whole)); // an odd byte waits for its partner
    for (let offset = 0; offset < whole; offset += 2) this.addSample(Math.abs(bytes.readInt16LE(offset)));
  }

  private addSample(magnitude: number): void {
    let index = Math.floor(this.samples / this.samplesPerBlock);
    if (index === MAX_BLOCKS) {
      this.halve();
      index = Math.floor(this.samples / this.samplesPerBlock);
    }
    this.blocks[index] = Math.max(this.blocks[index] ?? 0, magnitude);
    this.samples += 1;
  }

  private halve(): void {
    const merged: number[] = [];
    for (let i = 0; i < this.blocks.length; i += 2) merged.push(Math.max(this.blocks[i] ?? 0, this.blocks[i + 1] ?? 0));
    this.blocks = merged;
    this.samplesPerBlock *= 2;
  }

  /** Exactly WAVEFORM_POINTS peaks in 0..1 (full scale is 1), rounded to 3 decimals. */
  peaks(): number[] {
    const points: number[] = [];
    const count = this.blocks.length;
    for (let point = 0; point < WAVEFORM_POINTS; point++) {
      const start = Math.floor((point * count) / WAVEFORM_POINTS);
      const end = Math.max(start + 1, Math.floor(((point + 1) * count) / WAVEFORM_POINTS));
      let peak = 0;
      for (let i = start; i < end && i < count; i++) peak = Math.max(peak, this.blocks[i] ?? 0);
      points.push(Math.round(Math.min(1, peak / FULL_SCALE) * 1000) / 1000);
    }
    return points;
  }
}
