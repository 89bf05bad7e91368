"""The checks of deploy/kubernetes against the code; each returns the problems it finds.

Each ``check_*`` takes one rendered entry (``manifests.Cluster``: production
or the dev overlay). What a process reads, requires and listens on comes
from its own settings loaders (``manifests.load_settings``); what is known
here is only which settings classes open a socket (``LISTENERS``) and how
each process drains on SIGTERM (``DRAIN_BUDGET_S``), each guarded by a check
that fails when the code grows something they do not cover.
"""

from __future__ import annotations

import functools
import inspect
import json
import re
from collections.abc import Callable
from typing import Any

from deploy.local.platform import Platform, PlatformConfig
from deploy.tests import manifests
from deploy.tests.manifests import Cluster, Loaded, Obj, Workload
from libs.bus.consumer import BaseConsumer
from libs.grpc.config import GrpcClientConfig, GrpcServerConfig
from libs.metrics import MetricsConfig
from libs.smpp.config import SmppBindConfig
from services.devsmsc.config import DevSmscConfig
from services.edge.config import EdgeSettings, HttpConfig
from services.sms import owners
from services.sms.config import WorkerConfig
from services.webhooks.dispatcher import Dispatcher

# Settings objects that open a listening socket, and their port fields (0: not listening).
LISTENERS: dict[type, tuple[str, ...]] = {
    HttpConfig: ("port",),
    GrpcServerConfig: ("port",),
    MetricsConfig: ("port",),
    DevSmscConfig: ("port", "control_port"),
}
# Settings objects with a port that is someone else's.
CLIENTS: frozenset[type] = frozenset({SmppBindConfig, GrpcClientConfig})
LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1", "[::1]"})
# Seconds a pod needs beyond its drain for the last closes and the exit.
EXIT_MARGIN_S = 5.0
# The oldest Kubernetes the manifests support: gRPC probes are GA from 1.27.
KUBERNETES_VERSIONS = ("1.27", "latest")
DEV_ONLY = frozenset({"services.devsmsc.main"})


def _default(func: Callable[..., object], parameter: str) -> float:
    value = inspect.signature(func).parameters[parameter].default
    assert isinstance(value, int | float), f"{func.__qualname__}({parameter}) has no default"
    return float(value)


def _one(loaded: Loaded, cls: type) -> Any:
    values = loaded.of(cls)
    assert len(values) == 1, f"expected one {cls.__name__}, found {len(values)}"
    return values[0]


# How long SIGTERM may take, from each main's shutdown sequence.
DRAIN_BUDGET_S: dict[str, Callable[[Loaded], float]] = {
    # runner.cleanup(): in-flight requests get shutdown_grace_s.
    "services.edge.main": lambda s: _one(s, HttpConfig).shutdown_grace_s,
    # server.stop(grace_s), the number events in hand, then the relay's last batch.
    "services.sms.main": lambda s: _one(s, GrpcServerConfig).grace_s + owners.STOP_TIMEOUT_S,
    "services.numbers.main": lambda s: _one(s, GrpcServerConfig).grace_s,
    # server.stop(grace_s) (API calls in flight, health), consumer.stop() (its
    # default stop timeout), then dispatcher.stop() (its default grace).
    "services.webhooks.main": lambda s: (
        _one(s, GrpcServerConfig).grace_s
        + _default(BaseConsumer.__init__, "stop_timeout_s")
        + _default(Dispatcher.stop, "grace_s")
    ),
    # health.stop(grace_s); consumer.stop() waits drain_s; smpp.close() waits
    # response_timeout_s for the submits and receipts in flight, and as long
    # again for the unbind.
    "services.sms.worker_main": lambda s: (
        _one(s, GrpcServerConfig).grace_s
        + _one(s, WorkerConfig).drain_s
        + 2 * _one(s, SmppBindConfig).response_timeout_s
    ),
    "services.devsmsc.main": lambda s: 0.0,
}


# --- checks ----------------------------------------------------------------------------


def check_entry_points(cluster: Cluster) -> list[str]:
    return [f"{w.name}: {w.entry[1]}" for w in cluster.workloads if w.module is None]


def check_processes(cluster: Cluster) -> list[str]:
    """Every process ``make run`` starts runs here (the dev SMSC only in dev)."""
    planned = {p.module for p in Platform(PlatformConfig())._plan()}
    if cluster.name != "dev":
        planned -= DEV_ONLY
    running = {w.module for w in cluster.workloads if w.module is not None}
    problems = [f"no Deployment runs {m}" for m in sorted(planned - running)]
    if cluster.name != "dev":
        problems += [f"{m} is for development only" for m in sorted(running & DEV_ONLY)]
    return problems


def check_env_references(cluster: Cluster) -> list[str]:
    return [f"{w.name}: {p}" for w in cluster.workloads for p in w.env_problems]


def check_settings_load(cluster: Cluster) -> list[str]:
    """Each process's own loaders accept its environment: required, well-formed, valid."""
    problems = [f"{w.name}: {e}" for w in cluster.workloads for e in w.settings.errors]
    for w in cluster.workloads:
        for variable, required in w.settings.variables.items():
            if required and variable not in w.env:
                problems.append(f"{w.name}: required {variable} is not set")
    return problems


def check_no_loopback_defaults(cluster: Cluster) -> list[str]:
    """A setting whose default is on the loopback (a developer's machine) is set: in a
    pod the loopback is the pod itself, so that default would reach nothing."""
    problems = []
    for w in cluster.workloads:
        for read in w.settings.reads:
            for variable, default in read.defaults.items():
                if variable not in w.env and any(h in str(default) for h in LOOPBACK):
                    problems.append(f"{w.name}: {variable} defaults to the loopback ({default})")
    return problems


def check_variables_are_read(cluster: Cluster) -> list[str]:
    """Every OMNIGATE_* variable set inline is read by that process; every one a
    ConfigMap or Secret hands out (envFrom) by one of the processes it reaches."""
    problems = []
    readers: dict[tuple[str, str], list[Workload]] = {}
    for w in cluster.workloads:
        for var in w.container.get("env", []):
            name = var["name"]
            if name.startswith("OMNIGATE_") and name not in w.settings.variables:
                problems.append(f"{w.name}: sets {name}, which it does not read")
        for source in w.container.get("envFrom", []):
            for kind, key in (("ConfigMap", "configMapRef"), ("Secret", "secretRef")):
                if key in source:
                    readers.setdefault((kind, source[key]["name"]), []).append(w)
    for kind in ("ConfigMap", "Secret"):
        for obj in cluster.of_kind(kind):
            workloads = readers.get((kind, obj["metadata"]["name"]), [])
            read = {v for w in workloads for v in w.settings.variables}
            for key in manifests.object_data(obj):
                if key.startswith("OMNIGATE_") and key not in read:
                    problems.append(
                        f"{kind} {obj['metadata']['name']}: {key} is read by none of"
                        f" {sorted(w.name for w in workloads)}"
                    )
    return problems


def check_config_objects_are_used(cluster: Cluster) -> list[str]:
    """Every ConfigMap reaches a container, and every Secret key is referenced."""
    used: set[tuple[str, str, str | None]] = set()
    for w in cluster.workloads:
        for source in w.container.get("envFrom", []):
            for kind, key in (("ConfigMap", "configMapRef"), ("Secret", "secretRef")):
                if key in source:
                    used.add((kind, source[key]["name"], None))
        for var in w.container.get("env", []):
            for kind, key in (("ConfigMap", "configMapKeyRef"), ("Secret", "secretKeyRef")):
                ref = var.get("valueFrom", {}).get(key)
                if ref:
                    used.add((kind, ref["name"], ref["key"]))
    problems = []
    for kind in ("ConfigMap", "Secret"):
        for obj in cluster.of_kind(kind):
            name = obj["metadata"]["name"]
            if (kind, name, None) in used:
                continue
            for key in manifests.object_data(obj):
                if (kind, name, key) not in used:
                    problems.append(f"{kind} {name}: no container uses {key}")
    return problems


def _listeners(w: Workload) -> dict[int, tuple[type, str]]:
    """Port -> (settings class, host) of every socket the process listens on."""
    out = {}
    for read in w.settings.reads:
        for port_field in LISTENERS.get(read.cls, ()):
            port = getattr(read.value, port_field, 0) if read.value is not None else 0
            if port > 0:
                out[port] = (read.cls, read.value.host)
    return out


def check_settings_classes_are_known(cluster: Cluster) -> list[str]:
    """A settings class with a port is a listener or a client here: a new one needs a decision."""
    problems = []
    for w in cluster.workloads:
        for read in w.settings.reads:
            names = {f for f in read.variables if f.endswith("PORT") or f.endswith("TARGET")}
            if names and read.cls not in LISTENERS and read.cls not in CLIENTS:
                problems.append(f"{w.name}: is {read.cls.__name__} a listener or a client?")
    return problems


def check_ports(cluster: Cluster) -> list[str]:
    """containerPorts are exactly the ports the process listens on, on all interfaces."""
    problems = []
    for w in cluster.workloads:
        declared = {p["containerPort"] for p in w.container.get("ports", [])}
        listening = _listeners(w)
        for port in sorted(declared - listening.keys()):
            problems.append(f"{w.name}: containerPort {port}, but nothing listens on it")
        for port in sorted(listening.keys() - declared):
            problems.append(f"{w.name}: listens on {port}, not a containerPort")
        for port, (cls, host) in sorted(listening.items()):
            if host in LOOPBACK:
                problems.append(
                    f"{w.name}: {cls.__name__} listens on {host}:{port}, out of the kubelet's"
                    " and other pods' reach"
                )
        names = [p["name"] for p in w.container.get("ports", []) if "name" in p]
        if len(names) != len(set(names)):
            problems.append(f"{w.name}: port names repeat: {names}")
    return problems


def _http_paths(w: Workload, port: int) -> frozenset[str] | None:
    """The paths a GET may probe on ``port``, or None if it is no HTTP port we know."""
    listener = _listeners(w).get(port)
    if listener is None:
        return None
    if listener[0] is MetricsConfig:
        return frozenset({"/metrics"})
    if listener[0] is HttpConfig and w.module == "services.edge.main":
        return _edge_get_paths(_one(w.settings, EdgeSettings))
    return None


@functools.lru_cache(maxsize=8)
def _edge_get_paths(settings: EdgeSettings) -> frozenset[str]:
    """The GET routes of the edge's application as ``create_app`` builds it."""
    from services.edge.app import create_app

    app = create_app(settings)
    return frozenset(
        r.resource.canonical
        for r in app.router.routes()
        if r.method == "GET" and r.resource is not None
    )


def check_probes(cluster: Cluster) -> list[str]:
    """Readiness and liveness on every container, each on a port and path that answers;
    through gRPC health wherever the process serves it (a metrics endpoint or an open
    port answers as well after the process lost its broker connection or SMPP bind)."""
    problems = []
    for w in cluster.workloads:
        serves_health = any(cls is GrpcServerConfig for cls, _ in _listeners(w).values())
        for kind in ("readinessProbe", "livenessProbe"):
            if kind not in w.container:
                problems.append(f"{w.name}: no {kind}")
            elif serves_health and "grpc" not in w.container[kind]:
                problems.append(f"{w.name} {kind}: the process serves gRPC health; ask it")
        for kind in ("startupProbe", "readinessProbe", "livenessProbe"):
            probe = w.container.get(kind)
            if probe is None:
                continue
            where = f"{w.name} {kind}"
            handlers = {"httpGet", "grpc", "tcpSocket", "exec"} & probe.keys()
            if len(handlers) != 1:
                problems.append(f"{where}: needs exactly one handler, has {sorted(handlers)}")
                continue
            (handler,) = handlers
            if handler == "exec":
                continue
            port = w.container_port(probe[handler]["port"])
            if port is None:
                problems.append(f"{where}: port {probe[handler]['port']} is no containerPort")
                continue
            listener = _listeners(w).get(port)
            if handler == "grpc" and (listener is None or listener[0] is not GrpcServerConfig):
                problems.append(f"{where}: gRPC health asked on {port}, not the gRPC server's")
            if handler == "httpGet":
                paths = _http_paths(w, port)
                path = probe["httpGet"].get("path", "/")
                if paths is None:
                    problems.append(f"{where}: port {port} serves no HTTP we know of")
                elif path not in paths:
                    problems.append(f"{where}: GET {path} on {port} is not served")
    return problems


def _prestop_sleep_s(w: Workload) -> float:
    command = w.container.get("lifecycle", {}).get("preStop", {}).get("exec", {}).get("command")
    if command and command[0] == "sleep" and len(command) == 2:
        return float(command[1])
    return 0.0


def check_graceful_shutdown(cluster: Cluster) -> list[str]:
    """terminationGracePeriodSeconds covers preStop plus the drain the process does on SIGTERM."""
    problems = []
    for w in cluster.workloads:
        budget = DRAIN_BUDGET_S.get(w.module or "")
        if budget is None:
            problems.append(f"{w.name}: how long does {w.module} drain? add it to DRAIN_BUDGET_S")
            continue
        if w.settings.errors:
            continue  # check_settings_load says why
        need = _prestop_sleep_s(w) + budget(w.settings) + EXIT_MARGIN_S
        grace = w.pod.get("terminationGracePeriodSeconds", 30)
        if grace < need:
            problems.append(
                f"{w.name}: terminationGracePeriodSeconds {grace} < {need:g} s"
                " (preStop + drain + exit): SIGKILL would cut the drain"
            )
    return problems


_UNITS = {"m": 1e-3, "": 1.0, "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "k": 1e3, "M": 1e6, "G": 1e9}


def quantity(value: str | int | float) -> float:
    match = re.fullmatch(r"([0-9.]+)([A-Za-z]*)", str(value))
    if match is None or match.group(2) not in _UNITS:
        raise ValueError(f"not a quantity: {value!r}")
    return float(match.group(1)) * _UNITS[match.group(2)]


def check_resources(cluster: Cluster) -> list[str]:
    problems = []
    for w in cluster.workloads:
        resources = w.container.get("resources", {})
        for resource in ("cpu", "memory"):
            request = resources.get("requests", {}).get(resource)
            limit = resources.get("limits", {}).get(resource)
            if request is None or limit is None:
                problems.append(f"{w.name}: needs a {resource} request and limit")
            elif quantity(request) > quantity(limit):
                problems.append(f"{w.name}: {resource} request {request} > limit {limit}")
    return problems


def check_selectors(cluster: Cluster) -> list[str]:
    """Services, PDBs, HPAs and spread constraints each reach the one Deployment they mean."""
    problems = []
    deployments = cluster.of_kind("Deployment")
    for d in deployments:
        name = d["metadata"]["name"]
        selector = d["spec"]["selector"].get("matchLabels", {})
        if not selector or not manifests.labels_match(
            selector, d["spec"]["template"]["metadata"]["labels"]
        ):
            problems.append(f"Deployment {name}: selector does not match its pod labels")
        if cluster.deployments_selected(selector) != [d]:
            problems.append(f"Deployment {name}: selector also matches other Deployments' pods")
        for c in d["spec"]["template"]["spec"].get("topologySpreadConstraints", []):
            if c["labelSelector"].get("matchLabels") != selector:
                problems.append(f"Deployment {name}: topology spread counts other pods")
    for service in cluster.of_kind("Service"):
        name = service["metadata"]["name"]
        selected = cluster.deployments_selected(service["spec"].get("selector", {}))
        if len(selected) != 1:
            problems.append(f"Service {name}: selects {len(selected)} Deployments, not 1")
            continue
        for port in service["spec"]["ports"]:
            target = port.get("targetPort", port["port"])
            if not any(w.container_port(target) for w in cluster.workloads_of(selected[0])):
                problems.append(f"Service {name}: targetPort {target} is no containerPort")
    for pdb in cluster.of_kind("PodDisruptionBudget"):
        selected = cluster.deployments_selected(pdb["spec"]["selector"].get("matchLabels", {}))
        if len(selected) != 1:
            problems.append(
                f"PodDisruptionBudget {pdb['metadata']['name']}: selects {len(selected)}"
                " Deployments, not 1"
            )
    for hpa in cluster.of_kind("HorizontalPodAutoscaler"):
        name = hpa["metadata"]["name"]
        ref = hpa["spec"]["scaleTargetRef"]
        target = cluster.get(ref["kind"], ref["name"])
        if target is None or ref["kind"] != "Deployment" or ref["apiVersion"] != "apps/v1":
            problems.append(f"HorizontalPodAutoscaler {name}: no {ref['kind']} {ref['name']}")
            continue
        if "replicas" in target["spec"]:
            problems.append(
                f"Deployment {ref['name']}: sets replicas, which every apply resets under"
                f" HorizontalPodAutoscaler {name}"
            )
        for metric in hpa["spec"].get("metrics", []):
            if metric["type"] == "Resource":
                resource = metric["resource"]["name"]
                for w in cluster.workloads_of(target):
                    if resource not in w.container.get("resources", {}).get("requests", {}):
                        problems.append(
                            f"HorizontalPodAutoscaler {name}: {w.name} requests no {resource}"
                        )
    return problems


def _covered(cluster: Cluster, kind: str, deployment: Obj) -> bool:
    """Whether an object of ``kind`` (HPA, Service, PDB) is about ``deployment``."""
    for obj in cluster.of_kind(kind):
        if kind == "HorizontalPodAutoscaler":
            if obj["spec"]["scaleTargetRef"]["name"] == deployment["metadata"]["name"]:
                return True
            continue
        selector = obj["spec"]["selector"]  # a Service's is the labels; a PDB's has matchLabels
        if deployment in cluster.deployments_selected(selector.get("matchLabels", selector)):
            return True
    return False


# What each process needs around it on a cluster.
REQUIRED_AROUND: dict[str, tuple[str, ...]] = {
    "services.edge.main": ("Service", "PodDisruptionBudget", "HorizontalPodAutoscaler"),
    "services.sms.main": ("Service",),
    "services.sms.worker_main": ("PodDisruptionBudget",),
    "services.devsmsc.main": ("Service",),
}


def check_required_objects(cluster: Cluster) -> list[str]:
    problems = []
    for w in cluster.workloads:
        for kind in REQUIRED_AROUND.get(w.module or "", ()):
            if not _covered(cluster, kind, w.deployment):
                problems.append(f"{w.name}: no {kind}")
    return problems


def _service_port(cluster: Cluster, host: str, port: int) -> tuple[Workload, int] | None:
    """The workload and container port behind ``host:port``, if host is a Service here."""
    service = cluster.get("Service", host.split(".")[0])
    if service is None:
        return None
    selected = cluster.deployments_selected(service["spec"].get("selector", {}))
    if len(selected) != 1:
        return None  # check_selectors says so
    (deployment,) = selected
    for p in service["spec"]["ports"]:
        if p["port"] == port:
            for w in cluster.workloads_of(deployment):
                number = w.container_port(p.get("targetPort", port))
                if number is not None:
                    return w, number
    return None


def check_in_cluster_targets(cluster: Cluster) -> list[str]:
    """A gRPC target is a Service of this cluster reaching a gRPC server; an SMPP host
    that is a Service here (the dev SMSC) reaches an SMSC's port."""
    problems = []
    for w in cluster.workloads:
        for client in w.settings.of(GrpcClientConfig):
            host, _, port = client.target.removeprefix("dns:///").rpartition(":")
            found = _service_port(cluster, host, int(port))
            if found is None or found[1] not in {
                g.port for g in found[0].settings.of(GrpcServerConfig)
            }:
                problems.append(f"{w.name}: gRPC target {client.target} reaches no gRPC server")
                continue
            # A Service's one virtual IP is one connection, so one replica, for a
            # gRPC channel; a headless Service names every ready replica.
            service = cluster.get("Service", host.split(".")[0])
            headless = service is not None and service["spec"].get("clusterIP") == "None"
            if not (headless and client.target.startswith("dns:///")):
                problems.append(
                    f"{w.name}: gRPC target {client.target} must be dns:/// to a headless"
                    " Service, or every call goes to one replica"
                )
            elif found[1] != int(port):
                problems.append(
                    f"{w.name}: gRPC target {client.target}: a headless Service does not"
                    f" translate ports, the server listens on {found[1]}"
                )
        for bind in w.settings.of(SmppBindConfig):
            if cluster.get("Service", bind.host.split(".")[0]) is None:
                continue  # the carrier's SMSC, outside the cluster
            found = _service_port(cluster, bind.host, bind.port)
            smscs = {s.port for s in found[0].settings.of(DevSmscConfig)} if found else set()
            if found is None or found[1] not in smscs:
                problems.append(f"{w.name}: SMPP {bind.host}:{bind.port} reaches no SMSC")
    return problems


def dockerfile_uid() -> int:
    users = re.findall(r"^USER\s+(\S+)", (manifests.ROOT / "Dockerfile").read_text(), re.M)
    assert users, "the Dockerfile sets no USER"
    return int(users[-1].split(":")[0])


def check_security(cluster: Cluster) -> list[str]:
    """Non-root as the image's user, no privileges, read-only root with a writable /tmp."""
    uid = dockerfile_uid()
    problems = []
    for w in cluster.workloads:
        pod = w.pod.get("securityContext", {})
        if pod.get("runAsNonRoot") is not True or pod.get("runAsUser") != uid:
            problems.append(f"{w.name}: must run as non-root user {uid}, the image's")
        if pod.get("seccompProfile", {}).get("type") != "RuntimeDefault":
            problems.append(f"{w.name}: seccompProfile RuntimeDefault missing")
        sc = w.container.get("securityContext", {})
        if sc.get("allowPrivilegeEscalation") is not False:
            problems.append(f"{w.name}: allowPrivilegeEscalation must be false")
        if sc.get("capabilities", {}).get("drop") != ["ALL"]:
            problems.append(f"{w.name}: must drop ALL capabilities")
        if sc.get("readOnlyRootFilesystem") is not True:
            problems.append(f"{w.name}: root filesystem must be read-only")
        mounts = {m["mountPath"] for m in w.container.get("volumeMounts", [])}
        if "/tmp" not in mounts:
            problems.append(f"{w.name}: no writable /tmp under a read-only root")
    return problems


def check_one_image(cluster: Cluster) -> list[str]:
    images = {w.container["image"] for w in cluster.workloads}
    names = {manifests.split_image(i)[0] for i in images}
    return [] if len(images) == 1 else [f"one image for every process, found {sorted(names)}"]


def check_namespaces(cluster: Cluster) -> list[str]:
    namespaces = [o["metadata"]["name"] for o in cluster.of_kind("Namespace")]
    if len(namespaces) != 1:
        return [f"expected one Namespace, found {namespaces}"]
    return [
        f"{o['kind']} {o['metadata']['name']}: in namespace {o['metadata'].get('namespace')}"
        for o in cluster.objects
        if o["kind"] not in manifests.CLUSTER_SCOPED
        and o["metadata"].get("namespace") != namespaces[0]
    ]


@functools.lru_cache(maxsize=256)
def _schema_problem(document: str, version: str) -> str | None:
    """Why a (JSON) object fails the schemas of a Kubernetes version, or None."""
    import kubernetes_validate

    if version == "latest":
        version = kubernetes_validate.utils.latest_version()
    try:
        kubernetes_validate.validate(json.loads(document), version, strict=True)
    except kubernetes_validate.ValidationError as exc:
        path = ".".join(str(p) for p in exc.path)
        return f"(Kubernetes {version}) {path}: {exc.message[:200]}"
    return None


def check_schemas(cluster: Cluster) -> list[str]:
    """Valid against the Kubernetes OpenAPI schemas (strict: no unknown fields), offline."""
    problems = []
    for obj in cluster.objects:
        for version in KUBERNETES_VERSIONS:
            problem = _schema_problem(json.dumps(obj, sort_keys=True), version)
            if problem is not None:
                problems.append(f"{obj['kind']} {obj['metadata']['name']} {problem}")
    return problems


CHECKS: list[Callable[[Cluster], list[str]]] = [
    check_entry_points,
    check_processes,
    check_env_references,
    check_settings_load,
    check_no_loopback_defaults,
    check_variables_are_read,
    check_config_objects_are_used,
    check_settings_classes_are_known,
    check_ports,
    check_probes,
    check_graceful_shutdown,
    check_resources,
    check_selectors,
    check_required_objects,
    check_in_cluster_targets,
    check_security,
    check_one_image,
    check_namespaces,
    check_schemas,
]
