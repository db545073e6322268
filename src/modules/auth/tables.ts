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

/** A social sign-in method of a user's: the provider's account (`subject`), as the provider described it when linked. */
export type IdentitiesTable = {
  provider: string;
  subject: string;
  user_id: string;
  email: string | null;
  email_verified: boolean;
  created_at: Date;
};

/** ID tokens already accepted (SHA-256 of the token), kept until they expire: each signs in once. */
export type UsedIdTokensTable = { token_hash: string; expires_at: Date };

export type AuthTables = {
  auth_sessions: AuthSessionsTable;
  refresh_tokens: RefreshTokensTable;
  identities: IdentitiesTable;
  used_id_tokens: UsedIdTokensTable;
};
