-- The ledger is the widest write of every group commit (two legs per money movement, ~2.5
-- rows per event) and its foreign key to trading_accounts ran one lookup and one row lock
-- per leg: ~30 % of the ledger insert. The key is kept by construction instead: legs are
-- written only by persistence.writer, in the transaction that has just upserted the account
-- row of every leg (write_rows asserts it), and trading_accounts rows are never deleted.
ALTER TABLE transactions DROP CONSTRAINT transactions_trading_account_id_fkey;

-- What the foreign key also did, refuse deleting an account that has ledger legs, costs
-- nothing on the write path as a trigger on the (never deleted) accounts instead.
CREATE FUNCTION refuse_deleting_accounts_with_ledger() RETURNS trigger AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM transactions WHERE trading_account_id = OLD.id) THEN
        RAISE EXCEPTION 'trading account % has ledger entries', OLD.id
            USING ERRCODE = 'foreign_key_violation';
    END IF;
    RETURN OLD;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER trading_accounts_keep_ledger
    BEFORE DELETE ON trading_accounts
    FOR EACH ROW EXECUTE FUNCTION refuse_deleting_accounts_with_ledger();
