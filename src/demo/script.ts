import type { Scene } from './generated-media.ts';

/** Who the demo's people are and what they do, in the order it happens. */

export type DemoPerson = {
  /** Also the local part of their email address. */
  key: string;
  name: string;
  bio: string;
};

export type DemoPost = {
  by: string;
  text: string;
  photos?: Scene[];
  /** The synthesized tune, uploaded as an audio media item. */
  tune?: true;
  visibility?: 'followers';
  likedBy: string[];
};

export const PEOPLE: DemoPerson[] = [
  { key: 'maya', name: 'Maya Okafor', bio: 'Chasing light, mostly at golden hour.' },
  { key: 'theo', name: 'Theo Lindqvist', bio: 'Amateur astronomer. Cold hands, clear skies.' },
  { key: 'noor', name: 'Noor Haddad', bio: 'Songs, field recordings and the sea.' },
  { key: 'kenji', name: 'Kenji Watanabe', bio: 'Shapes, colours and too many sketchbooks.' },
  { key: 'lucia', name: 'Lucia Ferreira', bio: 'New here. Saying hello to everyone.' },
];

/** [follower, followed] */
export const FOLLOWS: [string, string][] = [
  ['theo', 'maya'], ['noor', 'maya'], ['lucia', 'maya'],
  ['maya', 'theo'], ['kenji', 'theo'], ['lucia', 'theo'],
  ['maya', 'noor'], ['kenji', 'noor'], ['lucia', 'noor'],
  ['noor', 'kenji'], ['lucia', 'kenji'],
  ['noor', 'lucia'],
];

export const POSTS: DemoPost[] = [
  { by: 'lucia', text: 'Hello Plaza! 👋 First post, be gentle.', likedBy: ['maya', 'noor', 'kenji'] },
  { by: 'maya', text: 'Golden hour over the hills tonight.', photos: ['sunset'], likedBy: ['theo', 'noor', 'lucia', 'kenji'] },
  { by: 'theo', text: 'Clear skies at last. The moon was almost too bright for the stars.', photos: ['night'], likedBy: ['maya', 'lucia'] },
  { by: 'kenji', text: "Shapes and colours from this week's sketchbook.", photos: ['shapes', 'bokeh'], likedBy: ['noor', 'lucia'] },
  { by: 'noor', text: 'A little tune I made this morning 🎶', tune: true, likedBy: ['maya', 'kenji', 'lucia'] },
  { by: 'maya', text: 'A weekend by the coast: the sea, then the dunes.', photos: ['sea', 'dunes'], likedBy: ['noor'] },
  {
    by: 'maya',
    text: 'Only for the people who follow me: the forest where I take most of these. Keep it between us 🌲',
    photos: ['forest'],
    visibility: 'followers',
    likedBy: ['theo'],
  },
  { by: 'theo', text: 'Aurora from the cabin, 2 a.m. Worth every minute of the cold.', photos: ['aurora'], likedBy: ['maya', 'noor', 'kenji', 'lucia'] },
  { by: 'lucia', text: '@noor that tune has been stuck in my head all day.', likedBy: ['noor'] },
];

/** Noor's recorder keeps this one to herself: a recording, not a post. */
export const RECORDING = { by: 'noor', fileName: 'Waves at the pier.wav' };
