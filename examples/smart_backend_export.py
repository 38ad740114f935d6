#!/usr/bin/env python3
"""A bulk export with SMART Backend Services authentication, start to finish.

What an ACO's engineer (or any FHIR Bulk Data client) does against bcda-rs
without a client secret:

  1. make a key pair (RS384 or ES384) and register its public half as a JWKS
     (`bcda credentials create --cms-id ... --jwks FILE`, the administrator's
     step; this script runs it for the sandbox);
  2. read the server's SMART configuration for the token endpoint;
  3. sign a short-lived client assertion (JWT) and trade it for an access
     token at /auth/token (grant_type=client_credentials);
  4. kick off a Group/all export, poll it (honouring Retry-After, showing
     X-Progress), asking for a new token whenever one is refused;
  5. download every file of the manifest and check its line count and
     SHA-256 against the manifest.

Needs only Python 3.10+ (standard library) and the `openssl` command. Against
the sandbox (`cargo run -q -- sandbox` in another terminal, from the
repository root):

    python3 examples/smart_backend_export.py

Options: --server URL (default http://127.0.0.1:3000), --api v1|v2|v3,
--cms-id (default A9994), --alg RS384|ES384, --keys DIR (where the key pair
and the registered client id are kept; reused on later runs), --out DIR,
--type (comma list), --bcda "COMMAND" (how to run the admin CLI; default
`cargo run -q --`), --data-dir DIR (the sandbox's, default ./bcda-data).
"""

import argparse
import base64
import gzip
import hashlib
import json
import os
import shlex
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from pathlib import Path

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
CHECKSUM_EXTENSION = "https://bcda-rs.github.io/fhir/StructureDefinition/checksum"


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def openssl(*args: str, data: bytes | None = None) -> bytes:
    try:
        return subprocess.run(
            ["openssl", *args], input=data, capture_output=True, check=True
        ).stdout
    except FileNotFoundError:
        sys.exit("error: the `openssl` command is needed to make and use the key pair")
    except subprocess.CalledProcessError as e:
        sys.exit(f"error: openssl {args[0]} failed: {e.stderr.decode().strip()}")


# --- the key pair and its JWKS ------------------------------------------------


def der_length(data: bytes, at: int) -> tuple[int, int]:
    """A DER length at `at`: (length, offset of the content)."""
    first = data[at]
    if first < 0x80:
        return first, at + 1
    count = first & 0x7F
    return int.from_bytes(data[at + 1 : at + 1 + count], "big"), at + 1 + count


def public_jwk(key_pem: Path, alg: str) -> dict:
    """The public JWK of a PEM private key, with its RFC 7638 thumbprint as kid."""
    if alg == "RS384":
        modulus = openssl("rsa", "-in", str(key_pem), "-noout", "-modulus").decode()
        n = bytes.fromhex(modulus.strip().split("=", 1)[1])
        members = {"e": "AQAB", "kty": "RSA", "n": b64url(n)}
    else:
        spki = openssl("pkey", "-in", str(key_pem), "-pubout", "-outform", "DER")
        point = spki[-97:]  # 0x04 || x || y for P-384
        if point[0] != 0x04:
            sys.exit("error: unexpected EC public key encoding")
        members = {"crv": "P-384", "kty": "EC", "x": b64url(point[1:49]), "y": b64url(point[49:])}
    thumbprint = hashlib.sha256(
        json.dumps(members, separators=(",", ":"), sort_keys=True).encode()
    ).digest()
    return {**members, "kid": b64url(thumbprint), "alg": alg, "use": "sig"}


def make_key_pair(keys: Path, alg: str) -> dict:
    keys.mkdir(parents=True, exist_ok=True)
    key_pem = keys / "private-key.pem"
    if alg == "RS384":
        openssl("genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", str(key_pem))
    else:
        openssl("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-384", "-out", str(key_pem))
    os.chmod(key_pem, 0o600)
    jwk = public_jwk(key_pem, alg)
    (keys / "public-jwks.json").write_text(json.dumps({"keys": [jwk]}, indent=2) + "\n")
    return jwk


def register(args, keys: Path) -> str:
    """Registers the public JWKS for the ACO with the admin CLI; the client id."""
    command = shlex.split(args.bcda) + ["credentials", "create", "--cms-id", args.cms_id,
                                        "--jwks", str(keys / "public-jwks.json"), "--json"]
    if args.data_dir:
        command += ["--data-dir", args.data_dir]
    print("registering the public key:", " ".join(command))
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"error: registering the key failed: {done.stderr.strip() or done.stdout.strip()}")
    return json.loads(done.stdout)["client_id"]


def sign(key_pem: Path, alg: str, signing_input: bytes) -> bytes:
    signature = openssl("dgst", "-sha384", "-sign", str(key_pem), data=signing_input)
    if alg == "RS384":
        return signature
    # openssl writes ECDSA signatures as DER SEQUENCE { r INTEGER, s INTEGER };
    # JWS wants r || s, each 48 bytes for P-384.
    _, at = der_length(signature, 1)
    parts = []
    for _ in range(2):
        length, start = der_length(signature, at + 1)
        parts.append(signature[start : start + length].lstrip(b"\0").rjust(48, b"\0"))
        at = start + length
    return parts[0] + parts[1]


# --- HTTP ---------------------------------------------------------------------


def request(url, method="GET", headers=None, data=None):
    """(status, headers, body) of one HTTP exchange; errors are answers too."""
    req = urllib.request.Request(url, method=method, headers=headers or {}, data=data)
    try:
        with urllib.request.urlopen(req, timeout=120) as response:
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read()
    except urllib.error.URLError as e:
        sys.exit(f"error: cannot reach {url}: {e.reason} (is the server running?)")


def explain(status, body: bytes) -> str:
    try:
        doc = json.loads(body)
    except ValueError:
        return f"HTTP {status}"
    if "error" in doc:  # OAuth 2.0 error
        return f"HTTP {status} {doc['error']}: {doc.get('error_description', '')}"
    issues = doc.get("issue") or [{}]
    text = issues[0].get("diagnostics") or issues[0].get("details", {}).get("text", "")
    return f"HTTP {status}: {text}"


class Client:
    """Holds the token and gets a new one when it is refused or about to expire."""

    def __init__(self, args, keys: Path, client_id: str, jwk: dict):
        self.args, self.keys, self.client_id, self.jwk = args, keys, client_id, jwk
        self.base = f"{args.server.rstrip('/')}/api/{args.api}"
        status, _, body = request(f"{self.base}/.well-known/smart-configuration",
                                  headers={"Accept": "application/json"})
        if status != 200:
            sys.exit(f"error: no SMART configuration at {self.base}: {explain(status, body)}")
        self.config = json.loads(body)
        self.token, self.expires = None, 0.0

    def assertion(self) -> str:
        header = {"alg": self.jwk["alg"], "kid": self.jwk["kid"], "typ": "JWT"}
        claims = {
            "iss": self.client_id,
            "sub": self.client_id,
            "aud": self.config["token_endpoint"],
            "exp": int(time.time()) + 240,  # the IG allows at most five minutes
            "jti": str(uuid.uuid4()),
        }
        signing_input = ".".join(
            b64url(json.dumps(part, separators=(",", ":")).encode()) for part in (header, claims)
        ).encode()
        signature = sign(self.keys / "private-key.pem", self.jwk["alg"], signing_input)
        return signing_input.decode() + "." + b64url(signature)

    def authorize(self):
        form = urllib.parse.urlencode({
            "grant_type": "client_credentials",
            "scope": self.args.scope,
            "client_assertion_type": ASSERTION_TYPE,
            "client_assertion": self.assertion(),
        }).encode()
        status, _, body = request(self.config["token_endpoint"], "POST", data=form, headers={
            "Content-Type": "application/x-www-form-urlencoded", "Accept": "application/json"})
        if status != 200:
            sys.exit(f"error: no access token: {explain(status, body)}")
        answer = json.loads(body)
        self.token = answer["access_token"]
        self.expires = time.time() + int(answer["expires_in"])
        print(f"access token for {answer['expires_in']} s, scope: {answer.get('scope', '')}")

    def call(self, url, method="GET", headers=None):
        """An authenticated request; a refused or nearly expired token is renewed once."""
        for attempt in range(2):
            if self.token is None or time.time() > self.expires - 30:
                self.authorize()
            status, response_headers, body = request(
                url, method, {**(headers or {}), "Authorization": f"Bearer {self.token}"})
            if status != 401 or attempt == 1:
                return status, response_headers, body
            self.token = None
        raise AssertionError("unreachable")


# --- the export ---------------------------------------------------------------


def export(client: Client, out: Path, types: str | None):
    url = f"{client.base}/Group/all/$export"
    if types:
        url += "?" + urllib.parse.urlencode({"_type": types})
    status, headers, body = client.call(url, headers={
        "Accept": "application/fhir+json", "Prefer": "respond-async"})
    if status != 202:
        sys.exit(f"error: the export was not started: {explain(status, body)}")
    status_url = headers["Content-Location"]
    print("export started:", status_url)
    started = time.time()
    while True:
        status, headers, body = client.call(status_url, headers={"Accept": "application/json"})
        if status == 200:
            break
        if status != 202:
            sys.exit(f"error: the export failed: {explain(status, body)}")
        wait = int(headers.get("Retry-After", "5") or 5)
        print(f"  {headers.get('X-Progress', 'waiting')} ({time.time() - started:.0f} s)")
        time.sleep(max(1, min(wait, 60)))
    manifest = json.loads(body)
    out.mkdir(parents=True, exist_ok=True)
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    print(f"export complete in {time.time() - started:.0f} s; transactionTime {manifest['transactionTime']}")
    problems = 0
    for entry in manifest["output"] + manifest["error"]:
        problems += download(client, entry, out)
    print(f"{len(manifest['output'])} output and {len(manifest['error'])} error files in {out}")
    if problems:
        sys.exit(f"error: {problems} file(s) did not match the manifest")


def download(client: Client, entry: dict, out: Path) -> int:
    name = entry["url"].rsplit("/", 1)[1]
    status, headers, body = client.call(entry["url"], headers={
        "Accept": "application/fhir+ndjson", "Accept-Encoding": "gzip"})
    if status != 200:
        print(f"  {name}: {explain(status, body)}")
        return 1
    if headers.get("Content-Encoding") == "gzip":
        body = gzip.decompress(body)
    (out / name).write_bytes(body)
    lines = body.count(b"\n")
    expected_sha = next((e["valueString"] for e in entry.get("extension", [])
                         if e.get("url") == CHECKSUM_EXTENSION), None)
    actual_sha = "sha256:" + hashlib.sha256(body).hexdigest()
    ok = entry.get("count", lines) == lines and expected_sha in (None, actual_sha)
    print(f"  {name}: {entry['type']}, {lines} resources, {len(body):,} bytes, "
          f"{'verified' if ok else 'DOES NOT MATCH the manifest'}")
    return 0 if ok else 1


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--server", default="http://127.0.0.1:3000")
    parser.add_argument("--api", default="v2", choices=["v1", "v2", "v3"])
    parser.add_argument("--cms-id", default="A9994")
    parser.add_argument("--alg", default="RS384", choices=["RS384", "ES384"])
    parser.add_argument("--scope", default="system/*.read")
    parser.add_argument("--type", help="resource types, comma-separated (default: all allowed)")
    parser.add_argument("--keys", help="key pair directory (default: smart-client-<CMS ID>-<alg>)")
    parser.add_argument("--out", default="smart-export")
    parser.add_argument("--bcda", default="cargo run -q --", help="how to run the bcda admin CLI")
    parser.add_argument("--data-dir", default="bcda-data", help="the server's data directory")
    args = parser.parse_args()

    keys = Path(args.keys or f"smart-client-{args.cms_id}-{args.alg}")
    client_file = keys / "client.json"
    if client_file.exists():
        saved = json.loads(client_file.read_text())
        client_id, jwk = saved["client_id"], saved["jwk"]
        print(f"using the key pair in {keys} (client id {client_id})")
    else:
        jwk = make_key_pair(keys, args.alg)
        client_id = register(args, keys)
        client_file.write_text(json.dumps({"client_id": client_id, "jwk": jwk}, indent=2) + "\n")
        print(f"registered key {jwk['kid']} as client {client_id}; kept in {keys}")
    export(Client(args, keys, client_id, jwk), Path(args.out), args.type)


if __name__ == "__main__":
    main()
