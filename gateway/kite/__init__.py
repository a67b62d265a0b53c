"""The Kite Connect v3 facade (docs/KITE.md): Kite's routes, wire conventions and KiteTicker on a
listener of their own, over paperdesk's engine, so an unmodified ``kiteconnect`` program trades
here with only its ``root`` changed."""
