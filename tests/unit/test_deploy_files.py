"""deploy/ without Docker: every file parses and fits its schema, every TONGBAN_* variable
is a setting, and the nginx configuration passes `nginx -t`.

Schemas, offline: Compose through compose-spec's parser (it refuses unknown keys and
wrong types); Kubernetes through the official client's object models (each field's
name and type, and the required ones). The variables are checked by loading them
into the settings model itself, so a setting that moves (say into
``[adapters.<region>]``) fails here until the files are renamed to match.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from gateway.config import load_settings
from gateway.errors import ConfigError

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
KUBERNETES = DEPLOY / "kubernetes"
_INTERPOLATION = re.compile(r"\$\{([A-Z0-9_]+)(?::?[-?][^}]*)?\}")


def _yaml_documents(path: Path) -> list[Any]:
    return [doc for doc in yaml.safe_load_all(path.read_text("utf-8")) if doc is not None]


def test_every_yaml_file_parses() -> None:
    files = sorted(DEPLOY.rglob("*.yaml"))
    assert len(files) >= 8
    for path in files:
        assert _yaml_documents(path), path


# --- Compose --------------------------------------------------------------------------


def _compose() -> dict[str, Any]:
    document = _yaml_documents(DEPLOY / "compose.yaml")[0]
    assert isinstance(document, dict)
    return document


def test_compose_file_fits_the_compose_specification() -> None:
    import compose_spec

    # yaml resolved the `<<` merges (YAML 1.1) that compose accepts and the parser does not.
    spec = compose_spec.PyCompose.from_json(json.dumps(_compose())).to_spec()
    assert spec.services is not None
    assert {"postgres", "gateway-1", "gateway-2", "nginx"} <= set(spec.services)


def test_compose_refers_only_to_services_and_files_that_exist() -> None:
    compose = _compose()
    services = compose["services"]
    assert {name for name in services if name.startswith("sandbox-")} == {
        "sandbox-shenzhen", "sandbox-dongguan", "sandbox-zhangjiagang",
    }  # fmt: skip
    for name, service in services.items():
        for needed in service.get("depends_on", {}):
            assert needed in services, f"{name} depends on unknown {needed}"
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith("."):
                assert (DEPLOY / source).exists(), f"{name} mounts missing {source}"
        if "build" in service:
            assert (DEPLOY / service["build"]["context"] / service["build"]["dockerfile"]).exists()
    assert services["gateway-1"]["environment"] == services["gateway-2"]["environment"]


# --- Kubernetes -----------------------------------------------------------------------


def _check_model(value: Any, type_name: str, path: str, problems: list[str]) -> None:
    """Check `value` against a Kubernetes client model type (``V1Deployment``, ``list[..]``)."""
    from kubernetes import client

    # The client spells containers "list[X]"/"dict(str, X)" or "List[X]"/"Dict[str, X]".
    if type_name.startswith(("list[", "List[")):
        if not isinstance(value, list):
            problems.append(f"{path}: not a list")
            return
        for index, item in enumerate(value):
            _check_model(item, type_name[5:-1], f"{path}[{index}]", problems)
        return
    if type_name.startswith(("dict(", "Dict[")):
        inner = type_name[type_name.index(",") + 1 : -1].strip()
        if not isinstance(value, dict):
            problems.append(f"{path}: not a mapping")
            return
        for key, item in value.items():
            _check_model(item, inner, f"{path}.{key}", problems)
        return
    scalar: dict[str, type | tuple[type, ...]] = {
        "str": str,
        "int": int,
        "bool": bool,
        "float": (int, float),
        "datetime": str,
    }
    if type_name in scalar:
        wrong_bool = type_name == "int" and isinstance(value, bool)
        if not isinstance(value, scalar[type_name]) or wrong_bool:
            problems.append(f"{path}: {value!r} is not {type_name}")
        return
    if type_name == "object":
        return  # IntOrString, quantities, raw JSON
    model = getattr(client, type_name)
    if not isinstance(value, dict):
        problems.append(f"{path}: not an object ({type_name})")
        return
    by_json_name = {json_name: attr for attr, json_name in model.attribute_map.items()}
    for key, item in value.items():
        if key not in by_json_name:
            problems.append(f"{path}.{key}: no such field in {type_name}")
            continue
        attr = by_json_name[key]
        _check_model(item, model.openapi_types[attr], f"{path}.{key}", problems)
    try:  # the generated setters refuse a missing required field
        model(**{by_json_name[k]: v for k, v in value.items() if k in by_json_name})
    except ValueError as exc:  # pydantic's ValidationError (newer clients) is one too
        problems.append(f"{path}: {exc}")


_KINDS = {
    ("apps/v1", "Deployment"): "V1Deployment",
    ("v1", "Service"): "V1Service",
    ("v1", "ConfigMap"): "V1ConfigMap",
    ("v1", "Secret"): "V1Secret",
    ("v1", "PersistentVolumeClaim"): "V1PersistentVolumeClaim",
    ("policy/v1", "PodDisruptionBudget"): "V1PodDisruptionBudget",
    ("batch/v1", "Job"): "V1Job",
}


def _manifests() -> list[tuple[Path, dict[str, Any]]]:
    return [
        (path, doc)
        for path in sorted(KUBERNETES.glob("*.yaml"))
        if path.name != "kustomization.yaml"
        for doc in _yaml_documents(path)
    ]


def test_kubernetes_manifests_fit_the_api_models() -> None:
    problems: list[str] = []
    kinds = set()
    for path, doc in _manifests():
        model = _KINDS.get((str(doc.get("apiVersion")), str(doc.get("kind"))))
        assert model is not None, (
            f"{path.name}: unexpected {doc.get('apiVersion')} {doc.get('kind')}"
        )
        kinds.add(doc["kind"])
        _check_model(doc, model, path.name, problems)
    assert problems == []
    assert {"Deployment", "Service", "PodDisruptionBudget", "ConfigMap", "Secret"} <= kinds


def test_the_model_check_catches_a_misspelt_or_missing_field() -> None:
    problems: list[str] = []
    bad = {"apiVersion": "v1", "kind": "Service", "spec": {"selektor": {}, "ports": [{}]}}
    _check_model(bad, "V1Service", "bad", problems)
    assert any("selektor" in p for p in problems)
    assert any("port" in p and ("required" in p or "None" in p) for p in problems)


def test_kubernetes_probes_migration_and_selectors_agree() -> None:
    docs = {doc["kind"]: doc for _, doc in _manifests()}
    pod = docs["Deployment"]["spec"]["template"]
    container = pod["spec"]["containers"][0]
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert pod["spec"]["initContainers"][0]["args"] == ["migrate"]
    labels = pod["metadata"]["labels"]
    for kind in ("Service", "PodDisruptionBudget"):
        selector = docs[kind]["spec"]["selector"]
        assert (selector.get("matchLabels") or selector).items() <= labels.items()
    listed = _yaml_documents(KUBERNETES / "kustomization.yaml")[0]["resources"]
    assert all((KUBERNETES / name).exists() for name in listed)
    assert "secret.example.yaml" not in listed  # the real Secret comes from a secret store


# --- TONGBAN_* variables ----------------------------------------------------------------


def _sample_value(value: Any) -> str:
    """The value with compose's ${VAR:-default} / ${VAR:?msg} filled in."""
    return _INTERPOLATION.sub(lambda m: "placeholder", str(value))


def _variables() -> dict[str, dict[str, str]]:
    """Every TONGBAN_* variable each file sets, with a sample value."""
    found: dict[str, dict[str, str]] = {}
    compose = _compose()
    for name, service in compose["services"].items():
        for key, value in (service.get("environment") or {}).items():
            if key.startswith("TONGBAN_"):
                found.setdefault(f"compose.yaml:{name}", {})[key] = _sample_value(value)
    for path, doc in _manifests():
        data = {**doc.get("data", {}), **doc.get("stringData", {})}
        for key, value in data.items():
            if key.startswith("TONGBAN_"):
                found.setdefault(path.name, {})[key] = _sample_value(value)
    for line in (DEPLOY / "Dockerfile").read_text("utf-8").splitlines():
        for key, value in re.findall(r"(TONGBAN_[A-Z0-9_]+)=(\S+)", line):
            found.setdefault("Dockerfile", {})[key] = value
    return found


def test_every_tongban_variable_is_a_setting() -> None:
    """Each file's variables load into the settings model (which forbids unknown keys)."""
    variables = _variables()
    assert {"compose.yaml:gateway-1", "configmap.yaml", "secret.example.yaml", "Dockerfile"} <= set(
        variables
    )
    for where, environ in variables.items():
        try:
            load_settings(environ=environ)
        except ConfigError as exc:
            pytest.fail(f"{where}: {exc}")


def test_an_unknown_variable_is_caught() -> None:
    with pytest.raises(ConfigError):
        load_settings(environ={"TONGBAN_SERVER__PROT": "8080"})


# --- nginx ------------------------------------------------------------------------------


def _demo_certificate(directory: Path) -> None:
    from datetime import UTC, datetime, timedelta

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "gw.example.gov.cn")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name)
        .public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now).not_valid_after(now + timedelta(days=1))
        .sign(key, hashes.SHA256())
    )  # fmt: skip
    (directory / "fullchain.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (directory / "privkey.pem").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )


@pytest.mark.parametrize(
    ("upstream", "extra"),
    [("nginx-upstream.conf", []), ("nginx-upstream.compose.conf", ["nginx-internal.conf"])],
)
def test_nginx_configuration_passes_nginx_t(
    tmp_path: Path, upstream: str, extra: list[str]
) -> None:
    nginx = shutil.which("nginx") or (
        "/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None
    )
    if nginx is None:
        pytest.skip("nginx is not installed (apt-get install nginx): `nginx -t` not run")
    (tmp_path / "tls").mkdir()
    (tmp_path / "logs").mkdir()
    _demo_certificate(tmp_path / "tls")
    # nginx -t resolves upstream host names: the compose services become this host.
    servers = (DEPLOY / upstream).read_text("utf-8")
    (tmp_path / "upstream.conf").write_text(re.sub(r"gateway-\d", "127.0.0.1", servers))

    def placed(name: str) -> Path:
        text = (DEPLOY / name).read_text("utf-8")
        text = text.replace("/etc/nginx/tongban-upstream.conf", str(tmp_path / "upstream.conf"))
        text = text.replace("/etc/nginx/tls", str(tmp_path / "tls"))
        text = text.replace("/var/log/nginx", str(tmp_path / "logs"))
        out = tmp_path / name
        out.write_text(text, encoding="utf-8")
        return out

    includes = "\n".join(f"    include {placed(n)};" for n in ["nginx.conf", *extra])
    main = tmp_path / "main.conf"
    main.write_text(
        f"pid {tmp_path}/nginx.pid;\nerror_log {tmp_path}/logs/error.log;\n"
        f"events {{}}\nhttp {{\n    access_log off;\n{includes}\n}}\n",
        encoding="utf-8",
    )
    result = subprocess.run(
        [nginx, "-t", "-p", str(tmp_path), "-c", str(main)],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "test is successful" in result.stderr


def test_demo_certificate_script_makes_a_private_key_only_its_owner_reads(tmp_path: Path) -> None:
    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed: deploy/tls/make-demo-cert.sh not run")
    from cryptography import x509

    script = tmp_path / "make-demo-cert.sh"
    shutil.copy(DEPLOY / "tls" / "make-demo-cert.sh", script)
    result = subprocess.run(
        ["sh", str(script), "gw.test"], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "privkey.pem").stat().st_mode & 0o077 == 0
    cert = x509.load_pem_x509_certificate((tmp_path / "fullchain.pem").read_bytes())
    assert "gw.test" in cert.subject.rfc4514_string()
    again = subprocess.run(["sh", str(script)], capture_output=True, text=True, timeout=60)
    assert again.returncode == 1  # never over an existing key
