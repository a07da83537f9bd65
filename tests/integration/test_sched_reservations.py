"""Reservations and pending reasons as users see them, on a real instance with EASY."""

import time

CONFIG = """
[sched]
queue-policy = "easy"

[[resource.config]]
hosts = "node0"
cores = "0-3"
"""


def _jobs(instance, *ids):
    fields = "{id} {reason} {t_estimate}"
    lines = instance.corral("jobs", "-n", "-o", fields, *map(str, ids)).stdout.splitlines()
    return {int(words[0]): (words[1], float(words[2])) for words in map(str.split, lines)}


def test_easy_reservation_shows_as_t_estimate_and_reasons_say_why(make_instance, tmp_path):
    path = tmp_path / "corral.toml"
    path.write_text(CONFIG)
    instance = make_instance(config=path)
    running = instance.submit("-n3", "-t", "100s", "sleep", "100")
    big = instance.submit("-n4", "-t", "10s", "true")
    behind = instance.submit("-n2", "-t", "10s", "true")
    short = instance.submit("-n1", "-t", "5s", "true")  # fits the one free core before 100s
    instance.wait_inactive(short)
    deadline = time.monotonic() + 10
    while True:
        shown = _jobs(instance, big, behind)
        if shown[big][0] == "Resources" or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    t_run = instance.client().rpc("job-list.list-id", {"id": running})["job"]["t_run"]
    assert shown[big][0] == "Resources"
    assert abs(shown[big][1] - (t_run + 100)) < 0.01
    assert shown[behind] == ("Priority", 0.0)
    instance.corral("cancel", str(running))
    instance.wait_inactive(big)
    instance.wait_inactive(behind)
