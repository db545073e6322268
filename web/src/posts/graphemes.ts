/** API.md: a post's text is 0..500 graphemes; counted the same way as Plaza does, by user-perceived characters. */
export const POST_TEXT_MAX_GRAPHEMES = 500;

const segmenter = new Intl.Segmenter(undefined, { granularity: 'grapheme' });

export function graphemeCount(text: string): number {
  let count = 0;
  for (const _ of segmenter.segment(text)) count++;
  return count;
}
