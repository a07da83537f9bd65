"""JobRecord, JobEnv and Cred built from corral's own job record, and the credential's seal."""

import dataclasses
import json
import threading

import pytest

from corral.prep import Cred, JobEnv, JobRecord
from corral.prep.cred import CredentialKey


def two_node_job(make_job, **options):
    return make_job(
        job_id=77, nodes=("node1", "node3"), cores=((0, 1, 2, 3), (4, 5)),
        gpus=((), (0, 1)), nnodes=2, ntasks=2, queue="batch", name="refjob", cwd="/work/dir",
        duration="1h", output="out.{{id}}", error="/abs/err", exclusive=True,
        environment={"SPANK_TAG": "x", "PATH": "/bin", "HOME": "/h"},
        setattr=["account=peers", "qos=high", "comment=nightly", 'constraints={"properties":'
                 '["ssd","ib"]}'],
        fields={"restart_count": 2, "waitstatus": 768}, **options)


def test_job_record_from_a_corral_job(make_job, me):
    user_name, uid, gid = me
    job = two_node_job(make_job)
    record = JobRecord.from_job(job, output_dir="/state/output")
    assert record.job_id == 77 and record.name == "refjob"
    assert (record.uid, record.gid, record.user_name) == (uid, gid, user_name)
    assert record.partition == "batch"
    assert (record.account, record.qos, record.comment) == ("peers", "high", "nightly")
    assert record.constraints == "ssd&ib"
    assert record.node_list == "node[1,3]"
    assert record.cpus_per_node == (4, 2) and record.num_nodes == 2
    assert record.ntasks == 2 and record.exclusive is True
    assert record.restart_count == 2
    assert record.time_limit == 3600.0
    assert (record.start_time, record.end_time) == (1700000000, 1700003600)
    assert record.work_dir == "/work/dir"
    assert record.std_in == "/dev/null"
    assert record.std_out == "/work/dir/out.{{id}}"  # unexpanded, made absolute
    assert record.std_err == "/abs/err"
    assert record.exit_code == 768 and record.derived_ec == 0
    assert dict(record.spank_env) == {"SPANK_TAG": "x"}


def test_corral_keeps_output_the_user_did_not_redirect_and_names_it_as_stdout(make_job):
    job = make_job(job_id=8)
    assert JobRecord.from_job(job, output_dir="/state/output").std_out == "/state/output/8.out"
    assert JobRecord.from_job(job).std_out is None
    assert JobRecord.from_job(job).std_err is None


def test_a_job_without_time_limit_or_result_has_no_end_time_and_exit_code_zero(make_job):
    job = make_job(expiration=0.0)
    record = JobRecord.from_job(job)
    assert record.end_time == 0 and record.exit_code == 0


def test_rfc31_constraints_without_a_slurm_spelling_are_compact_json(make_job):
    job = make_job(setattr=['constraints={"or":[{"properties":["a"]},{"properties":["b"]}]}'])
    assert JobRecord.from_job(job).constraints == \
        '{"or":[{"properties":["a"]},{"properties":["b"]}]}'


def test_job_record_is_a_frozen_copy_safe_to_keep(make_job):
    job = two_node_job(make_job)
    record = JobRecord.from_job(job)
    job.environment["SPANK_TAG"] = "changed"
    job.restart_count = 9
    assert record.spank_env["SPANK_TAG"] == "x" and record.restart_count == 2
    with pytest.raises(dataclasses.FrozenInstanceError):
        record.restart_count = 3
    with pytest.raises(TypeError):
        record.spank_env["SPANK_NEW"] = "1"
    seen = []
    thread = threading.Thread(target=lambda: seen.append(record.node_list))
    thread.start()
    thread.join()
    assert seen == ["node[1,3]"]


def test_job_env_for_each_node_carries_that_nodes_gpus(make_job, me):
    user_name, uid, gid = me
    job = two_node_job(make_job)
    first = JobEnv.from_job(job, "node1")
    second = JobEnv.from_job(job, "node3")
    assert first.gres_env == {}
    assert second.gres_env["CUDA_VISIBLE_DEVICES"] == "0,1"
    assert second.gres_env["SLURM_JOB_GPUS"] == "0,1"
    assert (first.job_id, first.uid, first.gid, first.user_name) == (77, uid, gid, user_name)
    assert first.node_name == "node1" and first.node_list == "node[1,3]"
    assert first.partition == "batch" and first.work_dir == "/work/dir"
    assert first.exit_code == 768 and first.derived_ec == 0
    assert dict(first.spank_env) == {"SPANK_TAG": "x"}


def test_job_env_travels_as_json(make_job):
    job_env = JobEnv.from_job(two_node_job(make_job), "node3")
    assert JobEnv.from_dict(json.loads(json.dumps(job_env.to_dict()))) == job_env


def test_cred_from_a_corral_job_is_signed_and_verifies(make_job, me):
    user_name, uid, gid = me
    key = CredentialKey()
    cred = Cred.from_job(two_node_job(make_job), key, output_dir="/state/output")
    assert cred.verify()
    assert (cred.job_id, cred.uid, cred.gid, cred.user_name) == (77, uid, gid, user_name)
    assert (cred.account, cred.partition, cred.qos) == ("peers", "batch", "high")
    assert cred.constraints == "ssd&ib" and cred.comment == "nightly"
    assert cred.node_list == "node[1,3]"
    assert cred.cpus_per_node == (4, 2)
    assert cred.gpus_per_node == ("", "0-1")
    assert cred.memory_per_node == (0, 0)
    assert cred.ntasks == 2 and cred.exclusive is True
    assert cred.time_limit == 3600.0
    assert (cred.start_time, cred.end_time) == (1700000000, 1700003600)
    assert (cred.std_in, cred.std_out, cred.std_err) == (
        "/dev/null", "/work/dir/out.{{id}}", "/abs/err")
    assert cred.restart_count == 2


def test_a_cred_received_by_an_agent_with_the_same_key_verifies(make_job):
    key = CredentialKey()
    sent = Cred.from_job(make_job(), key)
    wire = json.loads(json.dumps(sent.to_dict()))
    received = CredentialKey(key.secret).receive(wire)
    assert received.verify()
    assert received == sent


def test_a_changed_or_foreign_cred_does_not_verify(make_job):
    key = CredentialKey()
    wire = Cred.from_job(make_job(), key).to_dict()
    assert not key.receive({**wire, "uid": wire["uid"] + 1}).verify()
    assert not key.receive({**wire, "node_list": "node[0-99]"}).verify()
    assert not CredentialKey().receive(wire).verify()
    assert not key.receive({**wire, "signature": ""}).verify()
    unsigned = Cred(job_id=1, uid=0, gid=0, user_name="root", node_list="n")
    assert not unsigned.verify()
    assert CredentialKey().secret != CredentialKey().secret


def test_a_job_env_is_only_for_a_node_of_the_job(make_job):
    with pytest.raises(ValueError, match="node9 is not in the allocation of job 42"):
        JobEnv.from_job(make_job(), "node9")


def test_something_that_is_not_a_credential_is_refused():
    key = CredentialKey()
    for data in ({"job_id": 1}, {"bogus": 1}, "cred", {"_key": None}):
        with pytest.raises(ValueError, match="malformed launch credential"):
            key.receive(data)
