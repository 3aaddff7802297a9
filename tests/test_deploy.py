"""The production compose file parses and names only things that exist in the repository."""

from pathlib import Path

import yaml

import contracts as c

ROOT = Path(__file__).resolve().parents[1]


def compose() -> dict:  # type: ignore[type-arg]
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def test_compose_parses_and_has_kafka_kraft_postgres_and_the_services() -> None:
    services = compose()["services"]
    assert {"kafka", "postgres", "auth", "datasource", "ingest"} <= set(services)
    assert services["kafka"]["environment"]["KAFKA_PROCESS_ROLES"] == "broker,controller"


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
