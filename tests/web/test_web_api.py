"""The JSON API of ``corral web``: real HTTP to a real server in front of a real instance."""

import asyncio
import errno
import os
import socket
import subprocess
import sys

from web_helpers import request

from corral import jobspec
from corral.client import RPCError
from corral.web import api, openapi, server
from corral.web.upstream import Upstream
from support import as_guest, guest_holding, guest_user, until, wait


def test_submit_show_eventlog_output_over_tcp_and_unix(instance, make_web, owner_token):
    web = make_web(instance)
    token = owner_token(instance)
    spec = jobspec.build(["sh", "-c", "echo out; echo err >&2"], cwd="/tmp")
    status, submitted = request(web.url, "POST", "/api/v1/jobs", {"jobspec": spec},
                                token=token)
    assert status == 201 and submitted["ids"] == [submitted["id"]]
    job_id = submitted["id"]
    instance.wait_inactive(job_id)

    for target, auth in ((web.url, token), (web.unix, None)):
        status, job = request(target, "GET", f"/api/v1/jobs/{job_id}", token=auth)
        assert status == 200
        assert (job["id"], job["state_name"], job["result_name"]) == \
            (job_id, "INACTIVE", "COMPLETED")
        status, log = request(target, "GET", f"/api/v1/jobs/{job_id}/eventlog", token=auth)
        assert status == 200
        with instance.client() as client:
            assert log["events"] == client.eventlog(job_id)
        status, output = request(target, "GET", f"/api/v1/jobs/{job_id}/output", token=auth)
        assert (status, output) == (200, {"stdout": "out\n", "stderr": "err\n"})


def test_eventlog_streams_as_server_sent_events_until_inactive(instance, make_web):
    web = make_web(instance)
    job_id = instance.submit("sleep", "0.5")
    status, text = request(web.unix, "GET", f"/api/v1/jobs/{job_id}/eventlog/stream")
    assert status == 200
    blocks = [block.splitlines() for block in text.strip().split("\n\n")]
    names = [lines[0].removeprefix("event: ") for lines in blocks]
    with instance.client() as client:
        committed = [event["name"] for event in client.eventlog(job_id)]
    assert names == committed + ["end"]
    assert names[0] == "submit" and "finish" in names and names[-2] == "clean"
    status, missing = request(web.unix, "GET", "/api/v1/jobs/999/eventlog/stream")
    assert (status, missing) == (404, {"error": "unknown job id 999"})


def test_listing_pages_through_jobs_in_order(instance, make_web):
    web = make_web(instance)
    instance.corral("queue", "stop")
    ids = [instance.submit("true") for _ in range(5)]
    seen, offset = [], 0
    while offset is not None:
        status, page = request(web.unix, "GET", f"/api/v1/jobs?state=pending&limit=2"
                                                f"&offset={offset}")
        assert status == 200 and len(page["jobs"]) <= 2
        seen += [job["id"] for job in page["jobs"]]
        offset = page["next_offset"]
    assert seen == ids  # equal priority: in submission order
    status, running = request(web.unix, "GET", "/api/v1/jobs?state=running")
    assert (status, running["jobs"]) == (200, [])
    for query, problem in (("limit=0", "query parameter 'limit' must be an integer from 1 "
                                       "to 10000"),
                           ("state=bogus", "query parameter 'state': invalid state 'bogus' "
                                           "in filter 'bogus'"),
                           ("user=someone", "query parameter 'user' must be 'me', 'all' or "
                                            "a uid"),
                           # a digit that is no decimal digit (int() refuses it)
                           ("user=%C2%B3", "query parameter 'user' must be 'me', 'all' or "
                                           "a uid"),
                           ("limit=%C2%B3", "query parameter 'limit' must be an integer from "
                                            "1 to 10000")):
        assert request(web.unix, "GET", f"/api/v1/jobs?{query}") == (400, {"error": problem})


def test_sbatch_style_submission_runs_in_the_given_directory_and_environment(
        instance, make_web, tmp_path):
    web = make_web(instance)
    script = "#!/bin/sh\n#SBATCH --job-name=from-web\n#SBATCH -n 1\necho \"$GREETING $PWD\"\n"
    body = {"sbatch": {"script": script, "options": ["--time=5"], "cwd": str(tmp_path),
                       "environment": {"GREETING": "hello"}}}
    status, submitted = request(web.unix, "POST", "/api/v1/jobs", body)
    assert status == 201
    instance.wait_inactive(submitted["id"])
    status, job = request(web.unix, "GET", f"/api/v1/jobs/{submitted['id']}")
    assert (job["name"], job["result_name"]) == ("from-web", "COMPLETED")
    with instance.client() as client:
        environment = client.job_info(submitted["id"], "jobspec")["jobspec"]["attributes"][
            "system"]["environment"]
    assert "PYTHONPATH" not in environment  # nothing of the web server's own environment
    output = (tmp_path / f"slurm-{submitted['id']}.out").read_text()
    assert output == f"hello {tmp_path}\n"
    for sbatch, problem in (
            ({"script": "echo hi", "cwd": "/tmp"},
             "'sbatch.script' must be a script whose first line starts with #!"),
            ({"script": "#!/bin/sh\n", "cwd": "tmp"}, "'sbatch.cwd' must be an absolute path"),
            ({"script": "#!/bin/sh\n", "cwd": "/tmp", "options": ["--nodes=zero"]},
             "sbatch: invalid --nodes argument 'zero'")):
        status, answer = request(web.unix, "POST", "/api/v1/jobs", {"sbatch": sbatch})
        assert (status, answer) == (400, {"error": problem})


def test_cancel_and_urgency(instance, make_web):
    web = make_web(instance)
    instance.corral("queue", "stop")
    job_id = instance.submit("true")
    status, updated = request(web.unix, "PATCH", f"/api/v1/jobs/{job_id}", {"urgency": 3})
    assert (status, updated) == (200, {"id": job_id, "urgency": 3, "old_urgency": 16})
    assert request(web.unix, "PATCH", f"/api/v1/jobs/{job_id}", {"urgency": 99})[0] == 400
    assert request(web.unix, "GET", f"/api/v1/jobs/{job_id}")[1]["urgency"] == 3
    status, _ = request(web.unix, "POST", f"/api/v1/jobs/{job_id}/cancel", {"message": "web"})
    assert status == 200
    instance.wait_inactive(job_id)
    status, job = request(web.unix, "GET", f"/api/v1/jobs/{job_id}")
    assert job["result_name"] == "CANCELED" and job["exception"]["note"] == "web"
    status, answer = request(web.unix, "POST", f"/api/v1/jobs/{job_id}/cancel")
    assert (status, answer) == (400, {"error": f"job {job_id} is inactive"})


def test_nodes_queues_whoami_and_utilization(make_instance, make_web):
    inst = make_instance(test_size=3)
    web = make_web(inst)
    status, nodes = request(web.unix, "GET", "/api/v1/nodes")
    assert status == 200 and [node["name"] for node in nodes["nodes"]] == \
        ["node0", "node1", "node2"]
    status, queues = request(web.unix, "GET", "/api/v1/queues")
    assert status == 200 and queues["queues"][0]["started"] is True
    assert request(web.unix, "GET", "/api/v1/whoami") == \
        (200, {"userid": os.geteuid(), "owner": True})
    samples = until(lambda: request(web.unix, "GET", "/api/v1/utilization")[1]["samples"])
    assert samples[0]["cores"] == 3 * len(os.sched_getaffinity(0))


def test_tcp_needs_a_valid_token_and_revoked_tokens_stop_working(instance, make_web,
                                                                  owner_token):
    web = make_web(instance)
    status, answer = web.get("/api/v1/jobs")
    assert status == 401 and "Authorization: Bearer TOKEN" in answer["error"]
    assert web.get("/api/v1/jobs", token="corral_guessed") == \
        (401, {"error": "unknown or revoked token"})
    token = owner_token(instance, "short-lived")
    assert web.get("/api/v1/jobs", token=token)[0] == 200
    assert web.get("/api/v1/nothing", token=token) == \
        (404, {"error": "Not Found: GET /api/v1/nothing"})
    assert request(web.url, "DELETE", "/api/v1/jobs", token=token) == \
        (405, {"error": "Method Not Allowed: DELETE /api/v1/jobs"})
    status, answer = request(web.url, "POST", "/api/v1/jobs", raw=b"[" * (5 << 20),
                             token=token)
    assert (status, answer) == (413, {"error": "Request Entity Too Large: POST /api/v1/jobs"})
    listing = instance.corral("token", "list").stdout
    token_id = next(line.split()[0] for line in listing.splitlines() if "short-lived" in line)
    instance.corral("token", "revoke", token_id)
    assert web.get("/api/v1/jobs", token=token)[0] == 401
    # The OpenAPI document and the dashboard's files are public.
    status, document = web.get("/api/v1/openapi.json")
    assert status == 200 and document["openapi"].startswith("3.")
    assert web.get("/")[0] == 200


def test_guest_acts_only_as_themselves(guest_instance, make_web):
    inst = guest_instance()
    web = make_web(inst)
    guest = guest_user()
    inst.corral("queue", "stop")
    owner_job = inst.submit("true")
    token = as_guest(inst.uri, lambda client: client.rpc("token.create", {"name": "g"}))["token"]
    spec = jobspec.build(["true"], cwd="/tmp")
    status, submitted = request(web.url, "POST", "/api/v1/jobs", {"jobspec": spec},
                                token=token)
    assert status == 201
    status, job = request(web.url, "GET", f"/api/v1/jobs/{submitted['id']}", token=token)
    assert job["userid"] == guest.pw_uid
    status, page = request(web.url, "GET", "/api/v1/jobs", token=token)
    assert [job["id"] for job in page["jobs"]] == [submitted["id"]]
    assert request(web.url, "GET", "/api/v1/jobs?user=all", token=token) == \
        (403, {"error": "guests may only list their own jobs"})
    assert request(web.url, "GET", f"/api/v1/jobs/{owner_job}", token=token) == \
        (403, {"error": f"job {owner_job} belongs to another user"})
    assert request(web.url, "POST", f"/api/v1/jobs/{owner_job}/cancel", token=token)[0] == 403
    assert request(web.url, "GET", "/api/v1/whoami", token=token) == \
        (200, {"userid": guest.pw_uid, "owner": False})
    made_by_owner = inst.corral("token", "create", "--user", guest.pw_name).stdout.strip()
    assert request(web.url, "GET", "/api/v1/whoami", token=made_by_owner) == \
        (200, {"userid": guest.pw_uid, "owner": False})
    refused = inst.corral("token", "create", "--user", "no-such-user", check=False)
    assert (refused.returncode, refused.stderr) == (1, "corral token: Invalid user: "
                                                       "no-such-user\n")
    inst.corral("token", "create", "--name", "owner")
    assert [token["name"] for token in as_guest(inst.uri, lambda client: client.rpc(
        "token.list", {"all": True}))["tokens"]] == ["g", ""]  # "all" is the owner's only
    everyone = [line.split() for line in inst.corral("token", "list", "--all").stdout
                .splitlines()[1:]]
    assert [(uid, name) for _id, uid, _created, *name in everyone] == \
        [(str(guest.pw_uid), ["g"]), (str(guest.pw_uid), []), (str(os.geteuid()), ["owner"])]
    # On the Unix socket the guest is the peer, whatever it claims.
    with guest_holding(lambda: request(web.unix, "GET", "/api/v1/whoami",
                                       headers={"X-Remote-User": "root"})) as answer:
        assert answer == [200, {"userid": guest.pw_uid, "owner": False}]
    with inst.client() as client:
        assert client.job(owner_job)["state_name"] == "SCHED"


def test_only_the_owner_may_send_requests_for_another_user(guest_instance):
    inst = guest_instance()

    def impersonate(client):
        client.on_behalf_of = 0
        return client.jobs()

    try:
        as_guest(inst.uri, impersonate)
    except RPCError as exc:
        assert exc.errno == errno.EPERM
        assert exc.strerror == "only the instance owner may send requests on behalf of " \
                               "another user"
    else:
        raise AssertionError("a guest acted as root")
    try:
        as_guest(inst.uri, lambda client: client.rpc("token.create", {"userid": 0}))
    except RPCError as exc:
        assert exc.strerror == "only the instance owner may make tokens for another user"
    else:
        raise AssertionError("a guest made a token for root")


def test_web_refuses_to_serve_for_someone_else(guest_instance):
    inst = guest_instance()

    def serve_as_guest():
        try:
            asyncio.run(server.check_owner(Upstream(inst.uri)))
        except server.WebError as exc:
            return str(exc)
        return "served"

    with guest_holding(serve_as_guest) as answer:
        assert answer == ("corral web must run as the instance owner or root (it sends "
                          "requests on behalf of the users it authenticates)")


def test_openapi_document_describes_every_route():
    document = openapi.document()
    served = {(route.path, route.method.lower()) for route in api.routes}
    described = {(path, method) for path, operations in document["paths"].items()
                 for method in operations}
    assert served == described
    for operations in document["paths"].values():
        for operation in operations.values():
            assert "default" in operation["responses"]


def test_a_running_job_is_listed_with_its_output_so_far(instance, make_web):
    web = make_web(instance)
    job_id = instance.submit("sh", "-c", "echo started; sleep 30")
    with instance.client() as client:
        wait(client, job_id, "start")
    until(lambda: request(web.unix, "GET", f"/api/v1/jobs/{job_id}/output")[1]["stdout"]
          == "started\n")
    status, page = request(web.unix, "GET", "/api/v1/jobs?state=running")
    assert [job["id"] for job in page["jobs"]] == [job_id]
    request(web.unix, "POST", f"/api/v1/jobs/{job_id}/cancel")
    instance.wait_inactive(job_id)


def test_bad_options_and_no_instance_are_one_line(tmp_path):
    def web(*args, uri=f"local://{tmp_path}/none.sock"):
        result = subprocess.run([sys.executable, "-m", "corral", "web", *args],
                                env=dict(os.environ, CORRAL_URI=uri), capture_output=True,
                                text=True, timeout=60)
        assert result.returncode == 1
        return result.stderr.splitlines()

    assert web("--listen", "8080") == [
        "corral web: --listen: expected HOST:PORT (e.g. 127.0.0.1:9100), got '8080'"]
    assert web() == ["corral web: give --listen HOST:PORT, --unix PATH or both"]
    assert web("--unix", str(tmp_path / "web.sock")) == [
        f"corral web: cannot connect to corral at local://{tmp_path}/none.sock: No such file "
        "or directory"]


def test_an_address_it_cannot_listen_on_is_named(instance, tmp_path):
    def web(*args):
        result = instance.corral("web", *args, check=False)
        assert result.returncode == 1
        return result.stderr.splitlines()

    missing = tmp_path / "missing" / "web.sock"
    assert web("--unix", str(missing)) == [
        f"corral web: cannot listen on {missing}: No such file or directory"]
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert web("--listen", f"127.0.0.1:{port}") == [
            f"corral web: cannot listen on 127.0.0.1:{port}: Address already in use"]


def test_web_reconnects_after_an_instance_restart_and_tokens_survive_it(make_instance,
                                                                         make_web,
                                                                         owner_token):
    inst = make_instance()
    web = make_web(inst)
    token = owner_token(inst)
    job_id = inst.submit("true")
    inst.wait_inactive(job_id)
    inst.restart()
    status, job = until(lambda: (answer := web.get(f"/api/v1/jobs/{job_id}", token=token))[0]
                        != 503 and answer)
    assert (status, job["result_name"]) == (200, "COMPLETED")
