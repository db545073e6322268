export type MemosTable = {
  id: string;
  user_id: string;
  text: string;
  created_at: Date;
  updated_at: Date;
};

export type MemoTables = { memos: MemosTable };
