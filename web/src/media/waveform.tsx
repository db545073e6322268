import { useEffect, useRef, useState } from 'preact/hooks';

const PEAKS = 100;

/**
 * A recording's waveform on a canvas: the API's peaks (0..1) when it has them, else the peaks of the
 * file itself, decoded with Web Audio. Drawn in the text colour, again when the canvas changes size.
 */
export function Waveform({ peaks, url, label }: { peaks: number[] | null; url: string; label: string }) {
  const canvas = useRef<HTMLCanvasElement>(null);
  const [shown, setShown] = useState<number[] | null>(peaks);

  useEffect(() => {
    if (peaks !== null) return setShown(peaks);
    let cancelled = false;
    decodePeaks(url)
      .then((decoded) => !cancelled && setShown(decoded))
      .catch(() => undefined);
    return () => {
      cancelled = true;
    };
  }, [peaks, url]);

  useEffect(() => {
    const element = canvas.current;
    if (element === null || shown === null) return;
    const observer = new ResizeObserver(() => draw(element, shown));
    observer.observe(element);
    return () => observer.disconnect();
  }, [shown]);

  return <canvas ref={canvas} class="waveform" role="img" aria-label={label} data-peaks={shown?.length ?? 0} />;
}

function draw(canvas: HTMLCanvasElement, peaks: number[]): void {
  const ratio = devicePixelRatio || 1;
  canvas.width = Math.max(1, Math.round(canvas.clientWidth * ratio));
  canvas.height = Math.max(1, Math.round(canvas.clientHeight * ratio));
  const context = canvas.getContext('2d');
  if (context === null || peaks.length === 0) return;
  context.clearRect(0, 0, canvas.width, canvas.height);
  context.fillStyle = getComputedStyle(canvas).color;
  const step = canvas.width / peaks.length;
  const middle = canvas.height / 2;
  peaks.forEach((peak, index) => {
    // A silent stretch still shows as a thin line, so the waveform reads as one.
    const half = Math.max(ratio / 2, Math.min(1, peak) * middle);
    context.fillRect(index * step, middle - half, Math.max(1, step * 0.7), half * 2);
  });
}

async function decodePeaks(url: string): Promise<number[]> {
  const bytes = await (await fetch(url)).arrayBuffer();
  const audio = await new OfflineAudioContext(1, 1, 44_100).decodeAudioData(bytes);
  const samples = audio.getChannelData(0);
  const size = Math.max(1, Math.floor(samples.length / PEAKS));
  const peaks = Array.from({ length: PEAKS }, (_, bucket) => {
    let peak = 0;
    for (let index = bucket * size; index < Math.min(samples.length, (bucket + 1) * size); index++) peak = Math.max(peak, Math.abs(samples[index]!));
    return peak;
  });
  const loudest = Math.max(...peaks, Number.EPSILON);
  return peaks.map((peak) => peak / loudest);
}
