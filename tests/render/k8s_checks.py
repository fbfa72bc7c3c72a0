"""Offline checks of the rendered Kubernetes manifests, as a cluster would take them.

Each document of `k8s-injector.yaml` / `k8s-csi.yaml` is checked as written:

- built-in kinds (ServiceAccount, Deployment) with kubernetes-validate: the Kubernetes
  OpenAPI schemas, strict (an unknown field fails, as `kubectl apply`'s strict field
  validation does);
- the SecretProviderClass with jsonschema against the Secrets Store CSI driver's own CRD
  schema, vendored in `crds/` (its header names the tag and commit), with the API server's
  rule for structural schemas: a field the schema does not name is unknown (fails);
- what the API server checks beyond the schemas: names (DNS subdomain/label), annotation
  and label keys and values, a selector matching its pod template, mounts naming volumes;
- what the consumers read: the Vault CSI provider's parameters and `objects` (fields from
  hashicorp/vault-csi-provider internal/config/config.go, commit becf48f1), and the
  injector's `agent-run-as-same-user` rule (hashicorp/vault-k8s
  agent-inject/agent/annotations.go `runAsSameID`, commit fbc5b1f0): the first container
  sets a non-root `securityContext.runAsUser`; and the volume and mount the injector adds
  (`vault-secrets` at `secret-volume-path`) clash with none of the pod's own;
- within a file: the Deployment runs as the file's ServiceAccount in its namespace, and
  its CSI volume names the file's SecretProviderClass.

What needs a cluster is in docs/stacks.md (Kubernetes): the webhook's mutation, the
driver's mount, the login's TokenReview.
"""

from __future__ import annotations

import copy
import functools
import re
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import yaml

K8S_VERSION = "1.37.0"
CRD_FILE = Path(__file__).parent / "crds" / "secrets-store.csi.x-k8s.io_secretproviderclasses.yaml"
SPC_API = "secrets-store.csi.x-k8s.io/v1"
CSI_DRIVER = "secrets-store.csi.k8s.io"
SAME_USER = "vault.hashicorp.com/agent-run-as-same-user"
INJECT = "vault.hashicorp.com/agent-inject"
SECRET_VOLUME_PATH = "vault.hashicorp.com/secret-volume-path"
# The volume the injector adds, mounted at secret-volume-path in every container
# (vault-k8s agent-inject/agent/container_volume.go).
INJECTOR_VOLUME = "vault-secrets"
# metav1/apimachinery validation (k8s.io/apimachinery/pkg/util/validation).
_NAME = r"[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?"
QUALIFIED = re.compile(rf"^([a-z0-9]([-a-z0-9.]{{0,251}}[a-z0-9])?/)?{_NAME}$")
LABEL_VALUE = re.compile(rf"^({_NAME})?$")
DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$")
DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
# The Vault CSI provider's SecretProviderClass parameters and `objects` fields.
VAULT_PARAMETERS = frozenset({
    "roleName", "vaultAddress", "vaultNamespace", "vaultCACertPath", "vaultCADirectory",
    "vaultTLSServerName", "vaultTLSClientCertPath", "vaultTLSClientKeyPath",
    "vaultKubernetesMountPath", "vaultAuthMountPath", "vaultSkipTLSVerify", "audience",
    "objects"})
VAULT_OBJECT_FIELDS = frozenset({"objectName", "secretPath", "secretKey", "method",
                                 "secretArgs", "filePermission", "encoding"})


class ManifestError(AssertionError):
    """A rendered document a cluster (or its consumer) would refuse."""


def documents(blob: bytes | str) -> list[dict[str, Any]]:
    """The YAML documents of one rendered file."""
    return [d for d in yaml.safe_load_all(blob) if d is not None]


def _strict(schema: dict[str, Any]) -> dict[str, Any]:
    """A CRD's structural schema as the API server applies it: unknown fields are errors.

    (The server prunes or, with strict field validation, rejects a field the schema does
    not name, unless `x-kubernetes-preserve-unknown-fields`.)
    """
    if isinstance(schema, dict):
        schema = {k: _strict(v) if isinstance(v, dict | list) else v for k, v in schema.items()}
        if ("properties" in schema and "additionalProperties" not in schema
                and not schema.get("x-kubernetes-preserve-unknown-fields")):
            schema["additionalProperties"] = False
    elif isinstance(schema, list):
        return [_strict(s) for s in schema]  # type: ignore[return-value]
    return schema


@functools.cache
def spc_schema() -> dict[str, Any]:
    """The vendored CRD's served v1 schema, strict."""
    (crd,) = documents(CRD_FILE.read_text())
    (version,) = [v for v in crd["spec"]["versions"] if v["name"] == SPC_API.split("/")[1]]
    assert version["served"] and version["storage"]
    return _strict(version["schema"]["openAPIV3Schema"])


def _fail(where: str, what: str) -> None:
    raise ManifestError(f"{where}: {what}")


def check_metadata(doc: dict[str, Any], where: str) -> None:
    """ObjectMeta as the API server checks it (strict schema, names, annotations, labels)."""
    meta = doc["metadata"]
    kubernetes_validate.validate({"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta},
                                 K8S_VERSION, strict=True)
    _meta_rules(meta, where)
    if not DNS_LABEL.match(meta.get("namespace", "")):
        _fail(where, f"namespace {meta.get('namespace')!r} is not a DNS label")


def _meta_rules(meta: dict[str, Any], where: str) -> None:
    if "name" in meta and not DNS_SUBDOMAIN.match(meta["name"]):
        _fail(where, f"name {meta['name']!r} is not a DNS subdomain")
    for key, value in (meta.get("annotations") or {}).items():
        if not QUALIFIED.match(key):
            _fail(where, f"annotation key {key!r} is not a qualified name")
        if not isinstance(value, str):
            _fail(where, f"annotation {key!r} is not a string")
    for key, value in (meta.get("labels") or {}).items():
        if not QUALIFIED.match(key) or not LABEL_VALUE.match(str(value)):
            _fail(where, f"label {key}={value!r} is not valid")


def check_builtin(doc: dict[str, Any], where: str) -> None:
    """A built-in kind: the Kubernetes schema (strict) and the API server's own rules."""
    try:
        kubernetes_validate.validate(doc, K8S_VERSION, strict=True)
    except kubernetes_validate.ValidationError as err:
        _fail(where, f"{doc['kind']} schema: {err.message}")
    check_metadata(doc, where)
    if doc["kind"] != "Deployment":
        return
    spec = doc["spec"]
    template = spec["template"]
    _meta_rules(template["metadata"], f"{where} pod template")
    labels = template["metadata"].get("labels", {})
    if any(labels.get(k) != v for k, v in spec["selector"]["matchLabels"].items()):
        _fail(where, "selector does not match the pod template's labels")
    pod = template["spec"]
    annotations = template["metadata"].get("annotations", {})
    volume_names = [v["name"] for v in pod.get("volumes", [])]
    if annotations.get(INJECT) == "true":  # what the injector adds must not clash
        volume_names.append(INJECTOR_VOLUME)
    volumes = set(volume_names)
    if len(volumes) != len(volume_names):
        _fail(where, f"two volumes share a name: {sorted(volume_names)}")
    for container in pod["containers"]:
        if not DNS_LABEL.match(container["name"]):
            _fail(where, f"container name {container['name']!r} is not a DNS label")
        paths = [m["mountPath"] for m in container.get("volumeMounts", [])]
        if annotations.get(INJECT) == "true":
            paths.append(annotations[SECRET_VOLUME_PATH])
        if len(set(paths)) != len(paths):
            _fail(where, f"two mounts share a path in {container['name']!r}: {sorted(paths)}")
        for mount in container.get("volumeMounts", []):
            if mount["name"] not in volumes:
                _fail(where, f"volumeMount {mount['name']!r} names no volume")
            if not mount["mountPath"].startswith("/"):
                _fail(where, f"mountPath {mount['mountPath']!r} is not absolute")
    if annotations.get(SAME_USER) == "true":
        user = (pod["containers"][0].get("securityContext") or {}).get("runAsUser")
        if not user:  # the injector refuses the pod (vault-k8s runAsSameID)
            _fail(where, f"{SAME_USER} needs a non-root runAsUser on the first container")


def check_secret_provider_class(doc: dict[str, Any], where: str) -> None:
    """The vendored CRD's schema, the API server's metadata rules, the Vault provider's reading."""
    errors = sorted(jsonschema.Draft7Validator(spc_schema()).iter_errors(doc), key=str)
    if errors:
        _fail(where, f"SecretProviderClass schema: {errors[0].message}")
    check_metadata(doc, where)
    spec = doc["spec"]
    if spec.get("provider") != "vault":
        _fail(where, "provider is not vault")
    params = spec.get("parameters") or {}
    unread = set(params) - VAULT_PARAMETERS
    if unread:
        _fail(where, f"parameters the Vault provider does not read: {sorted(unread)}")
    objects = yaml.safe_load(params.get("objects", "")) or []  # the provider parses YAML
    if not isinstance(objects, list) or not objects:
        _fail(where, "objects is not a non-empty YAML list")
    for obj in objects:
        if not isinstance(obj, dict) or set(obj) - VAULT_OBJECT_FIELDS or \
                not {"objectName", "secretPath"} <= set(obj):
            _fail(where, f"object {obj!r} is not one the Vault provider reads")
    names = [o["objectName"] for o in objects]
    if len(names) != len(set(names)):
        _fail(where, "two objects share a file name")


def check_document(doc: dict[str, Any], where: str) -> None:
    """One rendered document, by its kind."""
    if doc.get("apiVersion") == SPC_API and doc.get("kind") == "SecretProviderClass":
        check_secret_provider_class(doc, where)
    else:
        check_builtin(doc, where)


def check_file(docs: list[dict[str, Any]], where: str) -> dict[str, dict[str, Any]]:
    """Every document of one rendered file, and how they name each other; by kind."""
    by_kind: dict[str, dict[str, Any]] = {}
    for i, doc in enumerate(docs):
        check_document(doc, f"{where} document {i + 1}")
        if doc["kind"] in by_kind:
            _fail(where, f"two {doc['kind']} documents")
        by_kind[doc["kind"]] = doc
    account, deployment = by_kind["ServiceAccount"], by_kind["Deployment"]
    namespaces = {d["metadata"]["namespace"] for d in docs}
    if len(namespaces) != 1:
        _fail(where, f"documents in different namespaces: {sorted(namespaces)}")
    pod = deployment["spec"]["template"]["spec"]
    if pod.get("serviceAccountName") != account["metadata"]["name"]:
        _fail(where, "the Deployment does not run as the file's ServiceAccount")
    spc = by_kind.get("SecretProviderClass")
    if spc is not None:
        classes = [v["csi"]["volumeAttributes"]["secretProviderClass"]
                   for v in pod.get("volumes", [])
                   if v.get("csi", {}).get("driver") == CSI_DRIVER]
        if classes != [spc["metadata"]["name"]]:
            _fail(where, "the Deployment's CSI volume does not name the SecretProviderClass")
    return by_kind


def mutated(doc: dict[str, Any]) -> dict[str, Any]:
    """A deep copy to break on purpose."""
    return copy.deepcopy(doc)
