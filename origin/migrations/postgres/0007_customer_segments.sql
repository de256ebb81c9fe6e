-- A customer's segments (e.g. `trade`, `vip`), set through the admin API.
-- They travel in the customer's access token (the `seg` claim), where the
-- edge reads them to personalize pages and price carts: a JSON array of
-- lower-case names, at most 16 of at most 64 bytes each (checked by the
-- origin before it writes).
ALTER TABLE users ADD COLUMN segments TEXT NOT NULL DEFAULT '[]';
