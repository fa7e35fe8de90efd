"""tradeexec: one dependable path from a trading signal to an order on an exchange."""

__version__ = "0.1.0"
