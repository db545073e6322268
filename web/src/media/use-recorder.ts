import { useEffect, useRef, useState } from 'preact/hooks';

export type RecorderState =
  | { stage: 'idle' }
  | { stage: 'starting' }
  | { stage: 'recording'; startedAt: number }
  | { stage: 'recorded'; audio: Blob; preview: string; durationMs: number }
  | { stage: 'refused'; reason: 'denied' | 'unsupported' };

type Live = { recorder: MediaRecorder; stream: MediaStream; context: AudioContext; frame: number };

/**
 * Recording from the microphone in the browser: MediaRecorder for the audio, an AnalyserNode for the
 * live level (0..1, the signal's RMS scaled so that speech fills most of it). The microphone is
 * released as soon as recording stops, and on leaving the page.
 */
export function useRecorder() {
  const [state, setState] = useState<RecorderState>({ stage: 'idle' });
  const [level, setLevel] = useState(0);
  const live = useRef<Live | null>(null);
  const preview = useRef<string | null>(null);

  const release = () => {
    const current = live.current;
    if (current === null) return;
    live.current = null;
    cancelAnimationFrame(current.frame);
    current.stream.getTracks().forEach((track) => track.stop());
    void current.context.close();
    setLevel(0);
  };
  const dropPreview = () => {
    if (preview.current !== null) URL.revokeObjectURL(preview.current);
    preview.current = null;
  };
  // Leaving mid-take: the take is dropped, not turned into a preview nobody sees.
  useEffect(
    () => () => {
      const recorder = live.current?.recorder;
      if (recorder !== undefined) {
        recorder.onstop = null;
        if (recorder.state === 'recording') recorder.stop();
      }
      release();
      dropPreview();
    },
    [],
  );

  const start = async () => {
    if (typeof MediaRecorder === 'undefined' || navigator.mediaDevices === undefined) return setState({ stage: 'refused', reason: 'unsupported' });
    dropPreview();
    setState({ stage: 'starting' });
    let stream: MediaStream;
    try {
      stream = await navigator.mediaDevices.getUserMedia({ audio: true });
    } catch {
      return setState({ stage: 'refused', reason: 'denied' });
    }
    const context = new AudioContext();
    const analyser = context.createAnalyser();
    analyser.fftSize = 1024;
    context.createMediaStreamSource(stream).connect(analyser);
    const samples = new Float32Array(analyser.fftSize);
    const recorder = new MediaRecorder(stream);
    const chunks: Blob[] = [];
    const startedAt = performance.now();
    recorder.ondataavailable = (event) => event.data.size > 0 && chunks.push(event.data);
    recorder.onstop = () => {
      const audio = new Blob(chunks, { type: recorder.mimeType || 'audio/webm' });
      preview.current = URL.createObjectURL(audio);
      setState({ stage: 'recorded', audio, preview: preview.current, durationMs: performance.now() - startedAt });
    };
    const measure = () => {
      analyser.getFloatTimeDomainData(samples);
      const rms = Math.sqrt(samples.reduce((sum, sample) => sum + sample * sample, 0) / samples.length);
      setLevel(Math.min(1, rms * 4));
      if (live.current !== null) live.current.frame = requestAnimationFrame(measure);
    };
    live.current = { recorder, stream, context, frame: requestAnimationFrame(measure) };
    recorder.start(1000);
    setState({ stage: 'recording', startedAt });
  };

  const stop = () => {
    if (live.current?.recorder.state === 'recording') live.current.recorder.stop();
    release();
  };

  const discard = () => {
    dropPreview();
    setState({ stage: 'idle' });
  };

  return { state, level, start, stop, discard };
}

/** `m:ss`, for a recording's length. */
export function formatDuration(ms: number): string {
  const seconds = Math.max(0, Math.round(ms / 1000));
  return `${Math.floor(seconds / 60)}:${String(seconds % 60).padStart(2, '0')}`;
}
