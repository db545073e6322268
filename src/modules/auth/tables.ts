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

/** A web sign-in between its authorize and its callback (hashes of the state and of the browser's cookie). */
export type OauthStatesTable = {
  state_hash: string;
  browser_hash: string;
  provider: string;
  redirect_uri: string;
  code_verifier: string;
  nonce: string;
  link_user_id: string | null;
  link_session_id: string | null;
  expires_at: Date;
};

export type AuthTables = {
  auth_sessions: AuthSessionsTable;
  refresh_tokens: RefreshTokensTable;
  identities: IdentitiesTable;
  used_id_tokens: UsedIdTokensTable;
  oauth_states: OauthStatesTable;
};
