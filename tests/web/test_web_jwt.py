"""JSON Web Tokens signed with the site's key (``corral web --jwt-key``), as Slurm's
auth/jwt: the signature, the expiry and the algorithm decide, never what the token says."""

import base64
import hashlib
import hmac
import json
import subprocess
import sys
import time

from web_helpers import request

from support import guest_user

KEY = b"k" * 32


def part(obj) -> str:
    return base64.urlsafe_b64encode(json.dumps(obj).encode()).rstrip(b"=").decode()


def token(claims, key=KEY, header=None) -> str:
    head = part(header or {"alg": "HS256", "typ": "JWT"})
    body = part(claims)
    signature = hmac.new(key, f"{head}.{body}".encode(), hashlib.sha256).digest()
    return f"{head}.{body}." + base64.urlsafe_b64encode(signature).rstrip(b"=").decode()


def key_file(directory, mode=0o600):
    path = directory / "jwt_hs256.key"
    path.write_bytes(KEY)
    path.chmod(mode)
    return str(path)


def test_a_signed_token_acts_as_its_user_and_nothing_else_passes(guest_instance, make_web,
                                                                  tmp_path):
    inst = guest_instance()
    web = make_web(inst, "--jwt-key", key_file(tmp_path))
    guest = guest_user()
    later = time.time() + 600

    def whoami(presented):
        return request(web.url, "GET", "/api/v1/whoami", token=presented)

    assert whoami(token({"sun": guest.pw_name, "exp": later})) == \
        (200, {"userid": guest.pw_uid, "owner": False})
    assert whoami(token({"uid": guest.pw_uid, "exp": later}))[1]["userid"] == guest.pw_uid
    refusals = {
        "the token has expired": token({"sun": guest.pw_name, "exp": time.time() - 1}),
        "the token has no expiry ('exp')": token({"sun": guest.pw_name}),
        "the token's signature does not match the site's key":
            token({"sun": "root", "exp": later}, key=b"x" * 32),
        "only HS256 tokens are accepted":
            token({"sun": "root", "exp": later}, header={"alg": "none"}),
        "the token's user 'nobody-here' is unknown here":
            token({"sun": "nobody-here", "exp": later}),
        "malformed token": "a.b.c",
    }
    for reason, presented in refusals.items():
        assert whoami(presented) == (401, {"error": reason})


def test_a_key_others_can_read_is_refused(instance, tmp_path):
    path = key_file(tmp_path, 0o644)
    result = subprocess.run([sys.executable, "-m", "corral", "web", "--listen", "127.0.0.1:0",
                             "--jwt-key", path], env=instance.env(), capture_output=True,
                            text=True, timeout=60)
    assert (result.returncode, result.stderr) == (
        1, f"corral web: --jwt-key {path}: others may read it (mode 644; make it 0600)\n")
