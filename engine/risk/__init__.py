"""Portfolio risk: SPAN-style scenario margin."""
