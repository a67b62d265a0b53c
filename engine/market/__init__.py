"""The market model: market data and quote sources, the order books, the numba kernels that
move prices and mark risk, instrument master imports, and the messages the market actor takes."""
