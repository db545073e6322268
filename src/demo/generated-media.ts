import sharp from 'sharp';

/**
 * The demo's photos, profile images and audio, drawn and synthesized on the spot: nothing is
 * downloaded or shipped. Images are SVG scenes rendered by sharp, without text (a machine may lack
 * fonts); sounds are 16-bit PCM WAV written sample by sample. Each is deterministic.
 */

export type Scene = 'sunset' | 'night' | 'sea' | 'dunes' | 'forest' | 'aurora' | 'shapes' | 'bokeh';

const WIDTH = 1200;
const HEIGHT = 800;

/** A 1200×800 JPEG of `scene`; `seed` varies the details (stars, shapes, lights). */
export function photo(scene: Scene, seed: number): Promise<Buffer> {
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${HEIGHT}" viewBox="0 0 ${WIDTH} ${HEIGHT}">${SCENES[scene](randomFrom(seed))}</svg>`;
  return sharp(Buffer.from(svg)).jpeg({ quality: 85 }).toBuffer();
}

/** A 512×512 PNG profile image: two colours and a simple mark; the first five differ in both. */
export function avatar(index: number): Promise<Buffer> {
  const [from, to] = PALETTES[index % PALETTES.length] as [string, string];
  const mark = MARKS[index % MARKS.length];
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="512" height="512">
    <defs><linearGradient id="bg" x1="0" y1="0" x2="1" y2="1"><stop offset="0" stop-color="${from}"/><stop offset="1" stop-color="${to}"/></linearGradient></defs>
    <rect width="512" height="512" fill="url(#bg)"/>${mark}</svg>`;
  return sharp(Buffer.from(svg)).png().toBuffer();
}

const PALETTES: [string, string][] = [
  ['#ff9a8b', '#ff6a88'], ['#7f7fd5', '#86a8e7'], ['#43cea2', '#185a9d'], ['#f7971e', '#ffd200'],
  ['#c471f5', '#fa71cd'], ['#00c9ff', '#92fe9d'], ['#fc5c7d', '#6a82fb'],
];

const MARKS = [
  '<circle cx="256" cy="210" r="96" fill="#fff" fill-opacity="0.85"/><ellipse cx="256" cy="470" rx="170" ry="150" fill="#fff" fill-opacity="0.85"/>',
  '<circle cx="256" cy="256" r="150" fill="none" stroke="#fff" stroke-width="36" stroke-opacity="0.85"/><circle cx="256" cy="256" r="50" fill="#fff" fill-opacity="0.85"/>',
  '<path d="M256 90 L422 400 H90 Z" fill="#fff" fill-opacity="0.8"/><circle cx="256" cy="330" r="48" fill="#000" fill-opacity="0.15"/>',
  '<rect x="126" y="126" width="260" height="260" rx="60" fill="#fff" fill-opacity="0.8" transform="rotate(45 256 256)"/>',
  '<path d="M60 330 Q160 200 256 330 T452 330" fill="none" stroke="#fff" stroke-width="40" stroke-linecap="round" stroke-opacity="0.85"/><circle cx="256" cy="170" r="60" fill="#fff" fill-opacity="0.85"/>',
];

type Random = () => number;

const SCENES: Record<Scene, (random: Random) => string> = {
  sunset: () => `
    ${sky('#2b1055', '#d53369', '#f8b500')}
    <circle cx="${WIDTH * 0.62}" cy="${HEIGHT * 0.62}" r="130" fill="#ffe29f" opacity="0.95"/>
    ${hill(520, 90, '#7a2e5c')}${hill(600, 70, '#4e1f4a')}${hill(690, 50, '#2a1236')}`,
  night: (random) => `
    ${sky('#020111', '#191970', '#3a3a8a')}
    ${Array.from({ length: 140 }, () => `<circle cx="${random() * WIDTH}" cy="${random() * HEIGHT * 0.7}" r="${0.6 + random() * 2}" fill="#fff" opacity="${0.4 + random() * 0.6}"/>`).join('')}
    <circle cx="930" cy="170" r="70" fill="#fdfbd3"/><circle cx="960" cy="150" r="64" fill="#0d0d45"/>
    <path d="M0 800 L0 600 L180 430 L330 560 L520 380 L720 590 L880 470 L1200 640 L1200 800 Z" fill="#0b0b1f"/>`,
  sea: (random) => `
    ${sky('#89f7fe', '#66a6ff', '#b6e0fe')}
    <circle cx="260" cy="170" r="60" fill="#fffbe6"/>
    <rect y="430" width="${WIDTH}" height="${HEIGHT - 430}" fill="#1c6ea4"/>
    ${Array.from({ length: 9 }, (_, row) => wave(450 + row * 42, 10 + row * 2, random() * 200, row % 2 ? '#3b8fc7' : '#7cc3e8')).join('')}
    <path d="M760 430 L830 260 L830 430 Z" fill="#fff"/><path d="M700 440 L880 440 L850 470 L730 470 Z" fill="#8b4513"/>`,
  dunes: () => `
    ${sky('#ffb88c', '#ffd6a5', '#fff1d0')}
    <circle cx="900" cy="220" r="90" fill="#fff7e0"/>
    <path d="M0 520 Q300 380 600 500 T1200 470 V800 H0 Z" fill="#e8a25b"/>
    <path d="M0 610 Q350 480 700 620 T1200 580 V800 H0 Z" fill="#d4843f"/>
    <path d="M0 700 Q400 610 800 720 T1200 690 V800 H0 Z" fill="#b8672a"/>`,
  forest: (random) => `
    ${sky('#a8e063', '#d4fc79', '#f0fff0')}
    ${hill(470, 60, '#6fa35a')}
    ${Array.from({ length: 26 }, (_, i) => tree(i * 48 + random() * 20, 520 + random() * 200, 70 + random() * 90)).join('')}
    <rect y="730" width="${WIDTH}" height="70" fill="#2f4f2f"/>`,
  aurora: (random) => `
    <defs><filter id="glow" filterUnits="userSpaceOnUse" x="-200" y="-200" width="1600" height="1200"><feGaussianBlur stdDeviation="30"/></filter></defs>
    ${sky('#000814', '#001d3d', '#003566')}
    <g filter="url(#glow)" opacity="0.8">
      ${(['#2dffb3', '#7b2ff7', '#00f5d4'] as const).map((color, i) => curtain(190 + i * 80, random() * 600, color)).join('')}
    </g>
    ${Array.from({ length: 60 }, () => `<circle cx="${random() * WIDTH}" cy="${random() * 500}" r="${0.8 + random() * 1.5}" fill="#fff" opacity="0.7"/>`).join('')}
    <path d="M0 800 L0 640 L260 560 L520 650 L800 570 L1200 660 L1200 800 Z" fill="#01040a"/>`,
  shapes: (random) => {
    const colors = ['#e63946', '#f1faee', '#a8dadc', '#457b9d', '#1d3557', '#ffb703', '#fb8500'];
    const cell = 200;
    const tiles: string[] = [];
    for (let x = 0; x < WIDTH; x += cell) {
      for (let y = 0; y < HEIGHT; y += cell) {
        const [back, front] = [pick(random, colors), pick(random, colors)];
        const kind = Math.floor(random() * 3);
        const shape = kind === 0
          ? `<circle cx="${x + cell / 2}" cy="${y + cell / 2}" r="${cell * 0.38}" fill="${front}"/>`
          : kind === 1
            ? `<path d="M${x} ${y} A${cell} ${cell} 0 0 1 ${x + cell} ${y + cell} L${x} ${y + cell} Z" fill="${front}"/>`
            : `<path d="M${x} ${y + cell} L${x + cell / 2} ${y} L${x + cell} ${y + cell} Z" fill="${front}"/>`;
        tiles.push(`<rect x="${x}" y="${y}" width="${cell}" height="${cell}" fill="${back}"/>${shape}`);
      }
    }
    return tiles.join('');
  },
  bokeh: (random) => `
    <defs><filter id="soft"><feGaussianBlur stdDeviation="12"/></filter></defs>
    ${sky('#141e30', '#243b55', '#3a1c71')}
    <g filter="url(#soft)">
      ${Array.from({ length: 45 }, () => `<circle cx="${random() * WIDTH}" cy="${random() * HEIGHT}" r="${20 + random() * 70}" fill="${pick(random, ['#ffd166', '#ef476f', '#06d6a0', '#ffffff', '#f78c6b'])}" opacity="${0.25 + random() * 0.5}"/>`).join('')}
    </g>`,
};

function sky(top: string, middle: string, bottom: string): string {
  return `<defs><linearGradient id="sky" x1="0" y1="0" x2="0" y2="1"><stop offset="0" stop-color="${top}"/><stop offset="0.55" stop-color="${middle}"/><stop offset="1" stop-color="${bottom}"/></linearGradient></defs>
    <rect width="${WIDTH}" height="${HEIGHT}" fill="url(#sky)"/>`;
}

/** A rolling ridge whose top sits around `y`, rising and falling by `amplitude`. */
function hill(y: number, amplitude: number, color: string): string {
  return `<path d="M0 ${y} C300 ${y - amplitude} 500 ${y + amplitude} 800 ${y - amplitude / 2} S1100 ${y} 1200 ${y - amplitude} V800 H0 Z" fill="${color}"/>`;
}

/** A line along a sine: ripples on water (short period) or a band of aurora (long, wide, blurred). */
function sine(y: number, amplitude: number, phase: number, period: number): string {
  return Array.from({ length: 61 }, (_, i) => {
    const x = (i / 60) * WIDTH;
    return `${x.toFixed(1)},${(y + Math.sin((x + phase) / period) * amplitude).toFixed(1)}`;
  }).join(' ');
}

function wave(y: number, amplitude: number, phase: number, color: string): string {
  return `<polyline points="${sine(y, amplitude, phase, 70)}" fill="none" stroke="${color}" stroke-width="6" stroke-linecap="round"/>`;
}

function curtain(y: number, phase: number, color: string): string {
  return `<polyline points="${sine(y, 45, phase, 190)}" fill="none" stroke="${color}" stroke-width="60"/>`;
}

function tree(x: number, base: number, height: number): string {
  const half = height / 3;
  return `<rect x="${x - 5}" y="${base - 10}" width="10" height="30" fill="#5b3a1a"/>
    <path d="M${x - half} ${base} L${x} ${base - height} L${x + half} ${base} Z" fill="#2e7d32"/>`;
}

function pick<T>(random: Random, items: readonly T[]): T {
  return items[Math.floor(random() * items.length)] as T;
}

/** mulberry32: a small seeded generator, so the same seed draws the same picture. */
function randomFrom(seed: number): Random {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const SAMPLE_RATE = 22_050;

/** About six seconds of a plucked pentatonic tune, as a mono WAV. */
export function tune(): Buffer {
  const notes = [0, 4, 7, 9, 12, 9, 7, 4, 2, 7, 11, 14, 12, 7, 4, 0]; // semitones above A3
  const noteSeconds = 0.36;
  const samples = new Float32Array(Math.ceil((notes.length * noteSeconds + 1) * SAMPLE_RATE));
  notes.forEach((semitone, index) => {
    const frequency = 220 * 2 ** (semitone / 12);
    const start = Math.round(index * noteSeconds * SAMPLE_RATE);
    for (let i = 0; i < SAMPLE_RATE * 1.2 && start + i < samples.length; i++) {
      const t = i / SAMPLE_RATE;
      const envelope = Math.min(1, t / 0.01) * Math.exp(-t * 3.5);
      const tone = Math.sin(2 * Math.PI * frequency * t) + 0.35 * Math.sin(4 * Math.PI * frequency * t) + 0.1 * Math.sin(6 * Math.PI * frequency * t);
      samples[start + i] = (samples[start + i] ?? 0) + 0.3 * envelope * tone;
    }
  });
  return pcmWav(samples, SAMPLE_RATE);
}

/** Eight seconds of waves on a shore: noise, smoothed, swelling and fading every few seconds. */
export function waves(seed: number): Buffer {
  const random = randomFrom(seed);
  const samples = new Float32Array(8 * SAMPLE_RATE);
  let smooth = 0;
  for (let i = 0; i < samples.length; i++) {
    const t = i / SAMPLE_RATE;
    smooth += 0.08 * (random() * 2 - 1 - smooth);
    const swell = 0.15 + 0.85 * Math.max(0, Math.sin((2 * Math.PI * t) / 4)) ** 2;
    samples[i] = 1.6 * smooth * swell * Math.min(1, t / 0.5, (8 - t) / 0.5);
  }
  return pcmWav(samples, SAMPLE_RATE);
}

/** 16-bit mono PCM WAV of samples in -1…1 (the test samples are made with it too). */
export function pcmWav(samples: Float32Array, sampleRate: number): Buffer {
  const data = Buffer.alloc(samples.length * 2);
  samples.forEach((sample, i) => data.writeInt16LE(Math.round(Math.max(-1, Math.min(1, sample)) * 32767), i * 2));
  const header = Buffer.alloc(44);
  header.write('RIFF', 0, 'latin1');
  header.writeUInt32LE(36 + data.length, 4);
  header.write('WAVEfmt ', 8, 'latin1');
  header.writeUInt32LE(16, 16); // fmt chunk size
  header.writeUInt16LE(1, 20); // PCM
  header.writeUInt16LE(1, 22); // mono
  header.writeUInt32LE(sampleRate, 24);
  header.writeUInt32LE(sampleRate * 2, 28); // bytes per second
  header.writeUInt16LE(2, 32); // bytes per frame
  header.writeUInt16LE(16, 34); // bits per sample
  header.write('data', 36, 'latin1');
  header.writeUInt32LE(data.length, 40);
  return Buffer.concat([header, data]);
}
