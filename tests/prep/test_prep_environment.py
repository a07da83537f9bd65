"""Script environments, variable for variable, per context (reference §2.5, §2.7, appendix)."""

from corral.prep import Cred, JobEnv, JobRecord
from corral.prep.environment import (
    compress_counts,
    controller_env,
    exit_code_env,
    gpu_env,
    node_env,
    spank_env,
)

JOB_ENV = JobEnv(job_id=7515, uid=2001, gid=2001, user_name="peeruser", work_dir="/w",
                 node_name="localhost", node_list="localhost", partition="debug",
                 exit_code=768)

CRED = Cred(job_id=7515, uid=2001, gid=2001, user_name="peeruser", node_list="localhost",
            cpus_per_node=(1,), gpus_per_node=("",), memory_per_node=(0,), ntasks=1,
            partition="debug", account="peers", restart_count=0, time_limit=60.0,
            start_time=1700000000, end_time=1700000060, std_in="/dev/null",
            std_out="/w/%j.out")

RECORD = JobRecord(job_id=7515, name="refjob", uid=2001, gid=2001, user_name="peeruser",
                   group_name="peeruser", work_dir="/w", node_list="localhost",
                   cpus_per_node=(1,), ntasks=1, partition="debug", account="peers",
                   start_time=1700000000, end_time=1700000060, std_out="/w/%j.out",
                   exit_code=768)

# What Slurm 22.05 passed (appendix A.1.1) plus what later releases add and corral can fill.
NODE_PROLOG = {
    "SLURMD_NODENAME": "localhost",
    "SLURM_CONF": "/etc/corral/corral.toml",
    "SLURM_CLUSTER_NAME": "local",
    "SLURM_JOB_ID": "7515",
    "SLURM_JOB_UID": "2001",
    "SLURM_JOB_GID": "2001",
    "SLURM_JOB_WORK_DIR": "/w",
    "SLURM_JOBID": "7515",
    "SLURM_UID": "2001",
    "SLURM_NODELIST": "localhost",
    "SLURM_JOB_NODELIST": "localhost",
    "SLURM_JOB_PARTITION": "debug",
    "SLURM_SCRIPT_CONTEXT": "prolog_slurmd",
    "SLURM_JOB_ACCOUNT": "peers",
    "SLURM_JOB_CORE_SPEC_COUNT": "0",
    "SLURM_JOB_CORE_SPEC_TYPE": "cores",
    "SLURM_JOB_END_TIME": "1700000060",
    "SLURM_JOB_CPUS_PER_NODE": "1",
    "SLURM_JOB_NTASKS": "1",
    "SLURM_JOB_NUM_NODES": "1",
    "SLURM_JOB_OVERSUBSCRIBE": "OK",
    "SLURM_JOB_EXCLUSIVE": "NO",
    "SLURM_JOB_RESTART_COUNT": "0",
    "SLURM_JOB_START_TIME": "1700000000",
    "SLURM_JOB_STDIN": "/dev/null",
    "SLURM_JOB_STDOUT": "/w/%j.out",
    "SLURM_JOB_USER": "peeruser",
}

CONTROLLER_PROLOG = {
    "SLURM_JOB_ACCOUNT": "peers",
    "SLURM_CLUSTER_NAME": "local",
    "SLURM_JOB_END_TIME": "1700000060",
    "SLURM_JOB_GID": "2001",
    "SLURM_JOB_GROUP": "peeruser",
    "SLURM_JOBID": "7515",
    "SLURM_JOB_ID": "7515",
    "SLURM_JOB_NAME": "refjob",
    "SLURM_JOB_NODELIST": "localhost",
    "SLURM_JOB_CPUS_PER_NODE": "1",
    "SLURM_JOB_NUM_NODES": "1",
    "SLURM_JOB_PARTITION": "debug",
    "SLURM_JOB_RESTART_COUNT": "0",
    "SLURM_JOB_START_TIME": "1700000000",
    "SLURM_JOB_UID": "2001",
    "SLURM_JOB_USER": "peeruser",
    "SLURM_JOB_OVERSUBSCRIBE": "OK",
    "SLURM_JOB_EXCLUSIVE": "NO",
    "SLURM_JOB_STDIN": "/dev/null",
    "SLURM_JOB_STDOUT": "/w/%j.out",
    "SLURM_JOB_WORK_DIR": "/w",
    "SLURM_SCRIPT_CONTEXT": "prolog_slurmctld",
}


def test_node_prolog_environment_is_exactly_slurms():
    env = node_env(JOB_ENV, CRED, False, "local", "/etc/corral/corral.toml")
    assert env == NODE_PROLOG


def test_node_epilog_adds_the_exit_code_trio_and_its_context():
    env = node_env(JOB_ENV, CRED, True, "local", "/etc/corral/corral.toml")
    assert env == {**NODE_PROLOG, "SLURM_SCRIPT_CONTEXT": "epilog_slurmd",
                   "SLURM_JOB_EXIT_CODE": "768", "SLURM_JOB_EXIT_CODE2": "3:0",
                   "SLURM_JOB_DERIVED_EC": "0"}


def test_node_epilog_without_a_known_exit_code_sets_none_of_the_trio():
    job_env = JobEnv(**{**JOB_ENV.to_dict(), "exit_code": None})
    env = node_env(job_env, CRED, True, "local", None)
    assert "SLURM_JOB_EXIT_CODE" not in env and "SLURM_JOB_EXIT_CODE2" not in env
    assert "SLURM_JOB_DERIVED_EC" not in env and "SLURM_CONF" not in env


def test_node_environment_without_a_credential_keeps_the_job_env_part():
    env = node_env(JOB_ENV, None, False, "local", "/c")
    assert env == {
        "SLURMD_NODENAME": "localhost", "SLURM_CONF": "/c", "SLURM_CLUSTER_NAME": "local",
        "SLURM_JOB_ID": "7515", "SLURM_JOB_UID": "2001", "SLURM_JOB_GID": "2001",
        "SLURM_JOB_WORK_DIR": "/w", "SLURM_JOBID": "7515", "SLURM_UID": "2001",
        "SLURM_NODELIST": "localhost", "SLURM_JOB_NODELIST": "localhost",
        "SLURM_JOB_PARTITION": "debug", "SLURM_SCRIPT_CONTEXT": "prolog_slurmd",
        "SLURM_JOB_USER": "peeruser",
    }


def test_optional_credential_fields_appear_when_set():
    cred = Cred(**{**CRED.to_dict(), "qos": "high", "comment": "hello", "constraints": "a&b",
                   "std_err": "/w/err", "exclusive": True, "cpus_per_node": [4, 4, 2],
                   "restart_count": 2})
    env = node_env(JOB_ENV, cred, False, "local", None)
    assert env["SLURM_JOB_QOS"] == "high"
    assert env["SLURM_JOB_COMMENT"] == "hello"
    assert env["SLURM_JOB_CONSTRAINTS"] == "a&b"
    assert env["SLURM_JOB_STDERR"] == "/w/err"
    assert env["SLURM_JOB_OVERSUBSCRIBE"] == "NO" and env["SLURM_JOB_EXCLUSIVE"] == "NODE"
    assert env["SLURM_JOB_CPUS_PER_NODE"] == "4(x2),2"
    assert env["SLURM_JOB_NUM_NODES"] == "3"
    assert env["SLURM_JOB_RESTART_COUNT"] == "2"


def test_the_credential_partition_wins_over_the_job_env_one():
    cred = Cred(**{**CRED.to_dict(), "partition": "batch"})
    assert node_env(JOB_ENV, cred, False, "local", None)["SLURM_JOB_PARTITION"] == "batch"


def test_gpu_variables_carry_the_hosts_own_ids():
    job_env = JobEnv(**{**JOB_ENV.to_dict(), "gres_env": gpu_env([2, 3])})
    env = node_env(job_env, CRED, False, "local", None)
    for name in ("CUDA_VISIBLE_DEVICES", "ROCR_VISIBLE_DEVICES", "ZE_AFFINITY_MASK",
                 "GPU_DEVICE_ORDINAL", "SLURM_JOB_GPUS"):
        assert env[name] == "2,3"
    assert gpu_env([]) == {}


def test_user_variables_reach_scripts_only_with_a_spank_prefix_and_never_override():
    job_env = JobEnv(**{**JOB_ENV.to_dict(), "spank_env": {
        "LD_PRELOAD": "/evil.so", "SPANK_OK": "1", "SLURM_JOB_ID": "1", "PATH": "/evil"}})
    env = node_env(job_env, CRED, False, "local", None)
    assert env["SPANK_LD_PRELOAD"] == "/evil.so"
    assert env["SPANK_OK"] == "1"
    assert env["SPANK_SLURM_JOB_ID"] == "1" and env["SLURM_JOB_ID"] == "7515"
    assert env["SPANK_PATH"] == "/evil"
    assert "LD_PRELOAD" not in env and "PATH" not in env
    record = JobRecord(**{**RECORD.__dict__, "spank_env": {"LD_PRELOAD": "/evil.so"}})
    assert controller_env(record, False, "local")["SPANK_LD_PRELOAD"] == "/evil.so"
    assert "LD_PRELOAD" not in controller_env(record, False, "local")
    assert spank_env({"A": "1", "SPANK_B": "2"}) == {"SPANK_A": "1", "SPANK_B": "2"}


def test_controller_prolog_environment_is_exactly_slurms():
    assert controller_env(RECORD, False, "local") == CONTROLLER_PROLOG


def test_controller_epilog_adds_the_exit_code_trio():
    assert controller_env(RECORD, True, "local") == {
        **CONTROLLER_PROLOG, "SLURM_SCRIPT_CONTEXT": "epilog_slurmctld",
        "SLURM_JOB_EXIT_CODE": "768", "SLURM_JOB_EXIT_CODE2": "3:0",
        "SLURM_JOB_DERIVED_EC": "0"}


def test_a_controller_job_without_resources_or_limits_leaves_those_variables_out():
    record = JobRecord(job_id=5, name="j", uid=1, gid=1, user_name="u", group_name="g",
                       work_dir="/")
    env = controller_env(record, False, "c")
    for name in ("SLURM_JOB_NODELIST", "SLURM_JOB_CPUS_PER_NODE", "SLURM_JOB_NUM_NODES",
                 "SLURM_JOB_END_TIME", "SLURM_JOB_START_TIME", "SLURM_JOB_ACCOUNT",
                 "SLURM_JOB_STDOUT", "SLURM_JOB_STDERR"):
        assert name not in env
    assert env["SLURM_JOB_RESTART_COUNT"] == "0"


def test_a_job_in_no_named_queue_is_in_the_default_partition_everywhere():
    """Slurm always has a partition: a job that names no queue gets ``default``."""
    record = JobRecord(job_id=5, name="j", uid=1, gid=1, user_name="u", group_name="g",
                       work_dir="/")
    assert controller_env(record, False, "c")["SLURM_JOB_PARTITION"] == "default"
    job_env = JobEnv(job_id=5, uid=1, gid=1, user_name="u", work_dir="/", node_name="n",
                     node_list="n")
    assert node_env(job_env, None, False, "c", None)["SLURM_JOB_PARTITION"] == "default"
    cred = Cred(job_id=5, uid=1, gid=1, user_name="u", node_list="n", cpus_per_node=(1,),
                gpus_per_node=("",), memory_per_node=(0,), ntasks=1)
    assert node_env(job_env, cred, False, "c", None)["SLURM_JOB_PARTITION"] == "default"


def test_exit_code_trio_of_a_signal_and_of_success():
    assert exit_code_env(9, 0) == {"SLURM_JOB_EXIT_CODE": "9", "SLURM_JOB_EXIT_CODE2": "0:9",
                                   "SLURM_JOB_DERIVED_EC": "0"}
    assert exit_code_env(0, 4)["SLURM_JOB_EXIT_CODE2"] == "0:0"
    assert exit_code_env(0, 4)["SLURM_JOB_DERIVED_EC"] == "4"


def test_compressed_counts():
    assert compress_counts([]) == ""
    assert compress_counts([1]) == "1"
    assert compress_counts([2, 2, 2, 1]) == "2(x3),1"
    assert compress_counts([1, 2, 2, 1]) == "1,2(x2),1"
