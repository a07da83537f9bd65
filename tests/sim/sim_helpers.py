"""Reading SWF files in simulator tests, without corral's own reader."""

import os

DATA = os.path.join(os.path.dirname(os.path.dirname(__file__)), "data")


def read_swf(path):
    """``{job number: (submit, wait, run, processors, requested time)}`` of an SWF file."""
    jobs = {}
    with open(path) as stream:
        for line in stream:
            fields = line.split()
            if not fields or fields[0].startswith(";"):
                continue
            processors = int(fields[7]) if fields[7] != "-1" else int(fields[4])
            jobs[int(fields[0])] = (float(fields[1]), float(fields[2]), float(fields[3]),
                                    processors, float(fields[8]))
    return jobs
