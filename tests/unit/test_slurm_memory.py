"""Memory sizes as Slurm reads (``--mem``) and prints (squeue ``%m``, sacct ``ReqMem``) them."""

from corral.slurm import memory


def test_sizes_are_megabytes_with_kilobytes_rounded_up():
    assert [memory.megabytes(text) for text in ("100", "1GB", "512m", "2t", "1k", "1025K")] \
        == [100, 1024, 512, 2 * 1024 ** 2, 1, 2]


def test_a_size_is_shown_in_the_largest_unit_that_holds_it_whole():
    assert [memory.shown(megs) for megs in (0, 1, 1024, 1536, 3 * 1024 ** 2, 1024 ** 2 + 1)] \
        == ["0", "1M", "1G", "1536M", "3T", "1048577M"]
