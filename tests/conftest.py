"""Our tests use the venue harness our users get: the `tradeexec.testing` pytest plugin.

Installing tradeexec registers it already; naming it here keeps the suite working where
plugins are not auto-loaded (``PYTEST_DISABLE_PLUGIN_AUTOLOAD``)."""

pytest_plugins = ["tradeexec.testing"]
