"""A bounded, seeded fuzzer of jobspecs and request frames against a real instance.

The guest user sends mutated jobspecs (in submit batches) and malformed or mistyped request
frames.  Whatever it sends: the instance stays up, every answer that refuses something says
why in one line and never as an ``internal error``, and every job it accepted reaches
INACTIVE (once cancelled, for those that would wait or run long).  The seed is fixed so a
failure can be replayed; ``CORRAL_FUZZ_SEED`` picks another.
"""

import json
import os
import random
import time

from corral import jobspec
from corral.broker import wire
from corral.limits import MAX_ERROR_TEXT
from corral.states import State
from support import as_guest

SEED = int(os.environ.get("CORRAL_FUZZ_SEED", "12"))
JOBSPEC_CASES = 8000
FRAME_CASES = 3000
BATCH = 8

#: Services a guest may reach, with payloads that do not wait for ever.
TOPICS = ("job-manager.submit", "job-manager.raise", "job-manager.raiseall", "job-manager.memo",
          "job-manager.urgency", "job-manager.kill", "job-manager.update", "job-info.lookup",
          "job-info.eventlog", "job-list.list", "job-list.list-id", "job-list.job-stats",
          "instance.info", "resource.list", "no-such.topic")

_TEXTS = ("", "x", "task", "node", "slot", "core", "gpu", "file", "per_slot", "total",
          "A=B", "SPANK_A=B", "../../etc/shadow", "{{id}}" * 30, "inf", "abc", "1e400", "-1",
          "afterok", "12", "é", "\U0001f600", "\n\t", "cancel", "/tmp", "/dev/zero")
#: Text no request may carry: one refuses the whole frame, so few batches get them.
_BAD_TEXTS = ("\ud800", "\udfff x", "a\0b")


def random_value(rng: random.Random, depth: int = 0, bad_text: bool = False):
    """One JSON value, biased towards the ones that broke parsers and limits before."""
    pick = rng.randrange(16)
    if pick < 4:
        return rng.choice(_TEXTS + _BAD_TEXTS if bad_text else _TEXTS)
    if pick == 4:
        return rng.choice("ab=\0\ud800" if bad_text else "ab=") * rng.choice((100, 5000, 140000))
    if pick < 7:
        return rng.choice((0, 1, -1, 2, 16, 31, 32, 2**31, 2**40, 2**63, 2**64, 10**30))
    if pick == 7:
        return rng.choice((0.5, -0.0, 1e308, float("inf"), float("-inf"), float("nan")))
    if pick == 8:
        return rng.choice((True, False, None))
    if pick == 9:
        deep: list = []
        for _ in range(rng.choice((5, 33, 100))):
            deep = [deep]
        return deep
    if depth > 2:
        return None
    if pick < 13:
        return [random_value(rng, depth + 1, bad_text) for _ in range(rng.randrange(4))]
    return {rng.choice(_TEXTS + ("count", "with", "type", "label", "environment", "cwd")):
            random_value(rng, depth + 1, bad_text) for _ in range(rng.randrange(4))}


def base_jobspec(rng: random.Random) -> dict:
    """A valid jobspec whose tasks are simulated (no process starts unless `really_run`)."""
    slot = {"type": "slot", "count": 1, "label": "task", "with": [{"type": "core", "count": 1}]}
    resources = [{"type": "node", "count": 1, "with": [slot]}] if rng.random() < 0.3 else [slot]
    return {
        "resources": resources,
        "tasks": [{"command": ["true"], "slot": "task", "count": {"per_slot": 1}}],
        "attributes": {"system": {
            "duration": 0, "cwd": "/tmp", "environment": {"PATH": "/bin"},
            "exec": {"test": {"run_duration": 0}},
            "shell": {"options": {"output": {"stdout": {"type": "file", "path": "out"}}}},
        }},
        "version": 1,
    }


def _places(value, path=()):
    """Every (container, key) in ``value``, except the ``exec`` that keeps jobs simulated."""
    if isinstance(value, dict):
        for key, item in value.items():
            if key == "exec":
                yield value["exec"]["test"], "run_duration"
                continue
            yield value, key
            yield from _places(item)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield value, index
            yield from _places(item)


def varied_jobspec(rng: random.Random) -> dict:
    """A valid jobspec with varied sizes, durations and strings, to be accepted and run."""
    spec = base_jobspec(rng)
    slot = spec["resources"][0]
    if slot["type"] == "node":
        slot = slot["with"][0]
    slot["count"] = rng.randrange(1, 4)
    slot["with"][0]["count"] = rng.randrange(1, 3)
    spec["tasks"][0]["count"] = rng.choice(({"per_slot": rng.randrange(1, 5)}, {"total": 1}))
    system = spec["attributes"]["system"]
    system["exec"]["test"]["run_duration"] = rng.choice((0, 0.01, "10ms", 0.05))
    system["environment"][rng.choice(("SPANK_X", "HOME", "é"))] = rng.choice(_TEXTS[:10])
    system["job"] = {"name": rng.choice(("a", "é", "\U0001f600", "x" * 100))}
    return spec


def really_run(spec: dict) -> dict:
    """``spec`` with real tasks (``true``, as the guest) if it is valid and small, so that
    exec's start path sees fuzzed input too; the output stays with the job."""
    try:
        request = jobspec.validate(spec)
    except jobspec.JobspecError:
        return spec
    if 1 <= request.ntasks <= 4 and request.nslots * request.cores_per_slot <= 4:
        system = spec["attributes"]["system"]
        del system["exec"]
        if isinstance(system.get("shell", {}).get("options"), dict):
            system["shell"]["options"].pop("output", None)
        spec["tasks"][0]["command"][0] = "true"
    return spec


def mutated_jobspec(rng: random.Random, bad_text: bool) -> dict:
    if rng.random() < 0.3:
        spec = varied_jobspec(rng)
        return really_run(spec) if rng.random() < 0.1 else spec
    spec = base_jobspec(rng)
    for _ in range(rng.choice((1, 1, 2, 3))):
        places = list(_places(spec))
        container, key = rng.choice(places)
        action = rng.randrange(4)
        if action == 0 and isinstance(container, dict) and key != "run_duration":
            del container[key]
        elif action == 1 and isinstance(container, dict):
            container[rng.choice(_TEXTS)] = random_value(rng, bad_text=bad_text)
        else:
            container[key] = random_value(rng, bad_text=bad_text)
    return really_run(spec) if rng.random() < 0.05 else spec


def random_frame(rng: random.Random, matchtag: int, job_ids: list) -> tuple[bytes, int]:
    """A request frame (raw garbage, broken JSON, or a known topic with a fuzzed payload) and
    the matchtag its answer must carry (0 when the frame names none)."""
    pick = rng.randrange(10)
    if pick == 0:
        return bytes(rng.randrange(256) for _ in range(rng.randrange(1, 64))), 0
    if pick == 1:
        text = json.dumps({"matchtag": matchtag, "topic": rng.choice(TOPICS), "payload": {}})
        return text[: rng.randrange(len(text))].encode(), 0
    payload = random_value(rng, bad_text=pick == 3) if pick in (2, 3) else {
        key: random_value(rng) for key in rng.sample(
            ("id", "type", "severity", "note", "memo", "urgency", "signum", "updates", "keys",
             "states", "results", "max", "userid", "dry_run", "jobs", "watch", "name",
             "attributes"), rng.randrange(1, 5))
    }
    if isinstance(payload, dict) and job_ids and rng.random() < 0.6:
        payload["id"] = rng.choice(job_ids)
    if isinstance(payload, dict):
        payload.pop("watch", None)  # a watch answers until the job ends: not one reply
    if rng.random() < 0.1:
        matchtag = random_value(rng)
    request = {"matchtag": matchtag,
               "topic": rng.choice(TOPICS) if rng.random() < 0.95 else random_value(rng),
               "payload": payload}
    return json.dumps(request).encode(), matchtag if type(matchtag) is int else 0


class Exchange:
    """One request frame out, its answer back, on a client's socket (no client checks)."""

    def __init__(self, client):
        self.sock = client.sock
        self.sock.settimeout(30)
        self.reader = wire.FrameReader()
        self.frames: list = []

    def __call__(self, body: bytes) -> dict:
        self.sock.sendall(wire.HEADER.pack(len(body)) + body)
        while not self.frames:
            data = self.sock.recv(1 << 20)
            if not data:
                raise AssertionError("the instance closed the connection")
            self.frames.extend(self.reader.feed(data))
        return wire.decode_body(self.frames.pop(0))


def _check_refusal(errstr, problems: list, case: str):
    if not isinstance(errstr, str) or not errstr or "\n" in errstr or \
            len(errstr) > MAX_ERROR_TEXT or "internal error" in errstr:
        problems.append(f"{case}: {errstr!r}"[:300])


def fuzz(client) -> dict:
    """Run every case as the caller (the guest); what went wrong, and what was accepted."""
    rng = random.Random(SEED)
    exchange = Exchange(client)
    problems: list[str] = []
    accepted: list[int] = []
    cases = 0
    for batch_number in range(JOBSPEC_CASES // BATCH):
        bad_text = batch_number % 10 == 0
        specs = [mutated_jobspec(rng, bad_text) for _ in range(BATCH)]
        items = [{"jobspec": spec, "urgency": rng.choice((0, 16, 16, 16, 31, -1, "x"))}
                 for spec in specs]
        body = json.dumps({"matchtag": batch_number + 1, "topic": "job-manager.submit",
                           "payload": {"jobs": items}}).encode()
        reply = exchange(body)
        cases += BATCH
        if "errnum" in reply:
            _check_refusal(reply.get("errstr"), problems, f"submit batch {batch_number}")
            continue
        for index, result in enumerate(reply["payload"]["jobs"]):
            if "id" in result:
                accepted.append(result["id"])
            else:
                _check_refusal(result.get("errstr"), problems,
                               f"jobspec {json.dumps(specs[index])[:200]}")
    for number in range(FRAME_CASES):
        matchtag = 100000 + number
        body, matchtag = random_frame(rng, matchtag, accepted)
        reply = exchange(body)
        cases += 1
        if "errnum" in reply:
            _check_refusal(reply.get("errstr"), problems, f"frame {body[:200]!r}")
        elif reply.get("matchtag") != matchtag:
            problems.append(f"frame {body[:200]!r}: answered as {reply.get('matchtag')!r}")
    return {"cases": cases, "problems": problems[:20], "accepted": accepted}


def test_fuzzed_jobspecs_and_frames_never_crash_wedge_or_fail_internally(guest_instance):
    instance = guest_instance()
    started = time.monotonic()
    summary = as_guest(instance.uri, fuzz)
    elapsed = time.monotonic() - started
    assert summary["cases"] >= 10000
    assert summary["problems"] == []
    assert instance.process.poll() is None
    with instance.client() as client:
        assert client.rpc("instance.info")
        # Jobs that would run long or wait for resources that never come are cancelled; then
        # every job the guest got accepted must end.
        client.rpc("job-manager.raiseall", {"type": "cancel", "severity": 0, "userid": -1,
                                            "states": int(State.PENDING | State.RUNNING)})
        deadline = time.monotonic() + 60
        while client.jobs(states=int(State.ACTIVE), userid=-1) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert client.jobs(states=int(State.ACTIVE), userid=-1) == []
        inactive = {job["id"] for job in client.jobs(states=int(State.INACTIVE), userid=-1)}
    assert set(summary["accepted"]) <= inactive
    assert summary["accepted"], "no fuzzed jobspec was accepted: the fuzzer tests nothing"
    assert elapsed < 120
