-- A client's label for an order (Kite Connect's ``tag``, up to 20 characters), kept with it and
-- answered in every order view. Not unique: a strategy tags all of its orders alike.
ALTER TABLE orders ADD COLUMN tag text;
