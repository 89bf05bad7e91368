"""deploy/kubernetes: what a cluster would run is what the code expects.

A test per check of ``checks.py`` asserts it finds no problem in either
entry (production, dev overlay); ``test_a_broken_manifest_is_caught``
breaks the production manifests one way at a time to prove each check can
fail, and ``test_every_check_is_shown_to_catch_a_breakage`` that none is left
unproven.
"""

from __future__ import annotations

import copy
import re
import shutil
import subprocess
import tomllib
from collections.abc import Callable

import pytest
import yaml

from deploy.tests import manifests
from deploy.tests.checks import (
    CHECKS,
    LISTENERS,
    check_config_objects_are_used,
    check_entry_points,
    check_env_references,
    check_graceful_shutdown,
    check_in_cluster_targets,
    check_namespaces,
    check_no_loopback_defaults,
    check_one_image,
    check_ports,
    check_probes,
    check_processes,
    check_required_objects,
    check_resources,
    check_schemas,
    check_security,
    check_selectors,
    check_settings_classes_are_known,
    check_settings_load,
    check_variables_are_read,
    dockerfile_uid,
)
from deploy.tests.manifests import Cluster, Obj
from libs.metrics import MetricsConfig

# --- tests -----------------------------------------------------------------------------


@pytest.fixture(scope="module", params=sorted(manifests.ENTRIES))
def cluster(request: pytest.FixtureRequest) -> Cluster:
    return manifests.cluster(request.param)


@pytest.mark.parametrize("check", CHECKS, ids=lambda c: c.__name__.removeprefix("check_"))
def test_manifests_pass(cluster: Cluster, check: Callable[[Cluster], list[str]]) -> None:
    assert check(cluster) == []


def test_every_kustomization_resource_exists_and_parses() -> None:
    listed = set()
    for path in manifests.KUBERNETES.rglob("kustomization.yaml"):
        for entry in manifests.kustomization(path.parent).get("resources", []):
            target = (path.parent / entry).resolve()
            assert target.exists(), f"{path}: {entry} does not exist"
            if target.is_dir():
                assert (target / "kustomization.yaml").is_file(), f"{path}: {entry}: not kustomized"
            else:
                assert manifests.read_yaml(target)
                listed.add(target)
    unlisted = {p.resolve() for p in manifests.yaml_files() if p.name != "kustomization.yaml"}
    unlisted -= listed | {manifests.SECRET_TEMPLATE.resolve()}
    assert not unlisted, f"manifests no kustomization applies: {sorted(map(str, unlisted))}"


def test_secret_template_holds_only_example_values_and_every_key_the_dev_secret_has() -> None:
    (template,) = manifests.operator_secret()
    values = manifests.object_data(template)
    real_looking = [k for k, v in values.items() if not v.isdigit() and "example" not in v.lower()]
    assert not real_looking, f"{manifests.SECRET_TEMPLATE.name}: not example values: {real_looking}"
    dev = manifests.cluster("dev").get("Secret", template["metadata"]["name"])
    assert dev is not None
    assert set(manifests.object_data(dev)) == set(values)
    assert template["metadata"]["namespace"] == "omnigate"


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl is not installed")
@pytest.mark.parametrize("entry", sorted(manifests.ENTRIES))
def test_kubectl_kustomize_renders_what_these_tests_check(entry: str) -> None:
    out = subprocess.run(
        ["kubectl", "kustomize", str(manifests.ENTRIES[entry])],
        check=True,
        capture_output=True,
        text=True,
        timeout=60,
    ).stdout

    def key(o: Obj) -> tuple[str, str]:
        return o["kind"], o["metadata"]["name"]

    rendered = manifests.render(manifests.ENTRIES[entry])
    assert sorted(yaml.safe_load_all(out), key=key) == sorted(rendered, key=key)


def test_dockerfile_installs_the_project_as_a_non_root_user() -> None:
    text = (manifests.ROOT / "Dockerfile").read_text()
    with (manifests.ROOT / "pyproject.toml").open("rb") as f:
        project = tomllib.load(f)
    assert re.search(r"^ARG PYTHON_IMAGE=python:3\.11-slim$", text, re.M)
    assert project["project"]["requires-python"] == ">=3.11"
    for package in project["tool"]["setuptools"]["packages"]["find"]["include"]:
        assert re.search(rf"^COPY {package.rstrip('*')} ", text, re.M), f"{package} not copied"
    assert re.search(r"pip install .*\.\s", text)
    assert dockerfile_uid() != 0


# --- each check can fail -----------------------------------------------------------------


def _container(objects: list[Obj], deployment: str) -> Obj:
    for obj in objects:
        if obj["kind"] == "Deployment" and obj["metadata"]["name"] == deployment:
            container: Obj = obj["spec"]["template"]["spec"]["containers"][0]
            return container
    raise KeyError(deployment)


def _obj(objects: list[Obj], kind: str, name: str) -> Obj:
    for obj in objects:
        if obj["kind"] == kind and obj["metadata"]["name"] == name:
            return obj
    raise KeyError((kind, name))


def _env(objects: list[Obj], deployment: str) -> list[Obj]:
    env: list[Obj] = _container(objects, deployment)["env"]
    return env


def _drop_env(objects: list[Obj], deployment: str, name: str) -> None:
    env = _env(objects, deployment)
    env[:] = [v for v in env if v["name"] != name]


def _set_env(objects: list[Obj], deployment: str, name: str, value: str) -> None:
    _drop_env(objects, deployment, name)
    _env(objects, deployment).append({"name": name, "value": value})


Mutation = Callable[[list[Obj]], None]
Check = Callable[[Cluster], list[str]]


def _pod(objects: list[Obj], deployment: str) -> Obj:
    spec: Obj = _obj(objects, "Deployment", deployment)["spec"]["template"]["spec"]
    return spec


# One way to break the production manifests, the check that must catch it, and what it says.
BREAKAGES: dict[str, tuple[Mutation, Check, str]] = {
    "command that is no console script": (
        lambda o: _container(o, "edge").__setitem__("command", ["omnigate-edj"]),
        check_entry_points,
        "neither a console script",
    ),
    "missing process": (
        lambda o: o.remove(_obj(o, "Deployment", "webhooks")),
        check_processes,
        "no Deployment runs services.webhooks.main",
    ),
    "secret key that is missing": (
        lambda o: _obj(o, "Secret", "omnigate-secrets")["stringData"].pop("bus-url"),
        check_env_references,
        "has no key bus-url",
    ),
    "worker without its SMPP host": (
        lambda o: _drop_env(o, "sms-worker", "OMNIGATE_SMPP_HOST"),
        check_settings_load,
        "OMNIGATE_SMPP_HOST is required",
    ),
    "SMPP password longer than SMPP allows": (
        lambda o: _set_env(o, "sms-worker", "OMNIGATE_SMPP_PASSWORD", "much-too-long"),
        check_settings_load,
        "password must be at most 8",
    ),
    "webhooks without a database DSN": (
        lambda o: _drop_env(o, "webhooks", "OMNIGATE_DB_DSN"),
        check_no_loopback_defaults,
        "OMNIGATE_DB_DSN defaults to the loopback",
    ),
    "misspelt variable": (
        lambda o: _set_env(o, "edge", "OMNIGATE_EDGE_PROT", "8080"),
        check_variables_are_read,
        "sets OMNIGATE_EDGE_PROT, which it does not read",
    ),
    "variable set on a process that does not read it": (
        lambda o: _set_env(o, "webhooks", "OMNIGATE_SMS_GRPC_PORT", "50051"),
        check_variables_are_read,
        "sets OMNIGATE_SMS_GRPC_PORT, which it does not read",
    ),
    "ConfigMap key nobody reads": (
        lambda o: _obj(o, "ConfigMap", "omnigate-config")["data"].__setitem__(
            "OMNIGATE_NO_SUCH_THING", "1"
        ),
        check_variables_are_read,
        "OMNIGATE_NO_SUCH_THING is read by none",
    ),
    "Secret key no container uses": (
        lambda o: _obj(o, "Secret", "omnigate-secrets")["stringData"].__setitem__("smtp", "x"),
        check_config_objects_are_used,
        "no container uses smtp",
    ),
    "edge on loopback": (
        lambda o: _drop_env(o, "edge", "OMNIGATE_EDGE_HOST"),
        check_ports,
        "listens on 127.0.0.1:8080",
    ),
    "metrics port off": (
        lambda o: _obj(o, "ConfigMap", "omnigate-config")["data"].pop("OMNIGATE_METRICS_PORT"),
        check_ports,
        "containerPort 9090, but nothing listens on it",
    ),
    "listening port not declared": (
        lambda o: _set_env(o, "sms", "OMNIGATE_SMS_GRPC_PORT", "50052"),
        check_ports,
        "listens on 50052, not a containerPort",
    ),
    "probe on an undeclared port": (
        lambda o: _container(o, "edge")["readinessProbe"]["httpGet"].__setitem__("port", "web"),
        check_probes,
        "port web is no containerPort",
    ),
    "probe on a path the edge does not serve": (
        lambda o: _container(o, "edge")["livenessProbe"]["httpGet"].__setitem__("path", "/health"),
        check_probes,
        "GET /health on 8080 is not served",
    ),
    "gRPC probe on the metrics port": (
        lambda o: _container(o, "sms")["readinessProbe"]["grpc"].__setitem__("port", 9090),
        check_probes,
        "gRPC health asked on 9090",
    ),
    "worker probed on /metrics though it serves gRPC health": (
        lambda o: _container(o, "sms-worker").__setitem__(
            "readinessProbe", {"httpGet": {"path": "/metrics", "port": "metrics"}}
        ),
        check_probes,
        "sms-worker/sms-worker readinessProbe: the process serves gRPC health",
    ),
    "webhooks API on the loopback": (
        lambda o: _drop_env(o, "webhooks", "OMNIGATE_WEBHOOKS_GRPC_HOST"),
        check_ports,
        "GrpcServerConfig listens on 127.0.0.1:50053",
    ),
    "webhooks API port not declared": (
        lambda o: _set_env(o, "webhooks", "OMNIGATE_WEBHOOKS_GRPC_PORT", "50054"),
        check_ports,
        "webhooks/webhooks: listens on 50054, not a containerPort",
    ),
    "no liveness probe": (
        lambda o: _container(o, "sms-worker").pop("livenessProbe"),
        check_probes,
        "no livenessProbe",
    ),
    "grace period shorter than the worker's drain": (
        lambda o: _pod(o, "sms-worker").__setitem__("terminationGracePeriodSeconds", 30),
        check_graceful_shutdown,
        "SIGKILL would cut the drain",
    ),
    "grace period that forgets the webhooks API's grace": (
        lambda o: _set_env(o, "webhooks", "OMNIGATE_WEBHOOKS_GRPC_GRACE_S", "30"),
        check_graceful_shutdown,
        "webhooks/webhooks: terminationGracePeriodSeconds 70 < 80 s",
    ),
    "grace period that forgets the edge's preStop": (
        lambda o: _pod(o, "edge").__setitem__("terminationGracePeriodSeconds", 16),
        check_graceful_shutdown,
        "< 20 s",
    ),
    "no memory limit": (
        lambda o: _container(o, "sms")["resources"]["limits"].pop("memory"),
        check_resources,
        "needs a memory request and limit",
    ),
    "Service selecting nothing": (
        lambda o: _obj(o, "Service", "sms")["spec"]["selector"].__setitem__(
            "app.kubernetes.io/name", "smss"
        ),
        check_selectors,
        "Service sms: selects 0 Deployments",
    ),
    "Service on a port name the pod lacks": (
        lambda o: _obj(o, "Service", "edge")["spec"]["ports"][0].__setitem__("targetPort", "web"),
        check_selectors,
        "targetPort web is no containerPort",
    ),
    "PDB selecting nothing": (
        lambda o: _obj(o, "PodDisruptionBudget", "sms-worker")["spec"]["selector"][
            "matchLabels"
        ].__setitem__("app.kubernetes.io/name", "worker"),
        check_selectors,
        "PodDisruptionBudget sms-worker: selects 0",
    ),
    "HPA on a missing Deployment": (
        lambda o: _obj(o, "HorizontalPodAutoscaler", "edge")["spec"]["scaleTargetRef"].__setitem__(
            "name", "edges"
        ),
        check_selectors,
        "no Deployment edges",
    ),
    "HPA target that sets replicas": (
        lambda o: _obj(o, "Deployment", "edge")["spec"].__setitem__("replicas", 2),
        check_selectors,
        "sets replicas",
    ),
    "selector matching two Deployments": (
        lambda o: _obj(o, "Deployment", "sms")["spec"]["selector"]["matchLabels"].pop(
            "app.kubernetes.io/name"
        ),
        check_selectors,
        "Deployment sms: selector also matches other Deployments' pods",
    ),
    "edge without its HPA": (
        lambda o: o.remove(_obj(o, "HorizontalPodAutoscaler", "edge")),
        check_required_objects,
        "edge/edge: no HorizontalPodAutoscaler",
    ),
    "worker without its PDB": (
        lambda o: o.remove(_obj(o, "PodDisruptionBudget", "sms-worker")),
        check_required_objects,
        "sms-worker/sms-worker: no PodDisruptionBudget",
    ),
    "gRPC target that is no Service": (
        lambda o: _set_env(o, "edge", "OMNIGATE_SMS_CLIENT_TARGET", "sms-api:50051"),
        check_in_cluster_targets,
        "reaches no gRPC server",
    ),
    "gRPC target through a Service's virtual IP": (
        lambda o: _obj(o, "Service", "sms")["spec"].pop("clusterIP"),
        check_in_cluster_targets,
        "every call goes to one replica",
    ),
    "gRPC target without dns:///": (
        lambda o: _set_env(o, "edge", "OMNIGATE_SMS_CLIENT_TARGET", "sms:50051"),
        check_in_cluster_targets,
        "every call goes to one replica",
    ),
    "root user": (
        lambda o: _pod(o, "sms")["securityContext"].__setitem__("runAsUser", 0),
        check_security,
        "must run as non-root",
    ),
    "another image": (
        lambda o: _container(o, "webhooks").__setitem__("image", "omnigate-webhooks:0.1.0"),
        check_one_image,
        "one image for every process",
    ),
    "object outside the namespace": (
        lambda o: _obj(o, "Service", "sms")["metadata"].__setitem__("namespace", "default"),
        check_namespaces,
        "Service sms: in namespace default",
    ),
    "misspelt field": (
        lambda o: _container(o, "edge").__setitem__("readinesProbe", {}),
        check_schemas,
        "Additional properties are not allowed",
    ),
}


@pytest.mark.parametrize("breakage", sorted(BREAKAGES))
def test_a_broken_manifest_is_caught(breakage: str) -> None:
    mutate, check, expected = BREAKAGES[breakage]
    objects = copy.deepcopy(manifests.cluster("production").objects)
    mutate(objects)
    problems = check(Cluster("production", objects))
    assert any(expected in p for p in problems), problems


def test_a_settings_class_with_a_port_needs_a_decision(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delitem(LISTENERS, MetricsConfig)
    problems = check_settings_classes_are_known(manifests.cluster("production"))
    assert "edge/edge: is MetricsConfig a listener or a client?" in problems


def test_every_check_is_shown_to_catch_a_breakage() -> None:
    shown = {check for _, check, _ in BREAKAGES.values()} | {check_settings_classes_are_known}
    assert [c.__name__ for c in CHECKS if c not in shown] == []
