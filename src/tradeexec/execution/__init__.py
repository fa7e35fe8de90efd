"""From a signal to an exchange order: normalisation, the gate, sizing and pre-trade risk.

``signals`` (the normalised ``Signal``), ``tradingview`` (alert payloads to signals),
``sizing`` (how much to trade), ``risk`` (the pre-trade checks and trading state) and
``ids`` (exchange client order ids derived from a signal's idempotency key).
"""
