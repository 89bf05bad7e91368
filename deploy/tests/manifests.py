"""deploy/kubernetes as a cluster gets it, and what each container's process makes of it.

``render`` builds the objects ``kubectl apply -k`` sends, for the kustomize
fields these kustomizations use; any other field fails loudly rather than be
rendered differently from kustomize (and a test compares the result with
``kubectl kustomize`` where kubectl is installed).

A ``Workload`` is one Deployment's container: the environment it gets from
its ConfigMaps and Secrets, the module its command runs, and that module's
settings loader (its ``SERVICE.load``, the ``libs.runtime.Service`` the
console script runs) run on that environment. Each ``libs.config.load`` call
it makes is recorded, so which variables a process reads and which it
requires come from the code, not from a list kept here.
"""

from __future__ import annotations

import base64
import dataclasses
import importlib
import importlib.util
import tomllib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any
from unittest import mock

import yaml

import libs.config
from libs.runtime import Service

ROOT = Path(__file__).resolve().parents[2]
KUBERNETES = ROOT / "deploy" / "kubernetes"
# Not applied by kustomize: the operator fills it in and applies it first.
SECRET_TEMPLATE = KUBERNETES / "secret.example.yaml"
# What an operator applies with `kubectl apply -k`.
ENTRIES = {"production": KUBERNETES, "dev": KUBERNETES / "overlays" / "dev"}

Obj = dict[str, Any]

CLUSTER_SCOPED = frozenset({"Namespace"})
_KUSTOMIZE_FIELDS = frozenset({"apiVersion", "kind", "namespace", "resources", "images"})
_IMAGE_FIELDS = frozenset({"name", "newName", "newTag", "digest"})


def read_yaml(path: Path) -> list[Obj]:
    """The Kubernetes objects of one YAML file (empty documents dropped)."""
    docs = [d for d in yaml.safe_load_all(path.read_text()) if d is not None]
    for doc in docs:
        if not isinstance(doc, dict) or not {"apiVersion", "kind", "metadata"} <= doc.keys():
            raise ValueError(f"{path}: not a Kubernetes object: {str(doc)[:80]}")
        if not doc["metadata"].get("name"):
            raise ValueError(f"{path}: a {doc['kind']} without metadata.name")
    if not docs:
        raise ValueError(f"{path}: no object")
    return docs


def kustomization(root: Path) -> Obj:
    data: Obj = yaml.safe_load((root / "kustomization.yaml").read_text())
    unknown = set(data) - _KUSTOMIZE_FIELDS
    if unknown:
        raise ValueError(
            f"{root}/kustomization.yaml uses {sorted(unknown)}: teach manifests.render() "
            "what kustomize does with it"
        )
    return data


def render(root: Path) -> list[Obj]:
    """What ``kubectl kustomize root`` gives, for the fields ``kustomization`` accepts."""
    spec = kustomization(root)
    objects: list[Obj] = []
    for entry in spec.get("resources", []):
        path = root / entry
        if path.is_dir():
            objects += render(path)
        elif path.is_file():
            objects += read_yaml(path)
        else:
            raise FileNotFoundError(f"{root}/kustomization.yaml lists {entry}, which is missing")
    if "namespace" in spec:
        for obj in objects:
            if obj["kind"] not in CLUSTER_SCOPED:
                obj["metadata"]["namespace"] = spec["namespace"]
    for image in spec.get("images", []):
        if set(image) - _IMAGE_FIELDS:
            raise ValueError(f"{root}: images field {sorted(set(image) - _IMAGE_FIELDS)}")
        for obj in objects:
            for container in pod_containers(obj):
                container["image"] = _retag(container["image"], image)
    return objects


def split_image(ref: str) -> tuple[str, str]:
    """``registry:5000/omnigate:0.1.0`` -> (``registry:5000/omnigate``, ``:0.1.0``)."""
    if "@" in ref:
        name, digest = ref.split("@", 1)
        return name, "@" + digest
    slash = ref.rfind("/")
    colon = ref.rfind(":")
    if colon > slash:
        return ref[:colon], ref[colon:]
    return ref, ""


def _retag(ref: str, image: Obj) -> str:
    name, suffix = split_image(ref)
    if name != image["name"]:
        return ref
    name = str(image.get("newName", name))
    if "newTag" in image:
        suffix = f":{image['newTag']}"
    if "digest" in image:
        suffix = f"@{image['digest']}"
    return name + suffix


def pod_spec(obj: Obj) -> Obj | None:
    if obj["kind"] in ("Deployment", "StatefulSet", "DaemonSet", "Job"):
        spec: Obj = obj["spec"]["template"]["spec"]
        return spec
    return None


def pod_containers(obj: Obj) -> list[Obj]:
    spec = pod_spec(obj)
    if spec is None:
        return []
    return [*spec.get("initContainers", []), *spec["containers"]]


def object_data(obj: Obj) -> dict[str, str]:
    """A ConfigMap's or Secret's values as the container sees them."""
    data = {k: str(v) for k, v in (obj.get("stringData") or {}).items()}
    if obj["kind"] == "Secret":
        for key, value in (obj.get("data") or {}).items():
            data[key] = base64.b64decode(value).decode()
    else:
        data.update({k: str(v) for k, v in (obj.get("data") or {}).items()})
    return data


def labels_match(selector: dict[str, str], labels: dict[str, str]) -> bool:
    return all(labels.get(k) == v for k, v in selector.items())


# --- what a process makes of its environment -----------------------------------------


@dataclass
class Read:
    """One ``libs.config.load(cls, prefix)`` call a process made, and what it returned.

    ``given`` are the defaults the call passed (``load(..., defaults=)``),
    which replace the class's.
    """

    cls: type
    prefix: str
    given: dict[str, object] = field(default_factory=dict)
    value: Any = None

    @property
    def defaults(self) -> dict[str, object]:
        """Each variable this call reads that has a default, and the default."""
        out = {}
        for f in dataclasses.fields(self.cls):
            variable = f"{self.prefix}{f.name.upper()}"
            if not f.init:
                continue
            if f.name in self.given:
                out[variable] = self.given[f.name]
            elif f.default is not dataclasses.MISSING:
                out[variable] = f.default
            elif f.default_factory is not dataclasses.MISSING:
                out[variable] = f.default_factory()
        return out

    @property
    def variables(self) -> dict[str, bool]:
        """Each variable this call reads, and whether it is required (has no default)."""
        defaults = self.defaults
        return {
            f"{self.prefix}{f.name.upper()}": f"{self.prefix}{f.name.upper()}" not in defaults
            for f in dataclasses.fields(self.cls)
            if f.init
        }


@dataclass
class Loaded:
    reads: list[Read] = field(default_factory=list)
    # What each loader returned (e.g. EdgeSettings), and the loaders' errors.
    results: list[Any] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    @property
    def variables(self) -> dict[str, bool]:
        out: dict[str, bool] = {}
        for read in self.reads:
            out.update(read.variables)
        return out

    def of(self, cls: type) -> list[Any]:
        """The loaded settings objects of ``cls``."""
        values = [r.value for r in self.reads if r.cls is cls and r.value is not None]
        return values + [r for r in self.results if type(r) is cls and r not in values]


def console_scripts() -> dict[str, str]:
    with (ROOT / "pyproject.toml").open("rb") as f:
        scripts: dict[str, str] = tomllib.load(f)["project"]["scripts"]
    return scripts


def entry_module(container: Obj) -> tuple[str | None, str | None]:
    """The module a container's command runs, or None and why it runs nothing we ship."""
    argv = [*container.get("command", []), *container.get("args", [])]
    if not argv:
        return None, "no command (the image has no default process)"
    scripts = console_scripts()
    if argv[0] in scripts:
        module_name, _, attr = scripts[argv[0]].partition(":")
        try:
            module = importlib.import_module(module_name)
        except ImportError as exc:
            return None, f"console script {argv[0]} -> {module_name}, which does not import: {exc}"
        if not callable(getattr(module, attr, None)):
            return None, f"console script {argv[0]} -> {module_name}:{attr}, not a function"
        return module_name, None
    if argv[0] in ("python", "python3") and argv[1:2] == ["-m"] and len(argv) > 2:
        if importlib.util.find_spec(argv[2]) is None:
            return None, f"python -m {argv[2]}: no such module"
        return argv[2], None
    return None, f"{argv[0]!r} is neither a console script of pyproject.toml nor python -m"


def settings_loaders(module_name: str) -> list[Callable[[], object]]:
    """The settings loader of the service the module runs: its ``SERVICE.load``
    (``libs.runtime.Service``), which reads what every process reads and the service's own."""
    service = getattr(importlib.import_module(module_name), "SERVICE", None)
    if not isinstance(service, Service):
        return []
    return [service.load]


def load_settings(module_name: str, env: dict[str, str]) -> Loaded:
    """Run the module's settings loaders on ``env`` (not this process's), recording each read."""
    loaded = Loaded()
    loaders = settings_loaders(module_name)
    if not loaders:
        loaded.errors.append(f"{module_name}: no settings loader found in its source")
        return loaded
    real_load = libs.config.load

    def recording_load(
        cls: type, prefix: str, environ: object = None, *, defaults: Any = None
    ) -> object:
        read = Read(cls, prefix, dict(defaults or {}))
        loaded.reads.append(read)
        read.value = real_load(cls, prefix, env, defaults=defaults)
        return read.value

    with mock.patch.object(libs.config, "load", recording_load):
        for loader in loaders:
            try:
                result = loader()
                loaded.results.extend(result if isinstance(result, tuple) else [result])
            except libs.config.ConfigError as exc:
                loaded.errors.append(str(exc))
    return loaded


# --- the cluster ------------------------------------------------------------------------


@dataclass
class Workload:
    """One container of a Deployment, with everything its process gets."""

    deployment: Obj
    container: Obj
    env: dict[str, str]
    env_problems: list[str]

    @property
    def name(self) -> str:
        return f"{self.deployment['metadata']['name']}/{self.container['name']}"

    @property
    def pod(self) -> Obj:
        spec: Obj = self.deployment["spec"]["template"]["spec"]
        return spec

    @property
    def labels(self) -> dict[str, str]:
        labels: dict[str, str] = self.deployment["spec"]["template"]["metadata"]["labels"]
        return labels

    @cached_property
    def entry(self) -> tuple[str | None, str | None]:
        return entry_module(self.container)

    @property
    def module(self) -> str | None:
        return self.entry[0]

    @cached_property
    def settings(self) -> Loaded:
        if self.module is None:
            return Loaded(errors=[f"runs nothing we ship: {self.entry[1]}"])
        return load_settings(self.module, self.env)

    def container_port(self, port: int | str) -> int | None:
        """The number of a port given by name or number, if the container declares it."""
        for p in self.container.get("ports", []):
            if port in (p.get("name"), p["containerPort"]):
                number: int = p["containerPort"]
                return number
        return None


@dataclass
class Cluster:
    name: str
    objects: list[Obj]

    def of_kind(self, kind: str) -> list[Obj]:
        return [o for o in self.objects if o["kind"] == kind]

    def get(self, kind: str, name: str) -> Obj | None:
        for obj in self.of_kind(kind):
            if obj["metadata"]["name"] == name:
                return obj
        return None

    @cached_property
    def workloads(self) -> list[Workload]:
        out = []
        for deployment in self.of_kind("Deployment"):
            for container in deployment["spec"]["template"]["spec"]["containers"]:
                env, problems = self._environment(container)
                out.append(Workload(deployment, container, env, problems))
        return out

    def deployments_selected(self, selector: dict[str, str]) -> list[Obj]:
        return [
            d
            for d in self.of_kind("Deployment")
            if selector and labels_match(selector, d["spec"]["template"]["metadata"]["labels"])
        ]

    def workloads_of(self, deployment: Obj) -> list[Workload]:
        return [w for w in self.workloads if w.deployment is deployment]

    def _environment(self, container: Obj) -> tuple[dict[str, str], list[str]]:
        """The container's environment as the kubelet builds it: envFrom first, then env."""
        env: dict[str, str] = {}
        problems: list[str] = []
        for source in container.get("envFrom", []):
            for kind, key in (("ConfigMap", "configMapRef"), ("Secret", "secretRef")):
                if key in source:
                    ref = source[key]
                    obj = self.get(kind, ref["name"])
                    if obj is None:
                        if not ref.get("optional"):
                            problems.append(f"envFrom {kind} {ref['name']} does not exist")
                        continue
                    prefix = source.get("prefix", "")
                    env.update({prefix + k: v for k, v in object_data(obj).items()})
        for var in container.get("env", []):
            if "valueFrom" not in var:
                env[var["name"]] = str(var.get("value", ""))
                continue
            value_from = var["valueFrom"]
            for kind, key in (("ConfigMap", "configMapKeyRef"), ("Secret", "secretKeyRef")):
                if key in value_from:
                    ref = value_from[key]
                    obj = self.get(kind, ref["name"])
                    data = object_data(obj) if obj is not None else {}
                    if ref["key"] in data:
                        env[var["name"]] = data[ref["key"]]
                    elif not ref.get("optional"):
                        problems.append(
                            f"{var['name']}: {kind} {ref['name']} has no key {ref['key']}"
                        )
                    break
            else:
                problems.append(f"{var['name']}: valueFrom {sorted(value_from)} not understood")
        return env, problems


def operator_secret() -> list[Obj]:
    return read_yaml(SECRET_TEMPLATE)


def cluster(entry: str) -> Cluster:
    """What ``kubectl apply -k`` of an entry creates, plus the operator's Secret when it
    creates none (the production entry: the Secret comes from the template, filled in)."""
    objects = render(ENTRIES[entry])
    if not any(o["kind"] == "Secret" for o in objects):
        objects += operator_secret()
    return Cluster(entry, objects)


def yaml_files() -> Iterator[Path]:
    yield from sorted(KUBERNETES.rglob("*.yaml"))
