# Sourced by the tools that train or test on the CPU (demo.sh, long_runs.sh,
# test.sh). glibc's malloc maps each big tensor afresh and the kernel faults
# it in 4 KiB at a time; where transparent huge pages are `madvise` (the
# default of most kernels), this tunable asks for 2 MiB pages instead
# (measured in docs/benchmarks.md). A value the caller set, even empty, wins.
export GLIBC_TUNABLES=${GLIBC_TUNABLES-glibc.malloc.hugetlb=1}
