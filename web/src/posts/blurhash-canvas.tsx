import { decode } from 'blurhash';
import { useEffect, useRef } from 'preact/hooks';

/** Decoded this small and stretched by CSS: a blurhash is a blur, more pixels would add nothing. */
const SIZE = 32;

/** A blurhash drawn on a canvas, as the placeholder under a photo or for locked media. */
export function BlurhashCanvas({ hash, class: className }: { hash: string; class?: string }) {
  const canvas = useRef<HTMLCanvasElement>(null);
  useEffect(() => {
    const context = canvas.current?.getContext('2d');
    if (!context) return;
    try {
      const pixels = decode(hash, SIZE, SIZE);
      const image = context.createImageData(SIZE, SIZE);
      image.data.set(pixels);
      context.putImageData(image, 0, 0);
    } catch {
      // A malformed hash leaves the plain background: a placeholder is not worth an error.
    }
  }, [hash]);
  return <canvas ref={canvas} class={className} width={SIZE} height={SIZE} aria-hidden="true" />;
}
