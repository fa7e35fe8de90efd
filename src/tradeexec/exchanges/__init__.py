"""Exchange adapters: the ExchangeTrader contract, venue traders, and symbol handling."""
