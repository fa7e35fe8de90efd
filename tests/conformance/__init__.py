"""One scenario suite, three venues (paper, Binance via the simulator, Hyperliquid via the
simulator), the same normalised answers. Where venues truly differ the tests read it from
`Capabilities`, never from the venue's name."""
