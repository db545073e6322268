import { sql, type Kysely } from 'kysely';

export async function up(db: Kysely<any>): Promise<void> {
  // A ledger entry's id is made by the database as the row is written, which is after its account's
  // row is locked: a wallet's entries then sort in the order they applied, however many processes
  // write them, and a purchase can be one statement. Shaped as a ULID (Crockford base 32), so new ids
  // sort with the ones Plaza made before: the database clock's milliseconds (10 digits), their
  // microsecond (2), then 14 random hex digits. PL/pgSQL, whose expressions take a fast path: the
  // same as a SQL function cost five times as much.
  await sql`
    create function ledger_entry_id() returns text language plpgsql volatile as $$
    declare
      a constant text := '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
      t constant bigint := (extract(epoch from clock_timestamp()) * 1000000)::bigint;
      ms constant bigint := t / 1000;
    begin
      return substr(a, ((ms >> 45) & 31)::int + 1, 1) ||
        substr(a, ((ms >> 40) & 31)::int + 1, 1) ||
        substr(a, ((ms >> 35) & 31)::int + 1, 1) ||
        substr(a, ((ms >> 30) & 31)::int + 1, 1) ||
        substr(a, ((ms >> 25) & 31)::int + 1, 1) ||
        substr(a, ((ms >> 20) & 31)::int + 1, 1) ||
        substr(a, ((ms >> 15) & 31)::int + 1, 1) ||
        substr(a, ((ms >> 10) & 31)::int + 1, 1) ||
        substr(a, ((ms >> 5) & 31)::int + 1, 1) ||
        substr(a, (ms & 31)::int + 1, 1) ||
        substr(a, (((t % 1000) >> 5) & 31)::int + 1, 1) || substr(a, ((t % 1000) & 31)::int + 1, 1) ||
        upper(substr(md5(random()::text), 1, 14));
    end $$`.execute(db);
  await sql`alter table ledger_entries alter column id set default ledger_entry_id()`.execute(db);

  // A user's account is made by the first move that credits it, an upsert on its id: a second unique
  // key on the table (user, kind) breaks two concurrent first credits (ON CONFLICT waits on its own
  // key only, and the other one raises instead). The id already names the user and the kind, which
  // this CHECK holds it to; the lookup by user stays, as a plain index.
  await sql`alter table wallet_accounts add constraint wallet_accounts_user_id_in_id check (user_id is null or id = kind || ':' || user_id)`.execute(db);
  await sql`drop index wallet_accounts_user_kind`.execute(db);
  await sql`create index wallet_accounts_user_kind on wallet_accounts (user_id, kind) where user_id is not null`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`drop index wallet_accounts_user_kind`.execute(db);
  await sql`create unique index wallet_accounts_user_kind on wallet_accounts (user_id, kind) where user_id is not null`.execute(db);
  await sql`alter table wallet_accounts drop constraint wallet_accounts_user_id_in_id`.execute(db);
  await sql`alter table ledger_entries alter column id drop default`.execute(db);
  await sql`drop function ledger_entry_id()`.execute(db);
}
