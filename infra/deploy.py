"""The deployment files made from the process table (infra/processes.py), the configs and the
subscriptions, so no manifest names a process, port, queue or variable the code does not have.

    python -m infra.deploy --write    # infra/k8s/base/processes.yaml and compose.yaml
    python -m infra.deploy --check    # exit 1 if either is stale (tests/unit/test_deployment.py)

What is written by hand stays by hand: the broker and the database clusters, the namespace-wide
network policies and the overlays under infra/k8s/, the broker, Prometheus and Grafana configs
under infra/deploy/.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from pathlib import Path

import yaml

from contracts.subscriptions import SUBSCRIPTIONS
from infra.processes import MIGRATIONS, PROCESSES, ROOT, Process, config_variables, database_url_env, default_port

K8S_PROCESSES = ROOT / "infra/k8s/base/processes.yaml"
COMPOSE = ROOT / "compose.yaml"

IMAGE = "tongban"  # the overlay's `images:` gives the registry and the tag
UID = 10001  # the Dockerfile's user
BROKER = "tongban-broker"  # the RabbitmqCluster (infra/k8s/base/broker.yaml)
POSTGRES = "tongban-pg"  # the CloudNativePG Cluster (infra/k8s/base/postgres.yaml)
PART_OF = {"app.kubernetes.io/part-of": "tongban"}
# what a process's config reads that is a credential, and where it comes from: Secrets made
# outside the repository (docs/deployment.md), one per process or database, never a value here
SECRET_VARIABLES = {"AMQP_URI", "E_CERTIFICATE_KEY", "PARTNER_AMQP_URI", "CHECK_SOURCES_TOKEN"}
# directories a process writes to (the root filesystem is read-only)
BANK_FILES = {"assistance", "care"}
QUEUE_LENGTH_TARGET = "50"  # messages waiting per instance before KEDA adds one


def service_class(path: str):
    module, _, name = path.partition(":")
    return getattr(importlib.import_module(module), name)


def rpc_queues(process: Process) -> list[str]:
    """`rpc-<service>` of each service of the process that has an RPC entrypoint."""
    from chassis.entrypoints import Rpc

    queues = []
    for path in process.services:
        cls = service_class(path)
        for attr in dir(cls):
            entrypoints = getattr(getattr(cls, attr, None), "nameko_entrypoints", ())
            if any(isinstance(e, Rpc) for e in entrypoints):
                queues.append(f"rpc-{cls.name}")
                break
    return queues


def event_queues(process: Process) -> list[str]:
    return sorted(q for q in SUBSCRIPTIONS if q.split(".", 1)[0] == process.queues_of)


def labels(name: str, component: str = "process") -> dict:
    return {"app.kubernetes.io/name": f"tongban-{name}", "app.kubernetes.io/component": component, **PART_OF}


def environment(name: str, process: Process) -> list[dict]:
    """The variables the process's config reads: credentials from Secrets, the rest from its
    ConfigMap, its HTTP address on all interfaces."""
    env = []
    for variable in config_variables(process.config):
        if variable == process.http_env:
            env.append({"name": variable, "value": f"0.0.0.0:{default_port(process)}"})
        elif variable == database_url_env(process.database):
            # the services' role of its database (owns nothing; the audit only read and appended to)
            env.append(secret_env(variable, f"tongban-{process.database}-db-service", "url"))
        elif variable == "AMQP_URI":
            env.append(secret_env(variable, f"tongban-{name}-broker", "uri"))
        elif variable in SECRET_VARIABLES:
            env.append(secret_env(variable, f"tongban-{name}-keys", variable.lower().replace("_", "-")))
        elif variable.endswith("_DATABASE_URL") or variable.endswith("_HTTP"):
            continue  # another process's
        else:
            env.append(
                {"name": variable, "valueFrom": {"configMapKeyRef": {"name": f"tongban-{name}", "key": variable}}}
            )
    return env


def service_role(database: str) -> str:
    """The role a database's processes connect as: migrations run as the owner (`<database>`) and
    grant it what a service needs (chassis.migrations.grant_service_role)."""
    return f"{database}_service"


def needs_auth(process: Process) -> bool:
    return "gateway.service:GatewayService" in process.services


def secret_env(variable: str, secret: str, key: str) -> dict:
    return {"name": variable, "valueFrom": {"secretKeyRef": {"name": secret, "key": key}}}


def config_map(name: str, process: Process) -> dict:
    """The config's own defaults for what is not a credential nor an address: the overlays patch
    what differs (the data-sharing gateway's URL, the log level)."""
    data = {}
    for variable, default in config_variables(process.config).items():
        if variable in SECRET_VARIABLES or variable.endswith("_DATABASE_URL") or variable.endswith("_HTTP"):
            continue
        if variable == "BANK_FILES_DIR":
            default = "/app/var/bank-files"
        data[variable] = default or ""
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": f"tongban-{name}", "labels": labels(name)},
        "data": data,
    }


def deployment(name: str, process: Process) -> dict:
    port = default_port(process)
    volumes = [{"name": "tmp", "emptyDir": {"medium": "Memory", "sizeLimit": "64Mi"}}]
    mounts = [{"name": "tmp", "mountPath": "/tmp"}]
    if name in BANK_FILES:
        volumes.append({"name": "bank-files", "persistentVolumeClaim": {"claimName": "tongban-bank-files"}})
        mounts.append({"name": "bank-files", "mountPath": "/app/var/bank-files"})
    probe = {"httpGet": {"port": "http"}, "periodSeconds": 10, "timeoutSeconds": 5}
    container = {
        "name": name,
        "image": IMAGE,
        "args": [name],
        "ports": [{"name": "http", "containerPort": port, "protocol": "TCP"}],
        "env": environment(name, process),
        "startupProbe": {**probe, "httpGet": {"path": "/health/live", "port": "http"}, "failureThreshold": 30},
        "livenessProbe": {**probe, "httpGet": {"path": "/health/live", "port": "http"}, "failureThreshold": 3},
        "readinessProbe": {**probe, "httpGet": {"path": "/health/ready", "port": "http"}, "failureThreshold": 2},
        "resources": {
            "requests": {"cpu": "250m", "memory": "256Mi"},
            "limits": {"memory": "512Mi"},
        },
        "securityContext": {
            "allowPrivilegeEscalation": False,
            "readOnlyRootFilesystem": True,
            "capabilities": {"drop": ["ALL"]},
        },
        "volumeMounts": mounts,
    }
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": f"tongban-{name}", "labels": labels(name)},
        "spec": {
            "replicas": 2,
            "revisionHistoryLimit": 5,
            "selector": {"matchLabels": {"app.kubernetes.io/name": f"tongban-{name}"}},
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1}},
            "template": {
                "metadata": {
                    "labels": labels(name),
                    "annotations": {"prometheus.io/scrape": "true", "prometheus.io/port": str(port)},
                },
                "spec": {
                    "automountServiceAccountToken": False,
                    # nameko stops consuming, finishes its workers, then exits (SIGTERM)
                    "terminationGracePeriodSeconds": 60,
                    "securityContext": {
                        "runAsNonRoot": True,
                        "runAsUser": UID,
                        "runAsGroup": UID,
                        "fsGroup": UID,
                        "seccompProfile": {"type": "RuntimeDefault"},
                    },
                    "topologySpreadConstraints": [
                        {
                            "maxSkew": 1,
                            "topologyKey": "kubernetes.io/hostname",
                            "whenUnsatisfiable": "ScheduleAnyway",
                            "labelSelector": {"matchLabels": {"app.kubernetes.io/name": f"tongban-{name}"}},
                        }
                    ],
                    "containers": [container],
                    "volumes": volumes,
                },
            },
        },
    }


def service(name: str, process: Process) -> dict:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": f"tongban-{name}", "labels": labels(name)},
        "spec": {
            "selector": {"app.kubernetes.io/name": f"tongban-{name}"},
            "ports": [{"name": "http", "port": default_port(process), "targetPort": "http", "protocol": "TCP"}],
        },
    }


def disruption_budget(name: str) -> dict:
    return {
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": {"name": f"tongban-{name}", "labels": labels(name)},
        "spec": {"minAvailable": 1, "selector": {"matchLabels": {"app.kubernetes.io/name": f"tongban-{name}"}}},
    }


def scaled_object(name: str, process: Process) -> dict:
    """Instances follow the depth of the queues the process competes for; the HTTP edge, which
    consumes none, follows its CPU."""
    queues = event_queues(process) + rpc_queues(process)
    triggers = [
        {
            "type": "rabbitmq",
            "name": queue.replace(".", "-").replace("_", "-"),
            "metadata": {"protocol": "http", "mode": "QueueLength", "value": QUEUE_LENGTH_TARGET, "queueName": queue},
            "authenticationRef": {"name": "tongban-broker-monitoring"},
        }
        for queue in queues
    ]
    if not triggers:
        triggers = [{"type": "cpu", "metricType": "Utilization", "metadata": {"value": "70"}}]
    return {
        "apiVersion": "keda.sh/v1alpha1",
        "kind": "ScaledObject",
        "metadata": {"name": f"tongban-{name}", "labels": labels(name)},
        "spec": {
            "scaleTargetRef": {"name": f"tongban-{name}"},
            "minReplicaCount": 2,
            "maxReplicaCount": 6,
            "pollingInterval": 15,
            "cooldownPeriod": 300,
            "triggers": triggers,
        },
    }


def network_policy(name: str, process: Process) -> dict:
    """Who may reach the process and whom it may reach: the broker and its database (the
    database itself refuses the others' roles, infra/k8s/base/postgres.yaml); the HTTP edge is
    reached from the ingress controller, every process by Prometheus."""
    port = default_port(process)
    ingress = [{"from": [namespace_peer("monitoring")], "ports": [{"port": port, "protocol": "TCP"}]}]
    if needs_auth(process):
        ingress.append({"from": [namespace_peer("ingress-nginx")], "ports": [{"port": port, "protocol": "TCP"}]})
    egress = [
        dns_egress(),
        {
            "to": [{"podSelector": {"matchLabels": {"app.kubernetes.io/name": BROKER}}}],
            "ports": [{"port": 5671, "protocol": "TCP"}, {"port": 5672, "protocol": "TCP"}],
        },
        {
            "to": [{"podSelector": {"matchLabels": {"cnpg.io/cluster": POSTGRES}}}],
            "ports": [{"port": 5432, "protocol": "TCP"}],
        },
    ]
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": f"tongban-{name}", "labels": labels(name)},
        "spec": {
            "podSelector": {"matchLabels": {"app.kubernetes.io/name": f"tongban-{name}"}},
            "policyTypes": ["Ingress", "Egress"],
            "ingress": ingress,
            "egress": egress,
        },
    }


def namespace_peer(namespace: str) -> dict:
    return {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": namespace}}}


def dns_egress() -> dict:
    return {
        "to": [namespace_peer("kube-system")],
        "ports": [{"port": 53, "protocol": "UDP"}, {"port": 53, "protocol": "TCP"}],
    }


def job(name: str, args: list[str], env: list[dict]) -> dict:
    """A run-to-completion step of a deployment; removed an hour after it succeeds, so the next
    `kubectl apply` runs it again (a migration at head and a declared topology change nothing)."""
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": f"tongban-{name}", "labels": labels(name, "deploy-step")},
        "spec": {
            "backoffLimit": 6,
            "ttlSecondsAfterFinished": 3600,
            "template": {
                "metadata": {"labels": labels(name, "deploy-step")},
                "spec": {
                    "restartPolicy": "OnFailure",
                    "automountServiceAccountToken": False,
                    "securityContext": {
                        "runAsNonRoot": True,
                        "runAsUser": UID,
                        "runAsGroup": UID,
                        "seccompProfile": {"type": "RuntimeDefault"},
                    },
                    "containers": [
                        {
                            "name": name,
                            "image": IMAGE,
                            "args": args,
                            "env": env,
                            "resources": {
                                "requests": {"cpu": "100m", "memory": "128Mi"},
                                "limits": {"memory": "256Mi"},
                            },
                            "securityContext": {
                                "allowPrivilegeEscalation": False,
                                "readOnlyRootFilesystem": True,
                                "capabilities": {"drop": ["ALL"]},
                            },
                        }
                    ],
                },
            },
        },
    }


def deploy_steps() -> list[dict]:
    steps = [
        job(
            f"migrate-{database}",
            ["migrate", database],
            [
                secret_env(database_url_env(database), f"tongban-{database}-db", "url"),  # as the owner
                {"name": "TONGBAN_DB_SERVICE_ROLE", "value": service_role(database)},  # granted by the migration
            ],
        )
        for database in MIGRATIONS
    ]
    steps.append(job("topology", ["topology"], [secret_env("AMQP_URI", "tongban-topology-broker", "uri")]))
    policy = {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": "tongban-deploy-steps", "labels": labels("deploy-steps", "deploy-step")},
        "spec": {
            "podSelector": {"matchLabels": {"app.kubernetes.io/component": "deploy-step"}},
            "policyTypes": ["Ingress", "Egress"],
            "ingress": [],
            "egress": network_policy("marriage", PROCESSES["marriage"])["spec"]["egress"],
        },
    }
    return [*steps, policy]


def kubernetes_processes() -> list[dict]:
    resources = []
    for name, process in PROCESSES.items():
        resources += [
            config_map(name, process),
            deployment(name, process),
            service(name, process),
            disruption_budget(name),
            scaled_object(name, process),
            network_policy(name, process),
        ]
    return resources + deploy_steps()


# ---------------------------------------------------------------------------------------------- compose

COMPOSE_BROKER_NODES = ("rabbitmq-1", "rabbitmq-2", "rabbitmq-3")


def compose_environment(name: str, process: Process) -> dict:
    """The same variables as on Kubernetes; credentials interpolated from the operator's shell or
    .env file (`${VAR:?}`: compose refuses to start without them), never written here."""
    env = {}
    for variable, default in config_variables(process.config).items():
        if variable == process.http_env:
            env[variable] = f"0.0.0.0:{default_port(process)}"
        elif variable == database_url_env(process.database):
            db = process.database
            env[variable] = (
                f"postgresql+psycopg2://{service_role(db)}:${{{db.upper()}_DB_SERVICE_PASSWORD:?}}"
                f"@postgres:5432/tongban_{db}"
            )
        elif variable == "AMQP_URI":
            # one broker user per process, through the load balancer in front of the three nodes
            user = name.replace("-", "_")
            env[variable] = f"amqp://{user}:${{{user.upper()}_BROKER_PASSWORD:?}}@broker:5672/tongban"
        elif variable in SECRET_VARIABLES:
            env[variable] = f"${{{variable}:?}}"
        elif variable.endswith("_DATABASE_URL") or variable.endswith("_HTTP"):
            continue
        elif variable == "CHECK_SOURCES_URL":
            env[variable] = "${CHECK_SOURCES_URL:?the departments' data-sharing gateway}"
        elif variable == "BANK_FILES_DIR":
            env[variable] = "/app/var/bank-files"
        else:
            env[variable] = default or ""
    return env


def compose_process(name: str, process: Process) -> dict:
    port = default_port(process)
    entry = {
        "image": "${TONGBAN_IMAGE:-tongban:latest}",
        "build": {"context": ".", "dockerfile": "Dockerfile"},
        "command": [name],
        "environment": compose_environment(name, process),
        "depends_on": {
            "topology": {"condition": "service_completed_successfully"},
            f"migrate-{process.database}": {"condition": "service_completed_successfully"},
        },
        "healthcheck": {
            "test": [
                "CMD",
                "python",
                "-c",
                f"import urllib.request; urllib.request.urlopen('http://127.0.0.1:{port}/health/ready', timeout=4)",
            ],
            "interval": "15s",
            "timeout": "5s",
            "retries": 3,
            "start_period": "30s",
        },
        "read_only": True,
        "tmpfs": ["/tmp"],
        "security_opt": ["no-new-privileges:true"],
        "cap_drop": ["ALL"],
        "restart": "unless-stopped",
        "deploy": {"replicas": 2},
        "networks": ["backend"],
    }
    if name in BANK_FILES:
        entry["volumes"] = ["bank-files:/app/var/bank-files"]
    if needs_auth(process):
        # the one published port; a reverse proxy with TLS in front of it is the host's
        entry["ports"] = [f"127.0.0.1:{port}:{port}"]
        entry["networks"] = ["backend", "edge"]
        entry["deploy"] = {"replicas": 1}  # one host port; run a proxy to load-balance several
    return entry


def compose_broker_node(node: str) -> dict:
    return {
        "image": "rabbitmq:4.1.4-management",
        "hostname": node,
        "environment": {"RABBITMQ_NODENAME": f"rabbit@{node}"},
        "volumes": [
            "./infra/deploy/rabbitmq/rabbitmq.conf:/etc/rabbitmq/conf.d/20-tongban.conf:ro",
            "./infra/deploy/rabbitmq/enabled_plugins:/etc/rabbitmq/enabled_plugins:ro",
            f"{node}-data:/var/lib/rabbitmq",
        ],
        "secrets": [{"source": "erlang_cookie", "target": "/var/lib/rabbitmq/.erlang.cookie", "mode": 0o400}],
        "healthcheck": {
            "test": ["CMD", "rabbitmq-diagnostics", "-q", "check_port_connectivity"],
            "interval": "15s",
            "timeout": "10s",
            "retries": 5,
            "start_period": "60s",
        },
        "restart": "unless-stopped",
        "networks": ["backend"],
    }


def compose_file() -> dict:
    services: dict = {node: compose_broker_node(node) for node in COMPOSE_BROKER_NODES}
    services["postgres"] = {
        "image": "postgres:17.6-bookworm",
        "environment": {
            "POSTGRES_PASSWORD": "${POSTGRES_PASSWORD:?}",
            # read by infra/deploy/postgres/init-databases.sh: one database per service, its owner
            # (the migrations') and the role its processes connect as
            **{f"{db.upper()}_DB_PASSWORD": f"${{{db.upper()}_DB_PASSWORD:?}}" for db in MIGRATIONS},
            **{f"{db.upper()}_DB_SERVICE_PASSWORD": f"${{{db.upper()}_DB_SERVICE_PASSWORD:?}}" for db in MIGRATIONS},
        },
        "volumes": [
            "./infra/deploy/postgres/init-databases.sh:/docker-entrypoint-initdb.d/10-tongban.sh:ro",
            "postgres-data:/var/lib/postgresql/data",
        ],
        "healthcheck": {
            "test": ["CMD", "pg_isready", "-U", "postgres"],
            "interval": "10s",
            "timeout": "5s",
            "retries": 5,
        },
        "restart": "unless-stopped",
        "networks": ["backend"],
    }
    broker_ready = {node: {"condition": "service_healthy"} for node in COMPOSE_BROKER_NODES}
    services["broker"] = {
        "image": "haproxy:3.2.4",
        "volumes": ["./infra/deploy/haproxy/haproxy.cfg:/usr/local/etc/haproxy/haproxy.cfg:ro"],
        "depends_on": broker_ready,
        "restart": "unless-stopped",
        "networks": ["backend"],
    }
    services["broker-users"] = {
        "image": "rabbitmq:4.1.4-management",
        "entrypoint": ["/bin/sh", "/tongban/broker-users.sh"],
        "environment": {
            "RABBITMQ_NODE": f"rabbit@{COMPOSE_BROKER_NODES[0]}",
            "TOPOLOGY_BROKER_PASSWORD": "${TOPOLOGY_BROKER_PASSWORD:?}",
            "MONITORING_BROKER_PASSWORD": "${MONITORING_BROKER_PASSWORD:?}",
            **{
                f"{n.replace('-', '_').upper()}_BROKER_PASSWORD": f"${{{n.replace('-', '_').upper()}_BROKER_PASSWORD:?}}"
                for n in PROCESSES
            },
        },
        "volumes": ["./infra/deploy/rabbitmq/broker-users.sh:/tongban/broker-users.sh:ro"],
        "secrets": [{"source": "erlang_cookie", "target": "/var/lib/rabbitmq/.erlang.cookie", "mode": 0o400}],
        "depends_on": broker_ready,
        "networks": ["backend"],
    }
    services["topology"] = {
        "image": "${TONGBAN_IMAGE:-tongban:latest}",
        "build": {"context": ".", "dockerfile": "Dockerfile"},
        "command": ["topology"],
        "environment": {"AMQP_URI": "amqp://topology:${TOPOLOGY_BROKER_PASSWORD:?}@broker:5672/tongban"},
        "depends_on": {
            "broker-users": {"condition": "service_completed_successfully"},
            "broker": {"condition": "service_started"},
        },
        "networks": ["backend"],
    }
    for db in MIGRATIONS:
        services[f"migrate-{db}"] = {
            "image": "${TONGBAN_IMAGE:-tongban:latest}",
            "build": {"context": ".", "dockerfile": "Dockerfile"},
            "command": ["migrate", db],
            "environment": {
                database_url_env(
                    db
                ): f"postgresql+psycopg2://{db}:${{{db.upper()}_DB_PASSWORD:?}}@postgres:5432/tongban_{db}",
                "TONGBAN_DB_SERVICE_ROLE": service_role(db),
            },
            "depends_on": {"postgres": {"condition": "service_healthy"}},
            "networks": ["backend"],
        }
    for name, process in PROCESSES.items():
        services[name] = compose_process(name, process)
    services["prometheus"] = {
        "image": "prom/prometheus:v3.5.0",
        "command": ["--config.file=/etc/prometheus/prometheus.yml", "--storage.tsdb.retention.time=15d"],
        "volumes": [
            "./infra/deploy/prometheus/prometheus.yml:/etc/prometheus/prometheus.yml:ro",
            "prometheus-data:/prometheus",
        ],
        "ports": ["127.0.0.1:9090:9090"],
        "restart": "unless-stopped",
        "networks": ["backend"],
    }
    services["grafana"] = {
        "image": "grafana/grafana:12.1.1",
        "environment": {
            "GF_SECURITY_ADMIN_PASSWORD": "${GRAFANA_ADMIN_PASSWORD:?}",
            "GF_USERS_ALLOW_SIGN_UP": "false",
        },
        "volumes": [
            "./infra/deploy/grafana/datasources.yml:/etc/grafana/provisioning/datasources/tongban.yml:ro",
            "grafana-data:/var/lib/grafana",
        ],
        "ports": ["127.0.0.1:3000:3000"],
        "depends_on": ["prometheus"],
        "restart": "unless-stopped",
        "networks": ["backend"],
    }
    volumes = {f"{node}-data": {} for node in COMPOSE_BROKER_NODES}
    volumes.update({"postgres-data": {}, "bank-files": {}, "prometheus-data": {}, "grafana-data": {}})
    return {
        "name": "tongban",
        "services": services,
        "networks": {"backend": {"internal": True}, "edge": {}},
        "volumes": volumes,
        # the broker nodes' shared Erlang cookie, made on the host (docs/deployment.md)
        "secrets": {"erlang_cookie": {"file": "${TONGBAN_SECRETS_DIR:-./secrets}/erlang_cookie"}},
    }


# ---------------------------------------------------------------------------------------------- files

HEADER = "# Generated by `python -m infra.deploy --write` from infra/processes.py; do not edit by hand.\n"


def dump(documents: list[dict]) -> str:
    return HEADER + "".join(
        "---\n" + yaml.safe_dump(d, sort_keys=False, allow_unicode=True, width=120) for d in documents
    )


def rendered() -> dict[Path, str]:
    return {K8S_PROCESSES: dump(kubernetes_processes()), COMPOSE: dump([compose_file()])}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    group = parser.add_mutually_exclusive_group(required=True)
    group.add_argument("--write", action="store_true")
    group.add_argument("--check", action="store_true")
    args = parser.parse_args(argv)
    stale = []
    for path, text in rendered().items():
        if args.write:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
        elif not path.exists() or path.read_text(encoding="utf-8") != text:
            stale.append(path.relative_to(ROOT))
    if stale:
        print("stale: " + ", ".join(map(str, stale)) + " (run python -m infra.deploy --write)", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
