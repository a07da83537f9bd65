"""squeue and sacct column layouts, byte for byte as Slurm prints them
(corral.slurm.formats)."""

import pytest

from corral.slurm import formats


def render(parts, row: dict) -> str:
    (line,) = formats.render_all(parts, [row], lambda field: lambda values: values[field])
    return line


def test_squeue_default_header_is_slurms():
    parts = formats.parse_squeue_format(formats.SQUEUE_DEFAULT)
    assert formats.render_header(parts) == \
        "             JOBID PARTITION     NAME     USER ST       TIME  NODES NODELIST(REASON)"


def test_squeue_format_widths_cut_and_pad():
    parts = formats.parse_squeue_format("%.5i %3j|%j %t")
    row = {"display_id": "12", "name": "longname", "state_compact": "PD"}
    assert render(parts, row) == "   12 lon|longname PD"


def test_squeue_capital_o_columns_are_20_wide_with_no_separator():
    parts = formats.parse_squeue_names("JobArrayID,StateCompact,Reason")
    assert formats.render_header(parts) == \
        "JOBID               ST                  REASON              "
    row = {"display_id": "7644", "state_compact": "R", "reason": "None"}
    assert render(parts, row) == \
        "7644                R                   None                "
    assert render(formats.parse_squeue_names("JobID:.6"), {"job_id": "12"}) == "    12"


def test_unknown_fields_are_refused():
    with pytest.raises(formats.FormatError):
        formats.parse_squeue_format("%z")
    with pytest.raises(formats.FormatError):
        formats.parse_squeue_names("JobID,Bogus")
    with pytest.raises(formats.FormatError):
        formats.parse_sacct_format("JobID,Bogus")


def test_sacct_columns_parsable_and_widths():
    fields = formats.parse_sacct_format(formats.SACCT_DEFAULT)
    assert formats.sacct_line(fields, {}, None, header=True) == \
        "       JobID    JobName  Partition    Account  AllocCPUS      State ExitCode "
    assert formats.sacct_rule(fields) == \
        "------------ ---------- ---------- ---------- ---------- ---------- -------- "
    row = {"JobID": "12.batch", "JobName": "averylongname", "Partition": "", "Account": "",
           "AllocCPUS": "1", "State": "COMPLETED", "ExitCode": "0:0"}
    assert formats.sacct_line(fields, row, None) == \
        "12.batch     averylong+                                1  COMPLETED      0:0 "
    two = formats.parse_sacct_format("JobID%5,State")
    assert two == [("JobID", 5), ("State", 10)]
    assert formats.sacct_line(two, {"JobID": "1", "State": "FAILED"}, "|") == "1|FAILED|"
    assert formats.sacct_line(two, {"JobID": "1", "State": "FAILED"}, "") == "1|FAILED"
