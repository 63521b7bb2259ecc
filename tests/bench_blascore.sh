#!/usr/bin/env bash
# bench_blascore.sh BENCH_MLP BENCH_TRAIN MPIEXEC: what the OpenBLAS kernel choice (libcore/blascore.h)
# is worth, side by side in one run: bench_mlp (the 5.2 network's forward+backward and the same
# sgemm sequence alone, one thread) and bench_train (data-parallel training throughput, 2 ranks)
# with OpenBLAS's own pick (PDEDIFF_BLAS_REEXEC=0) and with pdediff's (the restart, if any).
# Where OpenBLAS already picks the CPU's kernels both rows are the same kernels and the ratio is ~1.
set -euo pipefail
mlp=$1; train=$2; mpiexec=$3
export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1
unset OPENBLAS_CORETYPE
declare -A core mlpr gemm thr
for mode in library pdediff; do
  if [ "$mode" = library ]; then env=(env PDEDIFF_BLAS_REEXEC=0); else env=(env); fi
  out=$("${env[@]}" "$mlp" -reps 20 2>&1)
  core[$mode]=$(sed -n 's/.*, core \([^,]*\),.*/\1/p' <<<"$out" | head -1)
  # the 5.2 network is the second block; its forward+backward and sgemm-alone lines
  mlpr[$mode]=$(awk '/Sec. 5.2 network/{b=1} b && /forward\+backward/{print $(NF-1); exit}' <<<"$out")
  gemm[$mode]=$(awk '/Sec. 5.2 network/{b=1} b && /sgemms alone/{print $(NF-3); exit}' <<<"$out")
  tout=$("${env[@]}" "$mpiexec" -n 2 --oversubscribe "$train" 2>&1)
  thr[$mode]=$(awk '/ranks data-parallel:/{print $4; exit}' <<<"$tout")
  [ -n "${mlpr[$mode]}" ] && [ -n "${gemm[$mode]}" ] || { echo "bench_blascore: could not read bench_mlp's output:"; echo "$out"; exit 1; }
  [ -n "${thr[$mode]}" ] || { echo "bench_blascore: could not read bench_train's output:"; echo "$tout"; exit 1; }
done
printf '%-34s %-12s %-12s %s\n' "5.2 network, float, B = 1000" "library (${core[library]})" "pdediff (${core[pdediff]})" "ratio"
for row in "MLP forward+backward GFLOP/s (1 thread):mlpr" "sgemm sequence alone GFLOP/s (1 thread):gemm" "training samples/s (2 ranks):thr"; do
  name=${row%%:*}; key=${row##*:}
  declare -n arr=$key
  awk -v n="$name" -v a="${arr[library]}" -v b="${arr[pdediff]}" 'BEGIN{printf "%-34s %-12s %-12s %.2f\n", n, a, b, b / a}'
  unset -n arr
done
