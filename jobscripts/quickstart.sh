#!/usr/bin/env bash
# One-command set-up on a fresh Debian 12 machine (as root, or with sudo):
#   bash jobscripts/quickstart.sh run    install what is missing, build, run the small default job
#   bash jobscripts/quickstart.sh test   install what is missing, build, run the test suite (CI)
set -euo pipefail
mode=${1:-run}
case "$mode" in run|test) ;; *) echo "usage: $0 run|test" >&2; exit 2 ;; esac
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${PDEDIFF_BUILD_DIR:-$root/build}

pkgs=(libpetsc-real-dev libhdf5-openmpi-dev hdf5-tools libscalapack-openmpi-dev openmpi-bin libopenmpi-dev
      libopenblas-dev pkg-config cmake make gcc python3-h5py python3-numpy python3-scipy python3-matplotlib python3-pot)
# the test suite also runs the job scripts on a real one-node SLURM (with accounting for sacct)
if [ "$mode" = test ]; then pkgs+=(slurm-wlm slurmdbd munge mariadb-server); fi
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "quickstart: installing ${missing[*]}"
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO=sudo
  $SUDO apt-get update -q
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo
cmake --build "$build" -j "$(nproc)"

# Open MPI refuses root without these; threaded BLAS inside MPI ranks oversubscribes the cores.
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1

if [ "$mode" = test ]; then
  cd "$build"
  ctest --output-on-failure --label-exclude bench -j "$(nproc)" --timeout 900
else
  out="$root/runs/quickstart"
  mkdir -p "$out"
  for s in ode sde; do
    mpirun -n 2 --oversubscribe "$build/app/pdediff" sample -options_file "$root/inputs/quickstart.opts" \
      -sampler_type "$s" -output "$out/samples_$s.h5"
  done
  # the forward model of Sec. 5.2: a 1,000-sample data set on the 340 x 80 mesh, then its figure
  mpirun -n 2 --oversubscribe "$build/app/pdediff" generate -options_file "$root/inputs/advdiff_data_quick.opts" \
    -generate_output "$out/advdiff_quick.h5"
  /usr/bin/python3 "$root/postprocess/advdiff_fields.py" "$out/advdiff_quick.h5" "$out/figure5_fields.png"
  # the inverse problem on it: train a 4 x 256 network (noise level 0.02), sample 20 test cases with
  # the ODE and SDE samplers (MCMC reference beside them), draw Figures 6-10 and the summary table
  mpirun -n 2 --oversubscribe "$build/app/pdediff" train -options_file "$root/inputs/advdiff_quick.opts" \
    -train_data "$out/advdiff_quick.h5" -model "$out/advdiff_quick_vp.model.h5" -train_checkpoint "$out/advdiff_quick_vp.ckpt.h5" -train_restart
  mpirun -n 2 --oversubscribe "$build/app/pdediff" posterior -options_file "$root/inputs/advdiff_quick.opts" \
    -posterior_data "$out/advdiff_quick.h5" -posterior_model "$out/advdiff_quick_vp.model.h5" -posterior_output "$out/advdiff_quick_vp.post.h5"
  /usr/bin/python3 "$root/postprocess/advdiff_posterior.py" "$out/advdiff_figures" "$out/advdiff_quick_vp.post.h5"
  echo "quickstart: outputs in $out (inspect with: h5dump -H $out/samples_ode.h5)"
fi
