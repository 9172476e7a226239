"""Anonymous signals (what people need and what holds them back) and their report."""
