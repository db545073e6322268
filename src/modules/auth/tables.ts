export type AuthSessionsTable = {
  id: string;
  user_id: string;
  created_at: Date;
  revoked_at: Date | null;
};

export type RefreshTokensTable = {
  token_hash: string;
  session_id: string;
  created_at: Date;
  expires_at: Date;
  used_at: Date | null;
};

export type AuthTables = { auth_sessions: AuthSessionsTable; refresh_tokens: RefreshTokensTable };
