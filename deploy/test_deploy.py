#!/usr/bin/env python3
"""Checks that deploy/ names what couponbridge really uses.

Run by deploy/check.sh (python3 deploy/test_deploy.py). Standard library and
PyYAML only. Everything couponbridge does is read from its sources, not
restated here:

* metric names and labels: src/metrics.rs (the registry prefix, each
  register() call, the type of the field it registers, the label structs);
  Prometheus suffixes follow the type: counters _total, histograms _bucket
  (+ le), _sum, _count;
* admin paths: src/admin.rs; listener and shutdown defaults and
  configuration keys: src/config/raw.rs, and the
  operation names in src/domain/operation.rs; the image's ENV, CMD and EXPOSE:
  Dockerfile.

The checks:
(a) every couponbridge_* name in the Prometheus rules, their promtool tests
    and the Grafana dashboard is one couponbridge exports, with labels it
    has; recording rules used are defined; dashboard queries parse (promtool);
(b) probe paths and ports in the Kubernetes manifests and compose.yaml are the
    admin listener's and the Gameball listener's, as the image, the deploy
    config and the defaults make them;
(c) terminationGracePeriodSeconds (and compose's stop_grace_period) is above
    shutdown_delay + shutdown_grace of the ConfigMap's TOML;
plus: the ConfigMap holds deploy/couponbridge.toml, every configuration key
and COUPONBRIDGE_* variable is one couponbridge knows, each tenant's secrets
come from the environment, Redis persists, selectors match.

Each check is a function returning a list of problems; the negative tests at
the end feed them broken input to show they are not vacuous.
"""

import copy
import json
import re
import shutil
import subprocess
import sys
import tempfile
import tomllib
import unittest
from pathlib import Path

import yaml

DEPLOY = Path(__file__).resolve().parent
REPO = DEPLOY.parent
K8S = DEPLOY / "kubernetes"

# Labels Prometheus attaches to every scraped series.
TARGET_LABELS = {"job", "instance"}


def read(rel):
    return (REPO / rel).read_text()


def load_yaml_docs(path):
    with open(path) as f:
        return [d for d in yaml.safe_load_all(f) if d is not None]


# ---------------------------------------------------------------------------
# What couponbridge exports and serves, read from its sources
# ---------------------------------------------------------------------------


def exported_metrics():
    """{series name: set of labels} for every series couponbridge exports."""
    text = read("src/metrics.rs")
    prefix = re.search(r'Registry::with_prefix\(\s*"(\w+)"\s*\)', text).group(1)
    label_structs = {
        m.group(1): set(re.findall(r"(\w+)\s*:", m.group(2)))
        for m in re.finditer(
            r"#\[derive\([^)]*EncodeLabelSet[^)]*\)\]\s*(?:pub\s+)?struct\s+(\w+)\s*\{([^}]*)\}", text
        )
    }
    body = re.search(r"pub struct Metrics\s*\{([^}]*)\}", text).group(1)
    fields = {}
    for line in body.splitlines():
        m = re.match(r"\s*(?:pub\s+)?(\w+)\s*:\s*(.+?),?\s*$", line)
        if not m:
            continue
        name, ty = m.groups()
        fam = re.match(r"Family<\s*(\w+)\s*,\s*(\w+)", ty)
        if fam:
            fields[name] = (fam.group(2), label_structs[fam.group(1)])
        else:
            fields[name] = (ty.strip(), set())
    registrations = re.findall(
        r'\.register\(\s*"(\w+)"\s*,\s*"(?:[^"\\]|\\.)*"\s*,\s*m\.(\w+)\.clone\(\)\s*,?\s*\)', text
    )
    # The parser must understand every registration, or it would miss names.
    calls = len(re.findall(r"\.register(?:_with_unit)?\(", text))
    assert calls == len(registrations) > 0, f"src/metrics.rs: parsed {len(registrations)} of {calls} register calls"
    series = {}
    for name, field in registrations:
        kind, labels = fields[field]
        base = f"{prefix}_{name}"
        if kind == "Counter":
            series[base + "_total"] = set(labels)
        elif kind == "Histogram":
            series[base + "_bucket"] = set(labels) | {"le"}
            series[base + "_sum"] = set(labels)
            series[base + "_count"] = set(labels)
        elif kind == "Gauge":
            series[base] = set(labels)
        else:
            raise AssertionError(f"src/metrics.rs: metric type {kind} of {field} is not handled here")
    return prefix, series


def admin_paths():
    return set(re.findall(r'\(&Method::GET,\s*"(/[^"]*)"\)', read("src/admin.rs")))


def listen_defaults():
    """The listeners' defaults, as src/config/raw.rs reads [server] and [admin]."""
    text = read("src/config/raw.rs")
    server = re.search(r"fn read_server\(.*?\n\}", text, re.S).group(0)
    admin = re.search(r'root\.table\("admin".*?\}\)', text, re.S).group(0)
    listen = r't\.or\(\s*"listen"\s*,\s*"([^"]+)"'
    return {"server.listen": re.search(listen, server).group(1), "admin.listen": re.search(listen, admin).group(1)}


def shutdown_defaults():
    """shutdown_delay and shutdown_grace's defaults, in seconds (src/config/raw.rs)."""
    text = read("src/config/raw.rs")
    server = re.search(r"fn read_server\(.*?\n\}", text, re.S).group(0)
    found = re.findall(r't\.duration\(\s*"(shutdown_delay|shutdown_grace)"\s*,\s*"([^"]+)"\s*\)', server)
    return {k: duration(v) for k, v in found}


def operation_names():
    text = read("src/domain/operation.rs")
    block = re.search(r"pub fn name\(self\) -> &'static str \{\s*match self \{(.*?)\}", text, re.S).group(1)
    return set(re.findall(r'Operation::\w+\s*=>\s*"(\w+)"', block))


def passthrough_route_label():
    m = re.search(r'route_name\s*=.*map_or\("(\w+)"', read("src/app/mod.rs"))
    return m.group(1)


def upstream_error_kinds():
    text = read("src/voucherify/client/error.rs")
    block = re.search(r"pub fn kind_label\(&self\).*?match self\.kind \{(.*?)\}", text, re.S).group(1)
    return set(re.findall(r'=>\s*"(\w+)"', block))


def raw_config_structs():
    """{struct name: {field: type}} of src/config/raw.rs."""
    text = read("src/config/raw.rs")
    out = {}
    for m in re.finditer(r"pub struct (\w+)\s*\{(.*?)\n\}", text, re.S):
        out[m.group(1)] = dict(re.findall(r"^\s*pub (\w+)\s*:\s*(.+?),\s*$", m.group(2), re.M))
    return out


def dockerfile():
    """(ENV dict, CMD list, EXPOSE set) of the runtime stage."""
    text = read("Dockerfile").replace("\\\n", " ")
    runtime = text.split("FROM ")[-1]
    env = {}
    for line in runtime.splitlines():
        if line.startswith("ENV "):
            for k, v in re.findall(r"(\w+)=(\S+)", line):
                env[k] = v
    cmd = json.loads(re.search(r"^CMD (\[.*\])$", runtime, re.M).group(1))
    expose = {int(p) for line in re.findall(r"^EXPOSE (.*)$", runtime, re.M) for p in line.split()}
    return env, cmd, expose


# ---------------------------------------------------------------------------
# Small parsers
# ---------------------------------------------------------------------------

UNITS = {
    "ns": 1e-9, "us": 1e-6, "ms": 1e-3, "msec": 1e-3, "s": 1, "sec": 1, "secs": 1, "second": 1, "seconds": 1,
    "m": 60, "min": 60, "mins": 60, "minute": 60, "minutes": 60, "h": 3600, "hr": 3600, "hour": 3600,
    "hours": 3600, "d": 86400, "day": 86400, "days": 86400, "w": 604800, "week": 604800, "weeks": 604800,
}


def duration(text):
    """Seconds in a humantime ("15s", "1m 30s") or Go/compose ("1m30s") duration."""
    parts = re.findall(r"(\d+(?:\.\d+)?)\s*([a-z]+)", text.strip())
    if not parts or re.sub(r"[\d.\sa-z]", "", text.strip()):
        raise ValueError(f"not a duration: {text!r}")
    return sum(float(n) * UNITS[u] for n, u in parts)


def host_port(addr):
    host, _, port = addr.rpartition(":")
    return host.strip("[]"), int(port)


def env_file(path):
    out = {}
    for line in Path(path).read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            k, _, v = line.partition("=")
            out[k] = v
    return out


def env_key_path(name, prefix="COUPONBRIDGE_"):
    """COUPONBRIDGE_TENANTS__SHOP__SECRET_KEY -> ['tenants', 'shop', 'secret_key'] (figment lowercases)."""
    return name[len(prefix):].lower().split("__")


def toml_paths(doc, base=()):
    for k, v in doc.items():
        if isinstance(v, dict):
            yield from toml_paths(v, base + (k,))
        else:
            yield base + (k,)


def config_key_problem(path, structs, operations):
    """Why `path` (a list of keys) is not a configuration key couponbridge reads, or None."""
    ty = "RawConfig"
    for i, key in enumerate(path):
        ty = re.sub(r"^Option<(.*)>$", r"\1", ty.strip())
        if ty == "RawRoutes":
            return None if key in operations and i == len(path) - 1 else f"{'.'.join(path)}: not an operation"
        m = re.match(r"BTreeMap<String,\s*(\w+)>$", ty)
        if m:
            ty = m.group(1)
            continue
        if ty not in structs:
            return f"{'.'.join(path)}: {'.'.join(path[:i])} has no sub-keys"
        if key not in structs[ty]:
            return f"{'.'.join(path)}: unknown key {key!r}"
        ty = structs[ty][key]
    return None


def set_path(doc, path, value):
    for k in path[:-1]:
        doc = doc.setdefault(k, {})
    doc[path[-1]] = value


# ---------------------------------------------------------------------------
# PromQL, approximately: enough to find metric names, selectors and
# grouping labels.
# ---------------------------------------------------------------------------

STRING = re.compile(r'"(?:[^"\\]|\\.)*"')
RECORDED = re.compile(r"(?<![\w:])([a-zA-Z_]\w*:[\w:]+)")
PROM_FUNCS_AND_KEYWORDS = {
    "sum", "by", "without", "on", "ignoring", "group_left", "group_right", "rate", "increase", "irate",
    "histogram_quantile", "absent", "or", "and", "unless", "vector", "label_values", "max", "min", "avg",
    "count", "topk", "bottomk", "offset", "bool", "clamp_min", "clamp_max",
}


def metric_tokens(text, prefix):
    return set(re.findall(rf"(?<![\w:\-]){prefix}_\w+(?![\w:])", text))


def selectors(expr):
    """[(metric, {label names matched})] for every `name{...}` in expr."""
    out = []
    for m in re.finditer(r"(?<![\w:])([a-zA-Z_:][\w:]*)\s*\{([^}]*)\}", expr):
        body = STRING.sub('""', m.group(2))
        out.append((m.group(1), set(re.findall(r"(\w+)\s*(?:=~|!~|!=|=)", body))))
    return out


def matcher_values(expr, label):
    return [
        (op, json.loads(v))
        for op, v in re.findall(rf'(?<![\w]){label}\s*(=~|!~|!=|=)\s*("(?:[^"\\]|\\.)*")', expr)
    ]


def grouping_labels(expr):
    body = STRING.sub('""', expr)
    labels = set()
    for g in re.findall(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\(([^)]*)\)", body):
        labels |= {x.strip() for x in g.split(",") if x.strip()}
    return labels


def first_by(expr):
    m = re.search(r"\bby\s*\(([^)]*)\)", STRING.sub('""', expr))
    return {x.strip() for x in m.group(1).split(",") if x.strip()} - {"le"} if m else set()


# ---------------------------------------------------------------------------
# The deploy files
# ---------------------------------------------------------------------------


def rules_files():
    return sorted((DEPLOY / "prometheus").glob("*.yaml"))


def rule_docs():
    return {p: yaml.safe_load(p.read_text()) for p in rules_files()}


def recording_rules():
    """{recorded name: labels it keeps}"""
    out = {}
    for doc in rule_docs().values():
        for g in doc["groups"]:
            for r in g["rules"]:
                if "record" in r:
                    out[r["record"]] = first_by(r["expr"])
    return out


def dashboard():
    return json.loads((DEPLOY / "grafana" / "couponbridge.json").read_text())


def dashboard_panels(d=None):
    d = d or dashboard()
    out = []
    for p in d["panels"]:
        out.append(p)
        out.extend(p.get("panels", []))
    return out


def dashboard_exprs(d=None):
    d = d or dashboard()
    exprs = [t["expr"] for p in dashboard_panels(d) for t in p.get("targets", [])]
    queries = [v["definition"] for v in d["templating"]["list"] if v.get("type") == "query"]
    return exprs, queries


def grafana_to_promql(expr):
    """A dashboard query as plain PromQL, so that promtool can parse it."""
    expr = expr.replace("$__rate_interval", "5m").replace("$__interval", "1m").replace("$__range", "1h")
    return re.sub(r"\$\{?\w+\}?", ".*", expr)


def all_exprs():
    """[(where, expression or annotation text)] of rules, rule tests and dashboard."""
    out = []
    for p, doc in rule_docs().items():
        for g in doc["groups"]:
            for r in g["rules"]:
                name = r.get("record") or r.get("alert")
                out.append((f"{p.name}: {name}", r["expr"]))
                for k, v in (r.get("annotations") or {}).items():
                    out.append((f"{p.name}: {name} annotation {k}", v))
    for t in sorted((DEPLOY / "prometheus" / "tests").glob("*.yaml")):
        doc = yaml.safe_load(t.read_text())
        for case in doc["tests"]:
            for s in case.get("input_series", []):
                out.append((f"{t.name}: input series", s["series"]))
            for e in case.get("promql_expr_test", []):
                out.append((f"{t.name}: promql_expr_test", e["expr"]))
    exprs, queries = dashboard_exprs()
    out += [("grafana/couponbridge.json: panel query", e) for e in exprs]
    out += [("grafana/couponbridge.json: variable query", q) for q in queries]
    return out


def k8s_objects():
    objs = {}
    for p in sorted(K8S.glob("*.yaml")):
        if p.name == "kustomization.yaml":
            continue
        for d in load_yaml_docs(p):
            objs[(d["kind"], d["metadata"]["name"])] = (p.name, d)
    return objs


def k8s(kind):
    found = [d for (k, _), (_, d) in k8s_objects().items() if k == kind]
    assert len(found) == 1, f"expected one {kind} in deploy/kubernetes, found {len(found)}"
    return found[0]


def compose():
    return yaml.safe_load((DEPLOY / "compose.yaml").read_text())


def deploy_toml():
    return tomllib.loads((DEPLOY / "couponbridge.toml").read_text())


def configmap_toml(cm=None):
    cm = cm or k8s("ConfigMap")
    return tomllib.loads(cm["data"]["couponbridge.toml"])


def effective(key_path, toml_doc, env_layers):
    """A setting as couponbridge sees it: environment over the file over the default (None)."""
    name = "COUPONBRIDGE_" + "__".join(k.upper() for k in key_path)
    for layer in env_layers:
        if name in layer:
            return layer[name]
    doc = toml_doc
    for k in key_path:
        if not isinstance(doc, dict) or k not in doc:
            return None
        doc = doc[k]
    return doc


def listen_addr(section, toml_doc, env_layers):
    v = effective([section, "listen"], toml_doc, env_layers)
    return v if v is not None else listen_defaults()[f"{section}.listen"]


def drain_seconds(toml_doc, env_layers):
    defaults = shutdown_defaults()
    total = 0.0
    for k in ("shutdown_delay", "shutdown_grace"):
        v = effective(["server", k], toml_doc, env_layers)
        total += duration(v) if v is not None else defaults[k]
    return total


def container_env(container):
    return {e["name"]: e.get("value") for e in container.get("env", [])}


def secret_template():
    return k8s("Secret").get("stringData", {})


# ---------------------------------------------------------------------------
# Checks: each returns a list of problems
# ---------------------------------------------------------------------------


def check_metric_names(items):
    prefix, exported = exported_metrics()
    recorded = recording_rules()
    problems = []
    for where, text in items:
        for name in sorted(metric_tokens(text, prefix)):
            if name not in exported:
                problems.append(f"{where}: {name} is not a metric couponbridge exports")
        for name in sorted(set(RECORDED.findall(STRING.sub('""', text)))):
            if prefix in name and name not in recorded:
                problems.append(f"{where}: recording rule {name} is not defined in deploy/prometheus")
    return problems


def check_metric_labels(items):
    prefix, exported = exported_metrics()
    recorded = recording_rules()
    known = {**exported, **recorded}
    routes = operation_names() | {passthrough_route_label()}
    problems = []
    for where, expr in items:
        if "annotation" in where:
            continue
        for metric, labels in selectors(expr):
            if metric in known:
                extra = labels - known[metric] - TARGET_LABELS
                if extra:
                    problems.append(f"{where}: {metric} has no label {sorted(extra)} (it has {sorted(known[metric])})")
        used = {m for m in known if re.search(rf"(?<![\w:]){re.escape(m)}(?![\w:])", expr)}
        if used:
            allowed = set().union(*(known[m] for m in used)) | TARGET_LABELS
            extra = grouping_labels(expr) - allowed
            if extra:
                problems.append(f"{where}: groups by {sorted(extra)}, not a label of {sorted(used)}")
        for op, value in matcher_values(expr, "route"):
            if op in ("=", "!=") and value not in routes:
                problems.append(f"{where}: route {value!r} is not a route label couponbridge uses")
    return problems


def check_k8s(objs):
    """Probes, ports, config mount, selectors and grace period of the Kubernetes manifests."""
    problems = []
    by_kind = {}
    for (kind, _), (_, d) in objs.items():
        by_kind.setdefault(kind, []).append(d)
    dep = by_kind["Deployment"][0]
    pod = dep["spec"]["template"]["spec"]
    labels = dep["spec"]["template"]["metadata"]["labels"]
    (c,) = [c for c in pod["containers"] if c["name"] == "couponbridge"]
    cm = next(d for d in by_kind["ConfigMap"] if d["metadata"]["name"] == pod["volumes"][0]["configMap"]["name"])
    doc = configmap_toml(cm)
    img_env, img_cmd, img_expose = dockerfile()
    secret = next(d for d in by_kind["Secret"]).get("stringData", {})
    layers = [container_env(c), secret, img_env]
    paths = admin_paths()
    admin_host, admin_port = host_port(listen_addr("admin", doc, layers))
    http_host, http_port = host_port(listen_addr("server", doc, layers))
    ports = {p["name"]: p["containerPort"] for p in c["ports"]}

    if dep["spec"]["replicas"] < 2:
        problems.append("Deployment: fewer than 2 replicas")
    if admin_host in ("127.0.0.1", "localhost", "::1"):
        problems.append(f"admin listener on {admin_host}: the kubelet's probes and Prometheus cannot reach it")
    if ports.get("admin") != admin_port:
        problems.append(f"containerPort admin {ports.get('admin')} is not the admin listener's port {admin_port}")
    if ports.get("http") != http_port:
        problems.append(f"containerPort http {ports.get('http')} is not the Gameball listener's port {http_port}")
    for port in ports.values():
        if port not in img_expose:
            problems.append(f"containerPort {port} is not EXPOSEd by the Dockerfile ({sorted(img_expose)})")

    def probe(name, want):
        p = c.get(name, {}).get("httpGet")
        if not p:
            return problems.append(f"{name}: missing (an httpGet probe)")
        if p["path"] != want or want not in paths:
            problems.append(f"{name}: path {p['path']} (couponbridge serves {sorted(paths)}; want {want})")
        port = ports.get(p["port"], p["port"])
        if port != admin_port:
            problems.append(f"{name}: port {p['port']} is not the admin port {admin_port}")

    probe("readinessProbe", "/readyz")
    probe("livenessProbe", "/livez")

    ann = dep["spec"]["template"]["metadata"].get("annotations", {})
    if "prometheus.io/port" in ann and int(ann["prometheus.io/port"]) != admin_port:
        problems.append(f"prometheus.io/port {ann['prometheus.io/port']} is not the admin port {admin_port}")
    if "prometheus.io/path" in ann and ann["prometheus.io/path"] not in paths:
        problems.append(f"prometheus.io/path {ann['prometheus.io/path']} is not served by the admin listener")

    # The configuration file: where the args say, from the ConfigMap.
    args = c.get("args", img_cmd)
    config_path = args[args.index("--config") + 1]
    if config_path != img_cmd[img_cmd.index("--config") + 1]:
        problems.append(f"--config {config_path} is not the image's {img_cmd}")
    mounted = set()
    for vm in c.get("volumeMounts", []):
        vol = next(v for v in pod["volumes"] if v["name"] == vm["name"])
        if "configMap" in vol:
            for item in vol["configMap"].get("items", []):
                mounted.add(vm["mountPath"].rstrip("/") + "/" + item["path"])
    if config_path not in mounted:
        problems.append(f"{config_path} is not mounted from the ConfigMap (mounted: {sorted(mounted)})")
    secret_refs = {e["secretRef"]["name"] for e in c.get("envFrom", []) if "secretRef" in e}
    secret_names = {d["metadata"]["name"] for d in by_kind["Secret"]}
    if secret_refs != secret_names:
        problems.append(f"envFrom secrets {sorted(secret_refs)} are not the template's {sorted(secret_names)}")

    # (c) the drain fits in the grace period.
    drain = drain_seconds(doc, layers)
    tgps = pod.get("terminationGracePeriodSeconds", 30)
    if not tgps > drain:
        problems.append(
            f"terminationGracePeriodSeconds {tgps} is not above shutdown_delay + shutdown_grace = {drain:g} s"
        )

    # Selectors.
    def selects(sel):
        return all(labels.get(k) == v for k, v in sel.items())

    if not selects(dep["spec"]["selector"]["matchLabels"]):
        problems.append("Deployment selector does not match its pod template")
    for svc in by_kind.get("Service", []):
        if not selects(svc["spec"]["selector"]):
            problems.append(f"Service {svc['metadata']['name']}: selector does not match the pods")
        for sp in svc["spec"]["ports"]:
            target = ports.get(sp["targetPort"], sp["targetPort"])
            if target != http_port:
                problems.append(f"Service port {sp['port']}: targetPort {sp['targetPort']} is not the Gameball port {http_port}")
    pdbs = by_kind.get("PodDisruptionBudget", [])
    if not pdbs:
        problems.append("no PodDisruptionBudget")
    for pdb in pdbs:
        if not selects(pdb["spec"]["selector"]["matchLabels"]):
            problems.append("PodDisruptionBudget selector does not match the pods")
        if pdb["spec"].get("minAvailable", 0) >= dep["spec"]["replicas"]:
            problems.append("PodDisruptionBudget minAvailable leaves no pod evictable")
    return problems


def check_compose(doc):
    problems = []
    svc = doc["services"]["couponbridge"]
    redis = doc["services"]["redis"]
    toml_doc = deploy_toml()
    img_env, img_cmd, _ = dockerfile()
    file_env = {}
    for f in svc.get("env_file", []):
        f = f["path"] if isinstance(f, dict) else f
        example = DEPLOY / (f + ".example")
        file_env.update(env_file(example if example.exists() else DEPLOY / f))
    env = svc.get("environment", {})
    if isinstance(env, list):
        env = dict(e.split("=", 1) for e in env)
    layers = [env, file_env, img_env]
    paths = admin_paths()
    admin_host, admin_port = host_port(listen_addr("admin", toml_doc, layers))
    _, http_port = host_port(listen_addr("server", toml_doc, layers))
    published = {}
    for p in svc.get("ports", []):
        parts = str(p).split(":")
        published[int(parts[-1])] = parts[0] if len(parts) == 3 else "0.0.0.0"
    if http_port not in published:
        problems.append(f"the Gameball port {http_port} is not published ({sorted(published)})")
    if admin_port in published and published[admin_port] not in ("127.0.0.1", "::1"):
        problems.append(f"the admin port {admin_port} is published beyond the host's loopback")
    if admin_host in ("127.0.0.1", "localhost", "::1") and admin_port in published:
        problems.append("the admin listener is on loopback inside the container: publishing it reaches nothing")
    test = " ".join(svc.get("healthcheck", {}).get("test", []))
    if "/readyz" not in test or "/readyz" not in paths:
        problems.append(f"couponbridge healthcheck does not GET /readyz: {test}")
    m = re.search(r"/dev/tcp/[\w.]+/(\d+)", test)
    if not m or int(m.group(1)) != admin_port:
        problems.append(f"couponbridge healthcheck does not connect to the admin port {admin_port}: {test}")
    command = svc.get("command", img_cmd)
    config_path = command[command.index("--config") + 1]
    mounts = {}
    for v in svc.get("volumes", []):
        src, dst = v.split(":")[:2]
        mounts[dst] = src
    if (DEPLOY / mounts.get(config_path, "missing")).resolve() != (DEPLOY / "couponbridge.toml").resolve():
        problems.append(f"{config_path} is not deploy/couponbridge.toml ({mounts})")
    drain = drain_seconds(toml_doc, layers)
    grace = duration(svc.get("stop_grace_period", "10s"))
    if not grace > drain:
        problems.append(f"stop_grace_period {grace:g} s is not above shutdown_delay + shutdown_grace = {drain:g} s")

    # Redis: persistent, never evicting, and the one the store URL names.
    cmd = redis.get("command", [])
    cmd = cmd.split() if isinstance(cmd, str) else [str(x) for x in cmd]
    flags = dict(zip(cmd[1::2], cmd[2::2])) if cmd[:1] == ["redis-server"] else {}
    for flag, want in (("--appendonly", "yes"), ("--appendfsync", "everysec")):
        if flags.get(flag) != want:
            problems.append(f"redis: {flag} is {flags.get(flag)!r}, want {want!r}")
    if flags.get("--maxmemory-policy", "noeviction") != "noeviction":
        problems.append("redis: an evicting maxmemory-policy loses locks")
    if not str(redis.get("image", "")).startswith("redis:7"):
        problems.append(f"redis image {redis.get('image')} is not redis:7")
    if not any(v.split(":")[1] == "/data" for v in redis.get("volumes", [])):
        problems.append("redis: /data (the append-only file) is not on a volume")
    url = effective(["store", "url"], toml_doc, layers) or ""
    host = re.sub(r"^\w+(\+\w+)?://(?:[^@/]*@)?", "", url).split(":")[0].split("/")[0]
    if host not in doc["services"]:
        problems.append(f"store url {url!r} does not name a compose service")
    if svc.get("depends_on", {}).get("redis", {}).get("condition") != "service_healthy":
        problems.append("couponbridge does not wait for a healthy redis")
    return problems


def check_config_keys():
    """Every key of the deploy TOML and every COUPONBRIDGE_* variable is one couponbridge reads."""
    structs, ops = raw_config_structs(), operation_names()
    problems = []
    toml_doc = deploy_toml()
    for path in toml_paths(toml_doc):
        p = config_key_problem(list(path), structs, ops)
        if p:
            problems.append(f"couponbridge.toml: {p}")
    dep = k8s("Deployment")
    (c,) = dep["spec"]["template"]["spec"]["containers"]
    sources = {
        "couponbridge.env.example": env_file(DEPLOY / "couponbridge.env.example"),
        "kubernetes/secret.example.yaml": secret_template(),
        "kubernetes/deployment.yaml env": container_env(c),
        "compose.yaml environment": compose()["services"]["couponbridge"].get("environment", {}) or {},
        "Dockerfile ENV": {k: v for k, v in dockerfile()[0].items() if k.startswith("COUPONBRIDGE_")},
    }
    tenants = set(toml_doc.get("tenants", {}))
    for where, env in sources.items():
        for name in env:
            if not name.startswith("COUPONBRIDGE_"):
                problems.append(f"{where}: {name} is not a COUPONBRIDGE_ variable")
                continue
            path = env_key_path(name)
            p = config_key_problem(path, structs, ops)
            if p:
                problems.append(f"{where}: {name}: {p}")
            if path[0] == "tenants" and path[1] not in tenants:
                problems.append(f"{where}: {name} names tenant {path[1]!r}, not in couponbridge.toml")
    # Secrets come from the environment, in both deployments, for every tenant.
    for where in ("couponbridge.env.example", "kubernetes/secret.example.yaml"):
        env = sources[where]
        want = ["COUPONBRIDGE_STORE__URL"]
        for t, conf in toml_doc.get("tenants", {}).items():
            if "secret_key" in conf or "app_token" in conf.get("voucherify", {}):
                problems.append(f"couponbridge.toml: tenant {t} has a secret in the file")
            want += [f"COUPONBRIDGE_TENANTS__{t.upper()}__SECRET_KEY",
                     f"COUPONBRIDGE_TENANTS__{t.upper()}__VOUCHERIFY__APP_TOKEN"]
        problems += [f"{where}: {w} missing" for w in want if w not in env]
    return problems


def check_dashboard(d):
    problems = []
    if not 36 <= d.get("schemaVersion", 0) <= 41:
        problems.append(f"schemaVersion {d.get('schemaVersion')}")
    inputs = {i["name"]: i for i in d.get("__inputs", [])}
    if inputs.get("DS_PROMETHEUS", {}).get("pluginId") != "prometheus":
        problems.append("no DS_PROMETHEUS datasource input")
    ds = {"type": "prometheus", "uid": "${DS_PROMETHEUS}"}
    ids, boxes = set(), []
    for p in dashboard_panels(d):
        if p["id"] in ids:
            problems.append(f"panel id {p['id']} twice")
        ids.add(p["id"])
        g = p["gridPos"]
        if g["x"] + g["w"] > 24:
            problems.append(f"panel {p['title']!r} wider than the grid")
        for (t, b) in boxes:
            if g["x"] < b["x"] + b["w"] and b["x"] < g["x"] + g["w"] and g["y"] < b["y"] + b["h"] and b["y"] < g["y"] + g["h"]:
                problems.append(f"panels {t!r} and {p['title']!r} overlap")
        boxes.append((p["title"], g))
        if p["type"] == "row":
            continue
        if p.get("datasource") != ds:
            problems.append(f"panel {p['title']!r}: datasource is not ${{DS_PROMETHEUS}}")
        if not p.get("targets"):
            problems.append(f"panel {p['title']!r}: no query")
        for t in p.get("targets", []):
            if t.get("datasource") != ds or not t.get("expr"):
                problems.append(f"panel {p['title']!r}: query {t.get('refId')} has no expr or another datasource")
    for v in d["templating"]["list"]:
        if v.get("type") == "query" and v.get("datasource") != ds:
            problems.append(f"variable {v['name']}: datasource is not ${{DS_PROMETHEUS}}")
    return problems


# ---------------------------------------------------------------------------
# Tests
# ---------------------------------------------------------------------------


class SourceParsing(unittest.TestCase):
    """The readers of couponbridge's sources find what docs/metrics.md documents."""

    def test_metrics_match_the_unit_test_and_the_metrics_page(self):
        prefix, exported = exported_metrics()
        text = read("src/metrics.rs")
        tests = text[text.index("#[cfg(test)]"):]
        rendered = set(re.findall(rf"{prefix}_\w+", tests))
        self.assertTrue(rendered)
        self.assertLessEqual(rendered, set(exported), "names metrics.rs's own test renders")
        page = set(re.findall(rf"`({prefix}_\w+)`", read("docs/metrics.md")))
        families = {re.sub(r"_(bucket|sum|count)$", "", n) for n in exported}
        self.assertEqual(page, families, "docs/metrics.md and src/metrics.rs")
        self.assertEqual(exported[f"{prefix}_requests_total"], {"route", "status"})
        self.assertIn("le", exported[f"{prefix}_request_duration_seconds_bucket"])

    def test_admin_paths_and_defaults(self):
        self.assertEqual(admin_paths(), {"/livez", "/readyz", "/metrics", "/rollout"})
        self.assertEqual(set(listen_defaults()), {"server.listen", "admin.listen"})
        self.assertEqual(set(shutdown_defaults()), {"shutdown_delay", "shutdown_grace"})

    def test_voucherify_error_outcomes_are_not_numbers(self):
        # The rules and dashboard count outcome!~"[0-9]+" as errors: an
        # answer's outcome is its HTTP status, a failure's its kind.
        kinds = upstream_error_kinds()
        self.assertTrue(kinds)
        self.assertFalse([k for k in kinds if re.fullmatch(r"[0-9]+", k)])
        text = read("src/voucherify/client/transport.rs")
        self.assertRegex(text, r"Ok\(a\) => a\.status\.as_str\(\)\.to_owned\(\)")
        self.assertRegex(text, r"Err\(e\) => e\.kind_label\(\)\.to_owned\(\)")


class MetricsInRulesAndDashboard(unittest.TestCase):
    """(a) every metric named is one couponbridge exports."""

    def test_names_are_exported(self):
        self.assertEqual(check_metric_names(all_exprs()), [])

    def test_labels_exist(self):
        self.assertEqual(check_metric_labels(all_exprs()), [])

    def test_every_family_is_used(self):
        prefix, exported = exported_metrics()
        used = set().union(*(metric_tokens(t, prefix) for _, t in all_exprs()))
        families = {re.sub(r"_(bucket|sum|count)$", "", n) for n in exported}
        used_families = {re.sub(r"_(bucket|sum|count)$", "", n) for n in used}
        self.assertEqual(families - used_families, set(), "metrics on no panel and in no rule")

    def test_dashboard_structure(self):
        self.assertEqual(check_dashboard(dashboard()), [])

    def test_dashboard_covers_the_issue(self):
        titles = " | ".join(p["title"].lower() for p in dashboard_panels())
        for want in ("request rate", "error ratio", "latency p50 / p99 by route", "voucherify latency",
                     "voucherify calls by outcome", "lock-store call latency", "locks created", "recording"):
            self.assertIn(want, titles)

    def test_dashboard_queries_parse(self):
        promtool = shutil.which("promtool")
        if not promtool:
            self.skipTest("promtool not installed (deploy/check.sh installs it)")
        exprs, _ = dashboard_exprs()
        rules = {"groups": [{"name": "dashboard", "rules": [
            {"record": f"dashboard:query_{i}", "expr": grafana_to_promql(e)} for i, e in enumerate(exprs)]}]}
        with tempfile.NamedTemporaryFile("w", suffix=".yaml") as f:
            yaml.safe_dump(rules, f)
            f.flush()
            r = subprocess.run([promtool, "check", "rules", f.name], capture_output=True, text=True)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)

    def test_alerts_the_issue_asks_for(self):
        alerts = {r["alert"]: r for doc in rule_docs().values() for g in doc["groups"] for r in g["rules"] if "alert" in r}
        self.assertIn("job:couponbridge_voucherify_errors:ratio_rate5m", alerts["CouponbridgeVoucherifyErrorRatioHigh"]["expr"])
        self.assertRegex(alerts["CouponbridgeLatencyP99AboveSLO"]["expr"], r"> 0\.5$")
        self.assertIn('up{job="couponbridge"}', alerts["CouponbridgeDown"]["expr"])
        self.assertIn("recording_dropped_entries_total", alerts["CouponbridgeRecordingDroppingEntries"]["expr"])
        for name, r in alerts.items():
            self.assertIn(r["labels"]["severity"], ("warning", "critical"), name)
            self.assertIn("summary", r["annotations"], name)


class Manifests(unittest.TestCase):
    """(b) paths and ports, (c) grace period, and the rest of the wiring."""

    def test_kubernetes(self):
        self.assertEqual(check_k8s(k8s_objects()), [])

    def test_compose(self):
        self.assertEqual(check_compose(compose()), [])

    def test_configmap_is_the_deploy_config(self):
        self.assertEqual(k8s("ConfigMap")["data"]["couponbridge.toml"], (DEPLOY / "couponbridge.toml").read_text())

    def test_config_keys_and_environment(self):
        self.assertEqual(check_config_keys(), [])

    def test_kustomization_lists_the_manifests(self):
        k = yaml.safe_load((K8S / "kustomization.yaml").read_text())
        files = {p.name for p in K8S.glob("*.yaml")} - {"kustomization.yaml", "secret.example.yaml"}
        self.assertEqual(set(k["resources"]), files)
        self.assertNotIn("secret.example.yaml", k["resources"], "placeholders would overwrite the real Secret")


class ChecksCatchMistakes(unittest.TestCase):
    """The checks above fail on broken input."""

    def test_unknown_metric(self):
        p = check_metric_names([("x", "rate(couponbridge_shadow_matches_total[5m])"),
                                ("y", "couponbridge_config_reloaded_total"),
                                ("z", "job:couponbridge_nothing:rate5m > 1")])
        self.assertEqual(len(p), 3, p)
        self.assertEqual(check_metric_names([("ok", "rate(couponbridge_locks_total[5m])")]), [])

    def test_unknown_label(self):
        p = check_metric_labels([("x", 'sum by (tenant) (rate(couponbridge_requests_total{op="x"}[5m]))'),
                                 ("y", 'couponbridge_requests_total{route="validat"}')])
        self.assertEqual(len(p), 3, p)

    def test_wrong_probe_port_path_and_grace(self):
        objs = k8s_objects()
        for mutate, expect in (
            (lambda c, pod: c["readinessProbe"]["httpGet"].update(path="/ready"), "readinessProbe: path"),
            (lambda c, pod: c["livenessProbe"]["httpGet"].update(port="http"), "livenessProbe: port"),
            (lambda c, pod: pod.update(terminationGracePeriodSeconds=20), "terminationGracePeriodSeconds"),
            (lambda c, pod: next(e for e in c["env"] if e["name"] == "COUPONBRIDGE_ADMIN__LISTEN").update(value="127.0.0.1:9901"),
             "admin listener on 127.0.0.1"),
            (lambda c, pod: c["env"].insert(0, {"name": "COUPONBRIDGE_SERVER__SHUTDOWN_GRACE", "value": "40s"}), "terminationGracePeriodSeconds"),
        ):
            broken = copy.deepcopy(objs)
            dep = next(d for (k, _), (_, d) in broken.items() if k == "Deployment")
            pod = dep["spec"]["template"]["spec"]
            mutate(pod["containers"][0], pod)
            problems = check_k8s(broken)
            self.assertTrue(any(expect in p for p in problems), (expect, problems))

    def test_grace_follows_the_configmap(self):
        objs = copy.deepcopy(k8s_objects())
        cm = next(d for (k, _), (_, d) in objs.items() if k == "ConfigMap")
        cm["data"]["couponbridge.toml"] = cm["data"]["couponbridge.toml"].replace('shutdown_grace = "15s"', 'shutdown_grace = "1m"')
        self.assertTrue(any("terminationGracePeriodSeconds" in p for p in check_k8s(objs)))

    def test_compose_mistakes(self):
        for mutate, expect in (
            (lambda d: d["services"]["redis"].update(command=["redis-server"]), "--appendonly"),
            (lambda d: d["services"]["couponbridge"].update(stop_grace_period="10s"), "stop_grace_period"),
            (lambda d: d["services"]["couponbridge"]["healthcheck"].update(test=["CMD", "true"]), "/readyz"),
            (lambda d: d["services"]["couponbridge"].update(ports=["8080:8080", "9901:9901"]), "beyond"),
        ):
            broken = copy.deepcopy(compose())
            mutate(broken)
            problems = check_compose(broken)
            self.assertTrue(any(expect in p for p in problems), (expect, problems))

    def test_unknown_config_keys(self):
        structs, ops = raw_config_structs(), operation_names()
        self.assertIsNone(config_key_problem(["tenants", "shop", "voucherify", "app_token"], structs, ops))
        self.assertIsNone(config_key_problem(["routes", "burn"], structs, ops))
        self.assertIsNotNone(config_key_problem(["tenants", "shop", "voucherify", "apptoken"], structs, ops))
        self.assertIsNotNone(config_key_problem(["routes", "bern"], structs, ops))
        self.assertIsNotNone(config_key_problem(["server", "shutdown_delay", "x"], structs, ops))
        self.assertIsNone(config_key_problem(["telemetry", "otlp_endpoint"], structs, ops))
        self.assertIsNotNone(config_key_problem(["telemetry", "otlp_endpont"], structs, ops))

    def test_durations(self):
        self.assertEqual(duration("15s"), 15)
        self.assertEqual(duration("1m 30s"), 90)
        self.assertEqual(duration("1m30s"), 90)
        self.assertEqual(duration("500ms"), 0.5)
        self.assertRaises(ValueError, duration, "15")


if __name__ == "__main__":
    sys.exit(unittest.main(verbosity=2))
