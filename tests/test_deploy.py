"""The deployment examples in deploy/ (docker is not run here; these check what can drift):
the compose file names PostgreSQL, three replicas with distinct ids on one shared database,
and Caddy routing only the webhook to them; every variable it and the replicas' config use
is in .env.example; the config loads with them; the systemd unit has the keys that make it a
hardened, restarting service of its own user."""

from __future__ import annotations

import configparser
import re
from pathlib import Path

import yaml

from tradeexec.config import load_config

DEPLOY = Path(__file__).resolve().parent.parent / "deploy"
REPLICAS = ("tradeexec-1", "tradeexec-2", "tradeexec-3")
VARIABLE = re.compile(r"\$\{(\w+)(?::-[^}]*)?\}")


def example_env() -> dict[str, str]:
    out = {}
    for line in (DEPLOY / ".env.example").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, _, value = line.partition("=")
            out[name] = value
    return out


def test_compose_runs_postgres_three_replicas_on_it_and_tls_in_front_of_the_webhook() -> None:
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    services = compose["services"]
    assert set(services) == {"postgres", "caddy", *REPLICAS}
    postgres = services["postgres"]
    assert postgres["image"].startswith("postgres:16")
    assert "pgdata:/var/lib/postgresql/data" in postgres["volumes"] and "pg_isready" in str(
        postgres["healthcheck"]["test"]
    )
    ids = []
    for name in REPLICAS:
        replica = services[name]
        command = replica["command"]
        assert command[0] == "serve" and "--lease-ttl" in command
        ids.append(command[command.index("--replica-id") + 1])
        assert replica["depends_on"] == {"postgres": {"condition": "service_healthy"}}
        url = replica["environment"]["TRADEEXEC_STORE_URL"]
        assert url.startswith("postgresql+psycopg://") and "@postgres:5432/" in url
        assert replica["build"]["dockerfile"] == "deploy/Dockerfile"
        assert replica["env_file"] == ".env"
    assert ids == list(REPLICAS)  # one id each: a shared id would share leases
    caddy = services["caddy"]
    assert "443:443" in caddy["ports"] and "./Caddyfile:/etc/caddy/Caddyfile:ro" in caddy["volumes"]


def test_caddy_routes_only_the_webhook_to_every_replica() -> None:
    caddyfile = (DEPLOY / "Caddyfile").read_text()
    handles = re.findall(r"^\s*handle\s*(\S*)\s*\{", caddyfile, re.M)
    assert handles == ["/webhooks/*", ""]  # the webhook, and a catch-all answering 404
    upstreams = re.search(r"reverse_proxy ([^{]+)\{", caddyfile)
    assert upstreams is not None
    assert upstreams.group(1).split() == [f"{r}:8000" for r in REPLICAS]
    assert "respond 404" in caddyfile


def test_every_variable_is_in_the_env_example_and_the_config_loads_with_it() -> None:
    env = example_env()
    used = set(VARIABLE.findall((DEPLOY / "compose.yaml").read_text()))
    used |= set(VARIABLE.findall((DEPLOY / "Caddyfile").read_text().replace("{$", "${")))
    lines = (DEPLOY / "config.yaml").read_text().splitlines()
    config_text = "\n".join(line.split("#")[0] for line in lines)  # not the comments
    required = {m.group(1) for m in re.finditer(r"\$\{(\w+)\}", config_text)}
    assert used | required <= set(env), sorted((used | required) - set(env))
    config = load_config(
        DEPLOY / "config.yaml", env={**env, "BINANCE_API_KEY": "k", "BINANCE_API_SECRET": "s"}
    )
    assert config.service.host == "0.0.0.0" and config.service.trusted_proxies
    assert config.default_account in config.accounts
    assert (DEPLOY / ".gitignore").read_text().split() == [".env"]  # secrets stay out of git


def test_the_dockerfile_installs_the_locked_dependencies_with_their_hashes() -> None:
    dockerfile = (DEPLOY / "Dockerfile").read_text()
    assert "--require-hashes -r requirements.lock" in dockerfile
    assert "--no-deps ." in dockerfile and "\nUSER tradeexec\n" in dockerfile


def test_the_systemd_unit_is_a_hardened_restarting_service_of_its_own_user() -> None:
    unit = configparser.ConfigParser(strict=False, interpolation=None)
    unit.optionxform = str  # type: ignore[assignment,method-assign]
    unit.read_string((DEPLOY / "tradeexec.service").read_text())
    service = unit["Service"]
    assert service["User"] == "tradeexec" and service["Restart"] == "always"
    assert service["NoNewPrivileges"] == "yes" and service["ProtectSystem"] == "strict"
    assert service["StateDirectory"] == "tradeexec"
    assert service["EnvironmentFile"].startswith("/etc/tradeexec/")
    assert service["ExecStart"].split()[1:3] == ["serve", "--config"]
    assert "--replica-id" in service["ExecStart"]
    assert unit["Install"]["WantedBy"] == "multi-user.target"
