-- The first admin created with a generated password (no admin in the environment) must set a
-- password of their own at first sign-in; until then every route but changing the password,
-- logging out and reading the session answers 403 PASSWORD_CHANGE_REQUIRED.
ALTER TABLE users ADD COLUMN must_change_password boolean NOT NULL DEFAULT false;
