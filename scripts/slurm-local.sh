#!/usr/bin/env bash
# A private single-node Slurm on localhost, for the `slurm` tests and for trying `bench grid
# --executor slurm` on a laptop:  scripts/slurm-local.sh start|stop|status|env
#
# Runs munged, MariaDB (bound to 127.0.0.1, for accounting), slurmdbd, slurmctld and slurmd with
# every socket, state, spool, log and PID file under $SLURM_LOCAL_DIR (default
# /tmp/slurm-local-$USER), on non-default ports ($SLURM_LOCAL_PORT..+3, default 16817), so it
# touches no system service. `stop` ends exactly the daemons it started (by PID file) and
# removes the folder. Install the packages first: .ci/install-slurm.
# Commands such as sbatch/squeue/sacct need `export SLURM_CONF=...` (printed by `start`/`env`).
set -euo pipefail

DIR="${SLURM_LOCAL_DIR:-/tmp/slurm-local-$(id -un)}"
PORT="${SLURM_LOCAL_PORT:-16817}"
USER_NAME="$(id -un)"
HOST="$(hostname -s)"
CONF="$DIR/etc/slurm.conf"
SOCKET="$DIR/munge/munge.socket.2"
DAEMONS=(slurmd slurmctld slurmdbd mariadb munged)  # stop order

say() { echo "slurm-local: $*"; }
die() { echo "slurm-local: error: $*" >&2; exit 1; }
pid_of() { local f="$DIR/run/$1.pid"; [ -s "$f" ] && cat "$f" || true; }
alive() { local p; p="$(pid_of "$1")"; [ -n "$p" ] && kill -0 "$p" 2>/dev/null; }
wait_for() {  # wait_for SECONDS DESCRIPTION COMMAND...
  local deadline=$((SECONDS + $1)) what="$2"; shift 2
  until "$@" >/dev/null 2>&1; do
    [ "$SECONDS" -lt "$deadline" ] || die "$what did not come up (logs: $DIR/log/)"
    sleep 0.2
  done
}

write_configs() {
  local cpus mem
  cpus="$(slurmd -C | sed -n 's/.*CPUs=\([0-9]*\).*/\1/p' | head -1)"
  # RealMemory as slurmd measures it: without it any --mem request is refused.
  mem="$(slurmd -C | sed -n 's/.*RealMemory=\([0-9]*\).*/\1/p' | head -1)"
  cat >"$CONF" <<EOF
ClusterName=local
SlurmctldHost=$HOST(127.0.0.1)
SlurmctldPort=$PORT
SlurmdPort=$((PORT + 1))
SlurmUser=$USER_NAME
SlurmdUser=$USER_NAME
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$SOCKET
StateSaveLocation=$DIR/state
SlurmdSpoolDir=$DIR/spool/%n
SlurmctldPidFile=$DIR/run/slurmctld.pid
SlurmdPidFile=$DIR/run/slurmd.pid
SlurmctldLogFile=$DIR/log/slurmctld.log
SlurmdLogFile=$DIR/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
SchedulerType=sched/backfill
SchedulerParameters=sched_interval=2
MpiDefault=none
SwitchType=switch/none
ReturnToService=2
JobRequeue=1
MinJobAge=600
KillWait=5
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/slurmdbd
AccountingStorageHost=127.0.0.1
AccountingStoragePort=$((PORT + 2))
AccountingStoragePass=$SOCKET
JobCompType=jobcomp/none
NodeName=$HOST NodeAddr=127.0.0.1 CPUs=${cpus:-1} RealMemory=${mem:-1024} State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
EOF
  cat >"$DIR/etc/slurmdbd.conf" <<EOF
AuthType=auth/munge
AuthInfo=socket=$SOCKET
DbdHost=localhost
DbdAddr=127.0.0.1
DbdPort=$((PORT + 2))
SlurmUser=$USER_NAME
PidFile=$DIR/run/slurmdbd.pid
LogFile=$DIR/log/slurmdbd.log
StorageType=accounting_storage/mysql
StorageHost=127.0.0.1
StoragePort=$((PORT + 3))
StorageUser=slurm
StoragePass=$(cat "$DIR/etc/db.pass")
StorageLoc=slurm_acct_db
EOF
  chmod 600 "$DIR/etc/slurmdbd.conf"  # slurmdbd refuses a config others can read
}

start_munge() {
  # munged refuses a socket whose parent directories others cannot traverse.
  chmod 755 "$DIR" "$DIR/munge"
  if [ ! -s "$DIR/munge/munge.key" ]; then
    dd if=/dev/urandom of="$DIR/munge/munge.key" bs=1024 count=1 status=none
  fi
  chmod 400 "$DIR/munge/munge.key"
  munged --force --socket="$SOCKET" --key-file="$DIR/munge/munge.key" \
    --pid-file="$DIR/run/munged.pid" --log-file="$DIR/log/munged.log" \
    --seed-file="$DIR/munge/munged.seed"
  wait_for 10 munged bash -c "munge --socket='$SOCKET' -n | unmunge --socket='$SOCKET'"
}

start_mariadb() {
  local sock="$DIR/mysql/mysqld.sock" init=0
  if [ ! -d "$DIR/mysql/data/mysql" ]; then
    init=1
    mariadb-install-db --no-defaults --datadir="$DIR/mysql/data" --user="$USER_NAME" \
      --auth-root-authentication-method=socket --auth-root-socket-user="$USER_NAME" \
      --skip-test-db >"$DIR/log/mariadb-install.log" 2>&1 ||
      die "mariadb-install-db failed (see $DIR/log/mariadb-install.log)"
  fi
  setsid mariadbd --no-defaults --datadir="$DIR/mysql/data" --socket="$sock" \
    --port=$((PORT + 3)) --bind-address=127.0.0.1 --pid-file="$DIR/run/mariadb.pid" \
    --user="$USER_NAME" --log-error="$DIR/log/mariadb.log" --innodb-buffer-pool-size=64M \
    --skip-log-bin </dev/null >/dev/null 2>&1 &
  wait_for 30 mariadb mariadb --no-defaults --socket="$sock" -u root -e "SELECT 1"
  if [ "$init" -eq 1 ]; then
    local pass
    pass="$(cat "$DIR/etc/db.pass")"
    mariadb --no-defaults --socket="$sock" -u root -e \
      "CREATE USER 'slurm'@'127.0.0.1' IDENTIFIED BY '$pass';
       GRANT ALL ON slurm_acct_db.* TO 'slurm'@'127.0.0.1'; FLUSH PRIVILEGES;"
  fi
}

print_env() { echo "export SLURM_CONF=$CONF"; }

cmd_start() {
  command -v slurmctld >/dev/null 2>&1 || [ -x /usr/sbin/slurmctld ] ||
    die "Slurm is not installed (run .ci/install-slurm)"
  export PATH="$PATH:/usr/sbin"
  if alive slurmctld && alive slurmd; then
    say "already running in $DIR"
    print_env
    return 0
  fi
  mkdir -p "$DIR"/{etc,munge,run,log,state,spool,mysql}
  [ -s "$DIR/etc/db.pass" ] || { head -c 18 /dev/urandom | base64 | tr -d '/+=' >"$DIR/etc/db.pass"; }
  chmod 600 "$DIR/etc/db.pass"
  write_configs
  export SLURM_CONF="$CONF"
  alive munged || start_munge
  alive mariadb || start_mariadb
  if ! alive slurmdbd; then
    slurmdbd  # reads slurmdbd.conf beside $SLURM_CONF
    wait_for 30 slurmdbd bash -c "exec 3<>/dev/tcp/127.0.0.1/$((PORT + 2))"
  fi
  alive slurmctld || slurmctld -f "$CONF"
  wait_for 20 slurmctld scontrol ping
  alive slurmd || slurmd -f "$CONF"
  wait_for 20 "the node" bash -c "sinfo -h -N -o %T | grep -Eq '^(idle|mixed|allocated)'"
  # slurmctld registers the cluster with slurmdbd; wait until sacct answers.
  wait_for 20 "accounting" sacct -n -X -S now
  say "running in $DIR (node $HOST, partition debug)"
  print_env
}

cmd_stop() {
  local name pid
  for name in "${DAEMONS[@]}"; do
    pid="$(pid_of "$name")"
    [ -n "$pid" ] && kill "$pid" 2>/dev/null || continue
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
    kill -0 "$pid" 2>/dev/null && kill -9 "$pid" 2>/dev/null || true
  done
  if [ -d "$DIR" ] && [ "${SLURM_LOCAL_KEEP:-0}" != 1 ]; then rm -rf "$DIR"; fi
  say "stopped"
}

cmd_status() {
  local name ok=0
  for name in "${DAEMONS[@]}"; do
    if alive "$name"; then echo "$name: running (pid $(pid_of "$name"))"; else echo "$name: stopped"; ok=1; fi
  done
  if [ "$ok" -eq 0 ]; then SLURM_CONF="$CONF" sinfo 2>&1 || ok=1; print_env; fi
  return "$ok"
}

case "${1:-}" in
  start) cmd_start ;;
  stop) cmd_stop ;;
  status) cmd_status ;;
  env) print_env ;;
  *) echo "usage: $0 start|stop|status|env" >&2; exit 2 ;;
esac
