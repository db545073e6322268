import Type from 'typebox';

export const MemoText = Type.String({ minLength: 1, maxLength: 10_000 });

export const Memo = Type.Object(
  {
    id: Type.String(),
    text: Type.String(),
    createdAt: Type.String({ format: 'date-time' }),
    updatedAt: Type.String({ format: 'date-time' }),
  },
  { title: 'Memo' },
);

export type Memo = Type.Static<typeof Memo>;
