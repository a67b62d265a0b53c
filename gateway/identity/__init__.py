"""Who the callers are: users and the trading accounts each owns (``users``), their sessions
(``sessions``), and the password policy and hashing (``passwords``)."""
