"""``python -m tradeexec``: the same as the ``tradeexec`` console script."""

from tradeexec.cli import main

main()
