#!/usr/bin/env bash
# A real one-node SLURM cluster on localhost (munged, MariaDB, slurmdbd, slurmctld, slurmd as
# background daemons) for testing the job scripts: everything private to DIR and to ports
# PORT_BASE..PORT_BASE+3, so it can run beside a system SLURM.
#   bash jobscripts/localcluster/cluster.sh start DIR     # then: export SLURM_CONF=DIR/slurm.conf
#   bash jobscripts/localcluster/cluster.sh stop DIR
# Needs root and Debian's slurm-wlm slurmdbd munge mariadb-server (bash jobscripts/quickstart.sh
# test installs them). PDEDIFF_SLURM_PORT_BASE (default 16817) moves the ports.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cmd=${1:-}; dir=${2:-}
[ -n "$cmd" ] && [ -n "$dir" ] || { echo "usage: $0 start|stop DIR" >&2; exit 2; }
port=${PDEDIFF_SLURM_PORT_BASE:-16817}
die() { echo "cluster: $*" >&2; exit 1; }

pid_of() { [ -s "$1" ] && cat "$1" 2>/dev/null || true; }
stop_pidfile() { # pidfile name: TERM, wait up to 20 s, then KILL
  local p; p=$(pid_of "$1"); [ -n "$p" ] || return 0
  kill "$p" 2>/dev/null || { rm -f "$1"; return 0; }
  for _ in $(seq 1 40); do kill -0 "$p" 2>/dev/null || { rm -f "$1"; return 0; }; sleep 0.5; done
  echo "cluster: $2 (pid $p) ignored SIGTERM for 20 s: killed" >&2; kill -9 "$p" 2>/dev/null || true; rm -f "$1"
}

if [ "$cmd" = stop ]; then
  [ -d "$dir" ] || exit 0
  dir=$(cd "$dir" && pwd)
  if [ -r "$dir/slurm.conf" ]; then SLURM_CONF=$dir/slurm.conf scancel --full --quiet --user="$(id -un)" 2>/dev/null || true; fi
  stop_pidfile "$dir/slurmd.pid" slurmd
  stop_pidfile "$dir/slurmctld.pid" slurmctld
  stop_pidfile "$dir/slurmdbd.pid" slurmdbd
  stop_pidfile "$dir/mysqld.pid" mariadbd
  stop_pidfile "$dir/munge/munged.pid" munged
  echo "cluster: stopped (logs in $dir/log)"
  exit 0
fi
[ "$cmd" = start ] || { echo "usage: $0 start|stop DIR" >&2; exit 2; }

[ "$(id -u)" -eq 0 ] || die "needs root (munged runs as user munge, the SLURM daemons as root)"
for b in munged mariadbd mariadb-install-db mariadb slurmdbd slurmctld slurmd sacctmgr sinfo; do
  command -v "$b" > /dev/null || die "$b not found: apt-get install slurm-wlm slurmdbd munge mariadb-server (bash jobscripts/quickstart.sh test does it)"
done
id munge > /dev/null 2>&1 || die "user munge missing: reinstall the munge package"
mkdir -p "$dir"; dir=$(cd "$dir" && pwd)
[ ! -s "$dir/slurmctld.pid" ] || ! kill -0 "$(cat "$dir/slurmctld.pid")" 2>/dev/null || die "a cluster already runs in $dir: stop it first ($0 stop $dir)"
for p in "$port" $((port + 1)) $((port + 2)) $((port + 3)); do
  if (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then die "port $p is in use: set PDEDIFF_SLURM_PORT_BASE to a free range of 4 ports"; fi
done
rm -rf "$dir/state" "$dir/spool" "$dir/log" "$dir/db" "$dir/munge" "$dir/tmp"
mkdir -p "$dir/state" "$dir/spool" "$dir/log" "$dir/db" "$dir/munge" "$dir/tmp"
# munged checks that its socket directory is not writable by others and its key is private
chown munge:munge "$dir/munge"; chmod 755 "$dir/munge"
head -c 1024 /dev/urandom > "$dir/munge/munge.key"; chown munge:munge "$dir/munge/munge.key"; chmod 600 "$dir/munge/munge.key"
su -s /bin/sh munge -c "munged --socket=$dir/munge/munge.socket --key-file=$dir/munge/munge.key --log-file=$dir/munge/munged.log --pid-file=$dir/munge/munged.pid --seed-file=$dir/munge/munged.seed" \
  || die "munged did not start: see $dir/munge/munged.log"

# accounting database (sacct): a private MariaDB on 127.0.0.1:PORT+3
dbpass=pdediff$RANDOM$RANDOM
mariadb-install-db --no-defaults --datadir="$dir/db" --user=root --auth-root-authentication-method=socket --skip-test-db > "$dir/log/mariadb-install.log" 2>&1 \
  || die "mariadb-install-db failed: see $dir/log/mariadb-install.log"
mariadbd --no-defaults --datadir="$dir/db" --user=root --port=$((port + 3)) --bind-address=127.0.0.1 --socket="$dir/mysqld.sock" \
  --pid-file="$dir/mysqld.pid" --log-error="$dir/log/mariadb.log" --innodb-buffer-pool-size=16M --innodb-log-file-size=8M > /dev/null 2>&1 &
for _ in $(seq 1 60); do [ -S "$dir/mysqld.sock" ] && break; sleep 0.5; done
[ -S "$dir/mysqld.sock" ] || die "MariaDB did not start: see $dir/log/mariadb.log"
mariadb --no-defaults --socket="$dir/mysqld.sock" -u root -e \
  "CREATE USER 'slurm'@'127.0.0.1' IDENTIFIED BY '$dbpass'; GRANT ALL ON slurm_acct_db.* TO 'slurm'@'127.0.0.1';" \
  || die "could not create the slurm database user: see $dir/log/mariadb.log"

# the node as slurmd sees it (not nproc: it follows OMP_NUM_THREADS)
cpus=$(slurmd -C | sed -n 's/.* CPUs=\([0-9]*\).*/\1/p'); cpus=${cpus:-$(getconf _NPROCESSORS_ONLN)}
mem=$(slurmd -C | sed -n 's/.*RealMemory=\([0-9]*\).*/\1/p'); mem=${mem:-4000}
fill() {
  sed -e "s|@DIR@|$dir|g" -e "s|@HOST@|$(hostname -s)|g" -e "s|@USER@|$(id -un)|g" -e "s|@CPUS@|$cpus|g" \
      -e "s|@MEM@|$mem|g" -e "s|@MEM_PER_CPU@|$((mem / cpus / 2))|g" -e "s|@CTLD_PORT@|$port|g" \
      -e "s|@SLURMD_PORT@|$((port + 1))|g" -e "s|@DBD_PORT@|$((port + 2))|g" -e "s|@DB_PORT@|$((port + 3))|g" \
      -e "s|@DB_PASS@|$dbpass|g" "$1" > "$2"
}
fill "$here/slurm.conf.in" "$dir/slurm.conf"
# slurmdbd reads slurmdbd.conf beside $SLURM_CONF and insists on mode 600
fill "$here/slurmdbd.conf.in" "$dir/slurmdbd.conf"; chmod 600 "$dir/slurmdbd.conf"
export SLURM_CONF=$dir/slurm.conf

slurmdbd || die "slurmdbd did not start: see $dir/log/slurmdbd.log"
ok=0; for _ in $(seq 1 60); do if sacctmgr -n list cluster > /dev/null 2>&1; then ok=1; break; fi; sleep 0.5; done
[ $ok = 1 ] || die "slurmdbd does not answer: see $dir/log/slurmdbd.log"
sacctmgr -i add cluster pdediff > /dev/null
sacctmgr -i add account pdediff Description=pdediff Organization=pdediff > /dev/null
sacctmgr -i add user "$(id -un)" Account=pdediff > /dev/null

slurmctld -f "$dir/slurm.conf" || die "slurmctld did not start: see $dir/log/slurmctld.log"
slurmd -f "$dir/slurm.conf" || die "slurmd did not start: see $dir/log/slurmd.log"
state=""; for _ in $(seq 1 60); do state=$(sinfo -h -o %T 2>/dev/null | head -1); [ "$state" = idle ] && break; sleep 0.5; done
[ "$state" = idle ] || die "the node is '$state', not idle, after 30 s: see $dir/log/slurmctld.log and slurmd.log"
echo "cluster: up ($(hostname -s), $cpus CPUs, $mem MB; ports $port-$((port + 3))); export SLURM_CONF=$dir/slurm.conf"
