#!/usr/bin/env bash
# A Cloud TPU VM (one host or a pod slice): create it, put this code on every worker, install, and run the
# same `python -m gesture_jax.main ...` on every worker. No process flags are passed: gesture_jax.infra.parallel
# detects the Cloud TPU environment and JAX finds the other workers itself. Commands in launch/README.md.
set -euo pipefail

if ((BASH_VERSINFO[0] < 4 || (BASH_VERSINFO[0] == 4 && BASH_VERSINFO[1] < 4))); then
  echo "tpu_pod.sh: error: needs bash >= 4.4, this is $BASH_VERSION (macOS: brew install bash)" >&2
  exit 1
fi

REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# uv brings Python 3.12 to the workers (TPU VM images ship Python 3.10) without apt or sudo; pinned so that
# every setup installs the same way. gcsfs lets etils.epath read and write gs:// workdirs without
# TensorFlow. jax[tpu] takes its version from requirements.txt on the worker.
UV_VERSION=0.13.8
TPU_PACKAGES=(gcsfs==2026.10.1 --find-links https://storage.googleapis.com/jax-releases/libtpu_releases.html)

usage() {
  cat <<'EOF'
Usage: launch/tpu_pod.sh [options] COMMAND [-- ARGS...]

Commands:
  create   create the TPU VM unless it exists (ARGS: extra flags for `gcloud compute tpus tpu-vm create`)
  setup    copy the code to every worker (or clone it there, --repo) and install Python 3.12 (uv),
           requirements.txt, jax[tpu] and gcsfs
  run      start `python -m gesture_jax.main ARGS` on every worker and follow it until it ends; the run
           goes on if the connection drops (see logs, stop)
  exec     run the command ARGS on --worker, in the code folder with the environment on the PATH
  logs     print the end of a run's log from every worker (--follow: until the run ends)
  stop     end the active run on every worker
  delete   delete the TPU VM

Options (environment variable in brackets):
  --name NAME        TPU VM name [TPU_NAME] (required)
  --zone ZONE        zone, e.g. us-central2-b [TPU_ZONE] (required)
  --project ID       Google Cloud project [TPU_PROJECT] (default: gcloud's configured project)
  --type TYPE        create: accelerator type, e.g. v4-8 or v4-32 [TPU_TYPE]
  --version VERSION  create: TPU software version [TPU_VERSION] (default: tpu-ubuntu2204-base)
  --spot             create: a Spot TPU VM (cheaper, can be preempted)
  --repo URL         setup: clone URL on every worker instead of copying `git archive` of this checkout
  --ref REF          setup: commit, branch or tag to copy or check out (default: this checkout's HEAD)
  --remote-dir DIR   code folder on the workers, relative to the home folder [TPU_REMOTE_DIR]
                     (default: gesture_jax); the environment goes to DIR_venv, run logs to DIR_logs
  --env KEY=VALUE    run: an environment variable for the run (repeatable)
  --run-id ID        run: name of the run and of its log (default: UTC time); logs: which run
                     (default: the active one, else the latest)
  --detach           run: return once the run has started on every worker
  --worker W         exec, logs: workers, e.g. 0, 0,2, 1-3 or all (default: all)
  --lines N          logs: lines per worker (default: 50)
  --follow           logs: follow the active run until it ends
  --yes              delete: no confirmation prompt
  --dry-run          print the gcloud and git commands instead of running them
  -h, --help         this message

Examples:
  export TPU_NAME=gesture-v4 TPU_ZONE=us-central2-b
  launch/tpu_pod.sh create --type v4-32
  launch/tpu_pod.sh setup
  launch/tpu_pod.sh run -- --config configs/demo.py --workdir gs://BUCKET/demo \
      --config.data.data_dir=../tfds
  launch/tpu_pod.sh delete
EOF
}

die() {
  printf 'tpu_pod.sh: error: %s\n' "$*" >&2
  exit 1
}

usage_error() {
  printf 'tpu_pod.sh: error: %s\n\n' "$*" >&2
  usage >&2
  exit 2
}

note() { printf 'tpu_pod.sh: %s\n' "$*" >&2; }

# Runs a command given as an array, or with --dry-run prints it, quoted so that it can be pasted.
run_cmd() {
  if ((DRY_RUN)); then
    printf '+'
    printf ' %q' "$@"
    printf '\n'
  else
    "$@"
  fi
}

# The value of --NAME=V or --NAME V among the arguments that follow NAME (absl's two spellings).
flag_value() {
  local name=$1
  shift
  while (($#)); do
    case $1 in
      "--$name="*)
        printf '%s\n' "${1#*=}"
        return 0
        ;;
      "--$name")
        if (($# >= 2)); then
          printf '%s\n' "$2"
          return 0
        fi
        ;;
    esac
    shift
  done
  return 1
}

# ---------------------------------------------------------------------------------------------------------
# What the workers run. Each remote_* function is sent with `declare -f`, together with the _remote_*
# helpers, and called with its arguments quoted by `printf %q`: it runs as real code on the worker, in bash,
# from the home folder, and no argument is ever re-split or expanded there.

# Sets code, venv and logs (the caller's locals) from the folder name, relative to the home folder.
_remote_paths() {
  local dir=$HOME/$1
  code=$dir
  venv=${dir}_venv
  logs=${dir}_logs
}

_remote_worker_id() {
  curl -sf -m 5 -H 'Metadata-Flavor: Google' \
    http://metadata.google.internal/computeMetadata/v1/instance/attributes/agent-worker-number ||
    hostname
}

# Prints "RUN_ID PGID" of the run still alive on this worker; fails if there is none.
_remote_active() {
  local logs=$1 id pgid
  if [[ ! -f $logs/active ]] || ! read -r id pgid <"$logs/active"; then
    return 1
  fi
  # The process id may have been reused since: only the process started for this run counts.
  if ! ps -o args= -p "$pgid" 2>/dev/null | grep -qF -- "gesture_jax-run-$id "; then
    return 1
  fi
  echo "$id $pgid"
}

# Whether a process of session SID lives. setsid made the run's session id its process group id; a process
# that has exited but is not yet reaped (state Z) does not count.
_remote_alive() {
  # shellcheck disable=SC2009 # pgrep would count the zombies too
  ps -o stat= -s "$1" | grep -qv '^Z'
}

# Runs a remote_* function with each line of its output prefixed by the worker's number.
_remote_main() {
  set -o pipefail
  local worker
  worker=$(_remote_worker_id)
  "$@" 2>&1 | sed -u "s/^/[worker $worker] /"
}

remote_setup() { # DIR SOURCE(archive|git) REPO REF UV_VERSION PACKAGES...
  set -euo pipefail
  local code venv logs active
  _remote_paths "$1"
  local source=$2 repo=$3 ref=$4 uv_version=$5
  shift 5
  if active=$(_remote_active "$logs"); then
    echo "error: run ${active% *} is active here; end it with tpu_pod.sh stop before replacing its code" >&2
    return 1
  fi
  rm -rf "$code.new"
  if [[ $source == archive ]]; then
    mkdir -p "$code.new"
    tar -xzf "$code.tar.gz" -C "$code.new"
    rm -f "$code.tar.gz"
  else
    git clone --quiet "$repo" "$code.new"
    git -C "$code.new" checkout --quiet "$ref"
    echo "code: $repo at $(git -C "$code.new" rev-parse HEAD)"
  fi
  rm -rf "$code"
  mv "$code.new" "$code"

  export PATH=$HOME/.local/bin:$PATH
  local have
  have=$(uv --version 2>/dev/null || true)
  have=${have#uv }
  if [[ ${have%% *} != "$uv_version" ]]; then
    curl -LsSf "https://astral.sh/uv/$uv_version/install.sh" | env UV_UNMANAGED_INSTALL="$HOME/.local/bin" sh
  fi
  if ! "$venv/bin/python" -c 'import sys; assert sys.version_info[:2] == (3, 12)' 2>/dev/null; then
    rm -rf "$venv"
    uv venv --python 3.12 "$venv"
  fi
  local jax_version
  jax_version=$(sed -n 's/^jax==\([^ ;#]*\).*/\1/p' "$code/requirements.txt")
  if [[ -z $jax_version ]]; then
    echo "error: $code/requirements.txt pins no jax==VERSION" >&2
    return 1
  fi
  uv pip install --python "$venv/bin/python" -r "$code/requirements.txt" "jax[tpu]==$jax_version" "$@"
  uv pip check --python "$venv/bin/python"
  echo "installed into $venv"
}

remote_run() { # DIR RUN_ID DETACH [KEY=VALUE...] -- ARGS...
  set -euo pipefail
  local code venv logs
  _remote_paths "$1"
  local run_id=$2 detach=$3 envs=()
  shift 3
  while [[ $1 != -- ]]; do
    envs+=("$1")
    shift
  done
  shift
  if [[ ! -x $venv/bin/python ]]; then
    echo "error: no environment at $venv: run tpu_pod.sh setup first" >&2
    return 1
  fi
  mkdir -p "$logs"
  local log=$logs/$run_id.log status_file=$logs/$run_id.status active id pgid
  if active=$(_remote_active "$logs"); then
    read -r id pgid <<<"$active"
    if [[ $id != "$run_id" ]]; then
      echo "error: run $id is still active (process group $pgid); end it with tpu_pod.sh stop" >&2
      return 1
    fi
    # Started by an earlier connection to this worker (gcloud retries a dropped one): follow it.
    echo "run $run_id is already running here; following it"
  elif [[ -e $log ]]; then
    echo "error: run $run_id has already run here ($log); choose another --run-id" >&2
    return 1
  else
    cd "$code"
    : >"$log" # there before tail looks for it
    # nohup and setsid: the run outlives this connection, in a process group of its own that stop ends.
    # A background job of a non-interactive shell leads no group, so setsid needs no fork and $! is the
    # new group's id. The wrapper records the exit status, which the run's own output cannot carry.
    # shellcheck disable=SC2016 # the inner bash expands them
    nohup setsid bash -c '"${@:2}"; echo $? >"$1"' "gesture_jax-run-$run_id" "$status_file" \
      env "${envs[@]}" "$venv/bin/python" -m gesture_jax.main "$@" >>"$log" 2>&1 </dev/null &
    pgid=$!
    echo "$run_id $pgid" >"$logs/active"
    echo "started run $run_id (process group $pgid), log $log"
  fi
  if ((detach)); then
    return 0
  fi
  # The run's exit status is in status_file; tail's own says nothing about the run.
  tail -n +1 -s 0.5 --pid="$pgid" -F "$log" 2>/dev/null || true
  if [[ ! -f $status_file ]]; then
    echo "run $run_id ended without an exit status (stopped or killed)"
    return 1
  fi
  local status
  status=$(<"$status_file")
  echo "run $run_id exited with status $status"
  return "$status"
}

remote_exec() { # DIR COMMAND...
  set -euo pipefail
  local code venv logs
  _remote_paths "$1"
  shift
  if [[ ! -d $code ]]; then
    echo "error: no code at $code: run tpu_pod.sh setup first" >&2
    return 1
  fi
  cd "$code"
  export VIRTUAL_ENV=$venv PATH=$venv/bin:$PATH
  "$@"
}

remote_logs() { # DIR RUN_ID LINES FOLLOW
  set -euo pipefail
  local code venv logs
  _remote_paths "$1"
  local run_id=$2 lines=$3 follow=$4 active id="" pgid="" log
  if active=$(_remote_active "$logs"); then
    read -r id pgid <<<"$active"
  fi
  if [[ -z $run_id && -n $id ]]; then
    run_id=$id
  elif [[ -z $run_id ]]; then
    local newest="" f
    for f in "$logs"/*.log; do
      if [[ -e $f && (-z $newest || $f -nt $newest) ]]; then
        newest=$f
      fi
    done
    if [[ -z $newest ]]; then
      echo "no run logs in $logs"
      return 0
    fi
    run_id=$(basename "$newest" .log)
  fi
  log=$logs/$run_id.log
  if [[ ! -f $log ]]; then
    echo "error: no log $log" >&2
    return 1
  fi
  echo "== $log"
  if ((follow)) && [[ $run_id == "$id" ]]; then
    tail -n "$lines" -s 0.5 --pid="$pgid" -F "$log" 2>/dev/null
  else
    tail -n "$lines" "$log"
  fi
}

remote_stop() { # DIR
  set -euo pipefail
  local code venv logs active id pgid i
  _remote_paths "$1"
  if ! active=$(_remote_active "$logs"); then
    echo "no active run"
    return 0
  fi
  read -r id pgid <<<"$active"
  kill -TERM -- "-$pgid" 2>/dev/null || true
  for ((i = 0; i < 150; i++)); do
    _remote_alive "$pgid" || break
    sleep 0.2
  done
  if _remote_alive "$pgid"; then
    kill -KILL -- "-$pgid" 2>/dev/null || true
    echo "run $id did not end within 30 s of SIGTERM: killed"
  fi
  rm -f "$logs/active"
  echo "stopped run $id"
}

# ---------------------------------------------------------------------------------------------------------
# This machine's side.

# ssh_workers WORKERS FUNCTION ARGS...: runs remote FUNCTION ARGS on WORKERS through one gcloud ssh.
ssh_workers() {
  local workers=$1 fn=$2
  shift 2
  local call=("_remote_main" "$fn" "$@") script
  script="$(declare -f _remote_paths _remote_worker_id _remote_active _remote_alive _remote_main "$fn")"
  script+=$'\n'"$(printf '%q ' "${call[@]}")"
  run_cmd "${GCLOUD_TPU[@]}" ssh "$TPU_NAME" "${LOCATION[@]}" --worker="$workers" \
    --command="bash -c $(printf '%q' "$script")"
  if ((DRY_RUN)); then
    # The line above is exact but unreadable; this is the call it makes on each worker.
    printf '#   on worker %s: %s\n' "$workers" "$(printf '%q ' "$fn" "$@")"
  fi
}

cmd_create() {
  [[ -n $TPU_TYPE ]] || usage_error "create needs --type (or TPU_TYPE), e.g. v4-32"
  local describe=("${GCLOUD_TPU[@]}" describe "$TPU_NAME" "${LOCATION[@]}"
    "--format=value(state,acceleratorType)")
  if ((DRY_RUN)); then
    run_cmd "${describe[@]}"
    note "dry run: the create below runs only if describe finds no TPU VM $TPU_NAME"
  else
    local found state type
    if found=$("${describe[@]}" 2>/dev/null); then
      read -r state type <<<"$found"
      [[ $type == "$TPU_TYPE" ]] ||
        die "TPU VM $TPU_NAME exists as $type, not $TPU_TYPE: delete it or choose another --name"
      note "TPU VM $TPU_NAME ($type) exists, state $state: reusing it"
      [[ $state == READY ]] || note "warning: it is not READY; setup and run need a READY TPU VM"
      return 0
    fi
  fi
  local create=("${GCLOUD_TPU[@]}" create "$TPU_NAME" "${LOCATION[@]}" --accelerator-type="$TPU_TYPE"
    --version="$TPU_VERSION")
  ((SPOT)) && create+=(--spot)
  run_cmd "${create[@]}" "${PASSTHROUGH[@]}"
}

cmd_setup() {
  if [[ -n $REPO ]]; then
    local ref=$REF
    if [[ -z $ref ]]; then
      # This checkout's commit: it has to be pushed to REPO for the workers to find it.
      ref=$(git -C "$REPO_ROOT" rev-parse HEAD 2>/dev/null) || usage_error "--repo needs --ref here"
    fi
    note "setup: every worker of $TPU_NAME clones $REPO at $ref"
    ssh_workers all remote_setup "$REMOTE_DIR" git "$REPO" "$ref" "$UV_VERSION" "${TPU_PACKAGES[@]}"
    return
  fi
  git -C "$REPO_ROOT" rev-parse --git-dir >/dev/null 2>&1 ||
    die "$REPO_ROOT is not a git checkout: use --repo URL to clone the code on the workers"
  local ref=${REF:-HEAD} commit
  commit=$(git -C "$REPO_ROOT" rev-parse --verify --quiet "$ref^{commit}") ||
    die "not a commit of this checkout: $ref"
  if [[ $ref == HEAD && -n $(git -C "$REPO_ROOT" status --porcelain --untracked-files=no) ]]; then
    note "warning: uncommitted changes stay here: the workers get commit $commit as committed"
  fi
  note "setup: copying commit $commit to every worker of $TPU_NAME"
  TMP_DIR=$(mktemp -d)
  local tarball=$TMP_DIR/gesture_jax.tar.gz
  run_cmd git -C "$REPO_ROOT" archive --format=tar.gz --output="$tarball" "$commit"
  run_cmd "${GCLOUD_TPU[@]}" scp "$tarball" "$TPU_NAME:$REMOTE_DIR.tar.gz" "${LOCATION[@]}" --worker=all
  ssh_workers all remote_setup "$REMOTE_DIR" archive "" "" "$UV_VERSION" "${TPU_PACKAGES[@]}"
}

cmd_run() {
  ((${#PASSTHROUGH[@]})) ||
    usage_error "run needs the arguments of gesture_jax.main after --," \
      "e.g. -- --config configs/demo.py --workdir gs://BUCKET/demo"
  local workdir
  flag_value config "${PASSTHROUGH[@]}" >/dev/null || usage_error "run: gesture_jax.main needs --config"
  workdir=$(flag_value workdir "${PASSTHROUGH[@]}") || usage_error "run: gesture_jax.main needs --workdir"
  if [[ $workdir != gs://* ]]; then
    note "warning: --workdir $workdir is a folder of each worker; on a pod every worker must see the" \
      "workdir and the feature cache: use gs://BUCKET/PATH"
  fi
  local run_id=${RUN_ID:-$(date -u +%Y%m%d-%H%M%S)}
  note "run $run_id on every worker of $TPU_NAME; each worker logs to ~/${REMOTE_DIR}_logs/$run_id.log"
  ssh_workers all remote_run "$REMOTE_DIR" "$run_id" "$DETACH" "${ENVS[@]}" -- "${PASSTHROUGH[@]}"
  if ((DETACH)); then
    note "follow it with: launch/tpu_pod.sh logs --follow; end it with: launch/tpu_pod.sh stop"
  fi
}

cmd_exec() {
  ((${#PASSTHROUGH[@]})) || usage_error "exec needs a command after --, e.g. -- python -c 'import jax'"
  ssh_workers "$WORKER" remote_exec "$REMOTE_DIR" "${PASSTHROUGH[@]}"
}

cmd_logs() { ssh_workers "$WORKER" remote_logs "$REMOTE_DIR" "$RUN_ID" "$LINES" "$FOLLOW"; }

cmd_stop() { ssh_workers all remote_stop "$REMOTE_DIR"; }

cmd_delete() {
  local delete=("${GCLOUD_TPU[@]}" delete "$TPU_NAME" "${LOCATION[@]}")
  ((YES)) && delete+=(--quiet)
  run_cmd "${delete[@]}"
}

main() {
  TPU_NAME=${TPU_NAME:-} TPU_ZONE=${TPU_ZONE:-} TPU_PROJECT=${TPU_PROJECT:-} TPU_TYPE=${TPU_TYPE:-}
  TPU_VERSION=${TPU_VERSION:-tpu-ubuntu2204-base} REMOTE_DIR=${TPU_REMOTE_DIR:-gesture_jax}
  COMMAND="" REPO="" REF="" RUN_ID="" WORKER=all LINES=50
  SPOT=0 DETACH=0 FOLLOW=0 YES=0 DRY_RUN=0 TMP_DIR=""
  ENVS=() PASSTHROUGH=()
  trap '[[ -z $TMP_DIR ]] || rm -rf "$TMP_DIR"' EXIT

  while (($#)); do
    case $1 in
      --spot=* | --detach=* | --follow=* | --yes=* | --dry-run=*) usage_error "${1%%=*} takes no value" ;;
      --*=*)
        set -- "${1%%=*}" "${1#*=}" "${@:2}"
        continue
        ;;
      -h | --help)
        usage
        exit 0
        ;;
      --name | --zone | --project | --type | --version | --repo | --ref | --remote-dir | --env | --run-id | \
        --worker | --lines)
        (($# >= 2)) || usage_error "$1 needs a value"
        case $1 in
          --name) TPU_NAME=$2 ;;
          --zone) TPU_ZONE=$2 ;;
          --project) TPU_PROJECT=$2 ;;
          --type) TPU_TYPE=$2 ;;
          --version) TPU_VERSION=$2 ;;
          --repo) REPO=$2 ;;
          --ref) REF=$2 ;;
          --remote-dir) REMOTE_DIR=$2 ;;
          --env) ENVS+=("$2") ;;
          --run-id) RUN_ID=$2 ;;
          --worker) WORKER=$2 ;;
          --lines) LINES=$2 ;;
        esac
        shift
        ;;
      --spot) SPOT=1 ;;
      --detach) DETACH=1 ;;
      --follow) FOLLOW=1 ;;
      --yes) YES=1 ;;
      --dry-run) DRY_RUN=1 ;;
      --)
        shift
        PASSTHROUGH=("$@")
        break
        ;;
      -*) usage_error "unknown option $1 (arguments for gesture_jax.main or for exec go after --)" ;;
      *)
        [[ -z $COMMAND ]] || usage_error "unexpected argument '$1' (arguments for the command go after --)"
        COMMAND=$1
        ;;
    esac
    shift
  done

  [[ -n $COMMAND ]] || usage_error "no command given"
  case $COMMAND in
    create | setup | run | exec | logs | stop | delete) ;;
    *) usage_error "unknown command '$COMMAND'" ;;
  esac
  [[ -n $TPU_NAME ]] || usage_error "--name (or TPU_NAME) is required"
  [[ -n $TPU_ZONE ]] || usage_error "--zone (or TPU_ZONE) is required"
  case $COMMAND in
    create | run | exec) ;;
    *) ((${#PASSTHROUGH[@]} == 0)) || usage_error "$COMMAND takes no arguments after --" ;;
  esac
  [[ $WORKER == all || $COMMAND == exec || $COMMAND == logs ]] ||
    usage_error "--worker applies to exec and logs; $COMMAND always runs on every worker"
  # The remote folders are created and replaced with rm -rf: keep them to plain names under the home folder.
  [[ $REMOTE_DIR =~ ^[A-Za-z0-9_][A-Za-z0-9._-]*(/[A-Za-z0-9_][A-Za-z0-9._-]*)*$ ]] ||
    usage_error "--remote-dir must be a plain relative path like gesture_jax, got '$REMOTE_DIR'"
  [[ -z $RUN_ID || $RUN_ID =~ ^[A-Za-z0-9_][A-Za-z0-9._-]*$ ]] ||
    usage_error "--run-id may hold letters, digits, '.', '_' and '-', got '$RUN_ID'"
  [[ $LINES =~ ^[0-9]+$ ]] || usage_error "--lines needs a number, got '$LINES'"
  [[ $WORKER =~ ^(all|[0-9]+(-[0-9]+)?(,[0-9]+(-[0-9]+)?)*)$ ]] ||
    usage_error "--worker takes all, N, N-M or a comma-separated list, got '$WORKER'"
  local assignment
  for assignment in "${ENVS[@]}"; do
    [[ $assignment =~ ^[A-Za-z_][A-Za-z0-9_]*= ]] || usage_error "--env needs KEY=VALUE, got '$assignment'"
  done
  if ((!DRY_RUN)) && ! command -v gcloud >/dev/null; then
    die "gcloud not found: install the Google Cloud CLI (https://cloud.google.com/sdk/docs/install)"
  fi

  GCLOUD_TPU=(gcloud compute tpus tpu-vm)
  LOCATION=(--zone="$TPU_ZONE")
  [[ -z $TPU_PROJECT ]] || LOCATION+=(--project="$TPU_PROJECT")
  "cmd_$COMMAND"
}

main "$@"
