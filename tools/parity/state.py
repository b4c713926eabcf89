#!/usr/bin/env python3
"""Helpers for tools/parity/parity.sh: seed and capture the local stack's state
without kubectl and without iammap, so neither tool under comparison judges
itself.

  state.py seed-awsauth FILE   create kube-system/aws-auth with FILE's data (YAML map of key -> text)
  state.py capture OUT         write the stack's state as normalised JSON to OUT
  state.py json-rows FILE      print FILE's JSON/YAML output rows keeping only eksctl's keys, sorted
  state.py cfn-stub PORTFILE   serve a CloudFormation endpoint that knows no stacks (see docs/parity.md)

The kube-apiserver is reached through $KUBECONFIG (the stack's admin token);
EKS through the AWS CLI with $AWS_ENDPOINT_URL_EKS.
"""
import base64
import http.server
import json
import os
import ssl
import subprocess
import sys
import tempfile
import urllib.error
import urllib.parse
import urllib.request

import yaml


def kube():
    with open(os.environ["KUBECONFIG"]) as f:
        cfg = yaml.safe_load(f)
    ctx_name = cfg.get("current-context")
    ctx = next(c["context"] for c in cfg["contexts"] if c["name"] == ctx_name)
    cluster = next(c["cluster"] for c in cfg["clusters"] if c["name"] == ctx["cluster"])
    user = next(u["user"] for u in cfg["users"] if u["name"] == ctx["user"])
    sslctx = ssl.create_default_context()
    if "certificate-authority-data" in cluster:
        sslctx.load_verify_locations(cadata=base64.b64decode(cluster["certificate-authority-data"]).decode())
    elif "certificate-authority" in cluster:
        sslctx.load_verify_locations(cafile=cluster["certificate-authority"])
    return cluster["server"].rstrip("/"), user["token"], sslctx


def request(method, path, body=None):
    server, token, sslctx = kube()
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(server + path, data=data, method=method)
    req.add_header("Authorization", "Bearer " + token)
    req.add_header("Accept", "application/json")
    if data is not None:
        req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, context=sslctx) as r:
            return r.status, json.load(r)
    except urllib.error.HTTPError as e:
        return e.code, None


def parse_key(text):
    """A key of aws-auth as aws-iam-authenticator reads it: YAML into a list."""
    try:
        v = yaml.safe_load(text)
    except yaml.YAMLError as e:
        return {"unparsable": str(e).splitlines()[0]}
    return v if v is not None else []


def awsauth():
    status, cm = request("GET", "/api/v1/namespaces/kube-system/configmaps/aws-auth")
    if status == 404:
        return None
    data = (cm or {}).get("data") or {}
    return {k: parse_key(v) for k, v in sorted(data.items())}


def awsauth_raw():
    status, cm = request("GET", "/api/v1/namespaces/kube-system/configmaps/aws-auth")
    if status == 404:
        return None
    return (cm or {}).get("data") or {}


def rbac():
    """Roles and RoleBindings that are not the API server's own (EMR on EKS)."""
    out = {}
    for kind, path in (("roles", "/apis/rbac.authorization.k8s.io/v1/roles"),
                       ("rolebindings", "/apis/rbac.authorization.k8s.io/v1/rolebindings")):
        _, lst = request("GET", path)
        items = []
        for it in (lst or {}).get("items", []):
            md = it["metadata"]
            if md["namespace"] == "kube-system" or md["name"].startswith("system:"):
                continue
            row = {"namespace": md["namespace"], "name": md["name"]}
            for k in ("rules", "subjects", "roleRef"):
                if k in it:
                    row[k] = it[k]
            items.append(row)
        out[kind] = sorted(items, key=lambda r: (r["namespace"], r["name"]))
    return out


def aws(*args):
    cmd = ["aws", "eks", *args, "--endpoint-url", os.environ["AWS_ENDPOINT_URL_EKS"], "--output", "json"]
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        return {"error": r.stderr.strip()}
    return json.loads(r.stdout or "{}")


def access_entries():
    cluster = os.environ["IAMMAP_CLUSTER"]
    lst = aws("list-access-entries", "--cluster-name", cluster)
    if "error" in lst:
        return lst
    out = []
    for arn in sorted(lst.get("accessEntries", [])):
        e = aws("describe-access-entry", "--cluster-name", cluster, "--principal-arn", arn).get("accessEntry", {})
        pol = aws("list-associated-access-policies", "--cluster-name", cluster, "--principal-arn", arn)
        out.append({
            "principalArn": e.get("principalArn"),
            "type": e.get("type"),
            "username": e.get("username"),
            "kubernetesGroups": sorted(e.get("kubernetesGroups", [])),
            "tags": e.get("tags", {}),
            "policies": sorted(
                ({"policyArn": p.get("policyArn"), "accessScope": p.get("accessScope")}
                 for p in pol.get("associatedAccessPolicies", [])),
                key=lambda p: p["policyArn"]),
        })
    return out


def auth_mode():
    d = aws("describe-cluster", "--name", os.environ["IAMMAP_CLUSTER"])
    return d.get("cluster", {}).get("accessConfig", {}).get("authenticationMode", d.get("error"))


def capture(out):
    state = {
        "authenticationMode": auth_mode(),
        "awsAuth": awsauth(),
        "accessEntries": access_entries(),
        "rbac": rbac(),
    }
    with open(out, "w") as f:
        json.dump(state, f, indent=2, sort_keys=True)
        f.write("\n")
    with open(out + ".raw-aws-auth.yaml", "w") as f:
        yaml.safe_dump(awsauth_raw(), f, default_flow_style=False, width=1000)


def seed_awsauth(path):
    with open(path) as f:
        data = yaml.safe_load(f)
    body = {"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "aws-auth", "namespace": "kube-system"},
            "data": {k: v for k, v in data.items()}}
    status, _ = request("POST", "/api/v1/namespaces/kube-system/configmaps", body)
    if status not in (200, 201):
        sys.exit("seed-awsauth: POST aws-auth: HTTP %d" % status)


# The keys eksctl's `get iamidentitymapping -o json` and `get accessentry -o
# json` print per row.
EKSCTL_KEYS = ("rolearn", "userarn", "account", "username", "groups",
               "principalARN", "kubernetesGroups", "accessPolicies")


def json_rows(path):
    with open(path) as f:
        text = f.read()
    try:
        rows = yaml.safe_load(text)
    except yaml.YAMLError:
        print("not JSON/YAML")
        return
    if not isinstance(rows, list):
        print(json.dumps(rows, sort_keys=True))
        return
    kept = []
    for r in rows:
        if isinstance(r, dict):
            kept.append({k: r[k] for k in EKSCTL_KEYS if k in r and r[k] not in (None, "", [])})
        else:
            kept.append(r)
    print(json.dumps(kept, indent=2, sort_keys=True))


class CFN(http.server.BaseHTTPRequestHandler):
    """CloudFormation's query protocol, answering as for an account with no
    stacks: ListStacks and DescribeStacks (no StackName) list nothing,
    DescribeStacks with a StackName says it does not exist, and any other
    action (CreateStack, ...) is refused, so no eksctl write goes through a
    stack that is not there. Every request is logged to stderr."""

    NS = "http://cloudformation.amazonaws.com/doc/2010-05-15/"

    def do_POST(self):
        n = int(self.headers.get("Content-Length") or 0)
        form = urllib.parse.parse_qs(self.rfile.read(n).decode())
        action = form.get("Action", [""])[0]
        sys.stderr.write("cfn-stub: %s %s\n" % (action, json.dumps({k: v[0] for k, v in form.items() if k not in ("Action", "Version")})))
        sys.stderr.flush()
        if action == "ListStacks":
            self.reply(200, "<ListStacksResponse xmlns=\"%s\"><ListStacksResult><StackSummaries/></ListStacksResult>"
                       "<ResponseMetadata><RequestId>parity</RequestId></ResponseMetadata></ListStacksResponse>" % self.NS)
        elif action == "DescribeStacks" and "StackName" not in form:
            self.reply(200, "<DescribeStacksResponse xmlns=\"%s\"><DescribeStacksResult><Stacks/></DescribeStacksResult>"
                       "<ResponseMetadata><RequestId>parity</RequestId></ResponseMetadata></DescribeStacksResponse>" % self.NS)
        elif action == "DescribeStacks":
            self.error(400, "ValidationError", "Stack with id %s does not exist" % form["StackName"][0])
        else:
            self.error(400, "InvalidAction", "parity's CloudFormation stub does not emulate %s" % action)

    def error(self, code, kind, msg):
        self.reply(code, "<ErrorResponse xmlns=\"%s\"><Error><Type>Sender</Type><Code>%s</Code><Message>%s</Message></Error>"
                   "<RequestId>parity</RequestId></ErrorResponse>" % (self.NS, kind, msg))

    def reply(self, code, body):
        b = body.encode()
        self.send_response(code)
        self.send_header("Content-Type", "text/xml")
        self.send_header("Content-Length", str(len(b)))
        self.end_headers()
        self.wfile.write(b)

    def log_message(self, *a):
        pass


def cfn_stub(portfile):
    srv = http.server.HTTPServer(("127.0.0.1", 0), CFN)
    with tempfile.NamedTemporaryFile("w", dir=os.path.dirname(portfile) or ".", delete=False) as f:
        f.write(str(srv.server_address[1]))
    os.replace(f.name, portfile)
    srv.serve_forever()


if __name__ == "__main__":
    cmd, arg = sys.argv[1], sys.argv[2]
    {"seed-awsauth": seed_awsauth, "capture": capture, "json-rows": json_rows, "cfn-stub": cfn_stub}[cmd](arg)
