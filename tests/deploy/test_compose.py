"""docker-compose.yml agrees with itself and with the configuration it
mounts: every mounted path exists, every scrape target is a service on
the port it listens on, Grafana's datasource and dashboards are where
the stack puts them. (No Docker engine runs here; the stack is not
started.)"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml

ROOT = Path(__file__).resolve().parents[2]

SERVICES = {"engine", "postgres", "redis", "prometheus", "pushgateway"}


def compose() -> dict[str, Any]:
    """The parsed compose file."""
    data: dict[str, Any] = yaml.safe_load(
        (ROOT / "docker-compose.yml").read_text()
    )
    return data


def mounts(service: str) -> dict[str, str]:
    """``container path -> host path`` of a service's bind mounts."""
    found = {}
    for volume in compose()["services"][service].get("volumes", []):
        source, target = volume.split(":")[:2]
        if source.startswith("."):
            found[target] = source
    return found


def listen_port(service: str) -> int:
    """The container port a service listens on, from its published
    ports (``127.0.0.1:host:container``)."""
    [published] = compose()["services"][service]["ports"]
    return int(published.rsplit(":", 1)[1])


def test_every_service_is_there() -> None:
    """The stack has the engine, its stores, Prometheus, the
    Pushgateway and Grafana, and publishes ports on 127.0.0.1 only."""
    services = compose()["services"]
    assert set(services) == SERVICES | {"grafana"}
    for name, service in services.items():
        for published in service.get("ports", []):
            assert published.startswith("127.0.0.1:"), name


def test_every_mounted_path_exists() -> None:
    """Each bind mount's host path is in the repository."""
    for name, service in compose()["services"].items():
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith("."):
                assert (ROOT / source).exists(), f"{name}: {source}"


def test_engine_is_built_here_and_serves_its_port() -> None:
    """The engine image builds from the repository's Dockerfile and
    serves the port it publishes."""
    engine = compose()["services"]["engine"]
    assert engine["build"] == "."
    assert (ROOT / "Dockerfile").is_file()
    command = engine["command"]
    assert command[:2] == ["barq", "serve"]
    port = command[command.index("--port") + 1]
    assert int(port) == listen_port("engine")


def test_prometheus_scrapes_services_on_their_ports() -> None:
    """Every scrape target that names a service names it on the port it
    listens on, the engine and the Pushgateway among them; the config
    file is the one mounted."""
    prometheus = compose()["services"]["prometheus"]
    config_path = mounts("prometheus")["/etc/prometheus/prometheus.yml"]
    config = yaml.safe_load((ROOT / config_path).read_text())
    assert (
        "--config.file=/etc/prometheus/prometheus.yml"
        in (prometheus["command"])
    )
    scraped = set()
    for job in config["scrape_configs"]:
        for static in job["static_configs"]:
            for target in static["targets"]:
                host, port = target.rsplit(":", 1)
                if host in SERVICES:
                    assert int(port) == listen_port(host), target
                    scraped.add(host)
    assert {"engine", "pushgateway"} <= scraped
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    assert jobs["pushgateway"]["honor_labels"] is True


def test_grafana_reads_the_provisioning_and_the_dashboards() -> None:
    """Grafana mounts the provisioning folder, its datasource points at
    the Prometheus service's port, and its dashboard provider reads the
    folder where the dashboards' JSON is mounted."""
    grafana = mounts("grafana")
    provisioning = ROOT / grafana["/etc/grafana/provisioning"]
    datasource = yaml.safe_load(
        (provisioning / "datasources" / "prometheus.yml").read_text()
    )["datasources"][0]
    url = urlsplit(datasource["url"])
    assert url.hostname == "prometheus"
    assert url.port == listen_port("prometheus")
    provider = yaml.safe_load(
        (provisioning / "dashboards" / "barq.yml").read_text()
    )["providers"][0]
    folder = provider["options"]["path"]
    assert folder in grafana
    assert list((ROOT / grafana[folder]).glob("*.json"))
