"""What an agent announces: its GPUs, its cores, and the checks on a hello's registration."""

import os

import pytest

from corral import __version__
from corral.transport import frames
from corral.transport.registration import Registration, gpu_ids, this_node


def touch(path):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("")


def test_nvidia_device_nodes_are_the_gpus(tmp_path):
    for name in ("nvidia0", "nvidia1", "nvidia3", "nvidiactl", "nvidia-uvm", "nvidia-modeset"):
        touch(tmp_path / "dev" / name)
    assert gpu_ids(str(tmp_path / "dev"), str(tmp_path / "sys")) == [0, 1, 3]


def test_without_nvidia_nodes_only_compute_cards_in_sys_count(tmp_path):
    drm = tmp_path / "sys" / "class" / "drm"
    for card, vendor in (("card0", "0x1af4"), ("card1", "0x1002"), ("card2", "0x10de")):
        (drm / card / "device").mkdir(parents=True)
        (drm / card / "device" / "vendor").write_text(vendor + "\n")
    (drm / "card1-DP-1").mkdir()  # a connector, not a card
    (drm / "card3").mkdir()  # no device vendor
    assert gpu_ids(str(tmp_path / "dev"), str(tmp_path / "sys")) == [1, 2]


def test_no_gpus_where_neither_exists(tmp_path):
    assert gpu_ids(str(tmp_path / "dev"), str(tmp_path / "sys")) == []


def test_this_node_reports_its_affinity_and_a_new_boot_id_each_start():
    first, second = this_node("node7"), this_node("node7")
    assert first.hostname == "node7" and first.version == __version__
    assert first.cores == tuple(sorted(os.sched_getaffinity(0)))
    assert first.boot_id != second.boot_id


def test_registration_survives_the_wire():
    registration = this_node("node1")
    wire = frames.decode(frames.encode(registration.to_wire()))
    assert Registration.from_wire(wire) == registration


@pytest.mark.parametrize("change, message", [
    ({"hostname": ""}, "the registration has no hostname"),
    ({"version": 1}, "the registration has no version"),
    ({"cores": [0, -1]}, "the registration's cores is not a list of ids"),
    ({"gpus": "0,1"}, "the registration's gpus is not a list of ids"),
])
def test_a_malformed_registration_is_one_sentence(change, message):
    wire = dict(this_node("node1").to_wire(), **change)
    with pytest.raises(ValueError) as error:
        Registration.from_wire(wire)
    assert str(error.value) == message


def test_only_exec_messages_with_a_job_id_travel():
    assert frames.check_message({"type": "start", "job": 3}, frames.TO_AGENT) is None
    assert frames.check_message({"type": "finished", "job": 3}, frames.TO_AGENT) == \
        "a message of unknown type 'finished'"
    assert frames.check_message({"type": "kill", "job": "3"}, frames.TO_AGENT) == \
        "a kill message without an integer job id"
    assert frames.check_message(["start"], frames.TO_AGENT) == \
        "a message that is a list, not an object"
