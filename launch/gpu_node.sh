#!/usr/bin/env bash
# GPU machines: install the CUDA build of JAX, then run `python -m gesture_jax.main ...` as one process that
# drives every GPU of this node (JAX's default), alone or as one of several nodes: under SLURM's srun
# (launch/slurm_gpu.sbatch; gesture_jax detects srun's environment) or with explicit process flags.
# Commands in launch/README.md.
set -euo pipefail

REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

usage() {
  cat <<'EOF'
Usage: launch/gpu_node.sh [options] setup
       launch/gpu_node.sh [options] run -- ARGS...

Commands:
  setup   create the environment (--venv) with Python 3.12 and install requirements.txt and jax[cudaNN]
  run     run `python -m gesture_jax.main ARGS` on this node, one process for all of its GPUs

Options:
  --venv DIR                 the environment (default: .venv in the repository, as `make env`)
  --python PYTHON            setup: the Python 3.12 that creates it (default: $PYTHON or python3.12)
  --cuda 12|13               setup: CUDA major version of the JAX build (default: 12; 13 needs a newer driver)
  --coordinator HOST:PORT    run: process 0's address, for several nodes without a launcher that JAX
  --num_processes N               detects; give all three, with the same coordinator and N on every node
  --process_id I                  and I = 0..N-1
  --dry-run                  print the commands instead of running them
  -h, --help                 this message

Environment:
  GESTURE_JAX_XLA_DEFAULTS=1  run with settings for large GPU runs: XLA_PYTHON_CLIENT_MEM_FRACTION=0.9 (JAX
                              takes 75% of GPU memory up front by default) and, added to XLA_FLAGS,
                              --xla_gpu_enable_latency_hiding_scheduler=true (overlaps the gradient
                              all-reduce with compute). Values you set yourself are kept.
  JAX_PLATFORMS               default cuda: a broken CUDA install fails at start instead of running on CPU
  JAX_LOCAL_DEVICE_IDS        GPUs of a SLURM task (default, with one task per node: all it can see)

Examples:
  launch/gpu_node.sh setup
  launch/gpu_node.sh run -- --config configs/demo.py --workdir workdirs/demo
  sbatch --nodes=2 --gpus-per-node=8 launch/slurm_gpu.sbatch --config configs/demo.py --workdir /shared/demo
EOF
}

die() {
  printf 'gpu_node.sh: error: %s\n' "$*" >&2
  exit 1
}

usage_error() {
  printf 'gpu_node.sh: error: %s\n\n' "$*" >&2
  usage >&2
  exit 2
}

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

cmd_setup() {
  local jax_version
  jax_version=$(sed -n 's/^jax==\([^ ;#]*\).*/\1/p' "$REPO_ROOT/requirements.txt")
  [[ -n $jax_version ]] || die "$REPO_ROOT/requirements.txt pins no jax==VERSION"
  if [[ ! -x $VENV/bin/python ]]; then
    ((DRY_RUN)) || command -v "$PYTHON_BIN" >/dev/null ||
      die "no $PYTHON_BIN: install Python 3.12, or pass --python PATH (e.g. uv python install 3.12;" \
        "--python \"\$(uv python find 3.12)\")"
    run_cmd "$PYTHON_BIN" -m venv "$VENV"
  fi
  run_cmd "$VENV/bin/python" -m pip install -q --upgrade pip
  # The jax pin of requirements.txt and jax[cudaNN] agree; the extra brings the CUDA libraries as wheels, so
  # only the NVIDIA driver has to be on the machine.
  run_cmd "$VENV/bin/python" -m pip install -r "$REPO_ROOT/requirements.txt" "jax[cuda$CUDA]==$jax_version"
  run_cmd "$VENV/bin/python" -m pip check
}

# JAX_LOCAL_DEVICE_IDS for a SLURM task, printed if this task needs it. JAX's SLURM detection gives each
# task only the GPU numbered SLURM_LOCALID (a task per GPU). With one task per node, as slurm_gpu.sbatch
# runs, that would leave all but one GPU of every node idle: the task gets every GPU it can see instead.
slurm_local_device_ids() {
  [[ -n ${SLURM_LOCALID:-} && -z ${JAX_LOCAL_DEVICE_IDS:-} ]] || return 0
  # Several tasks per node ("2" or "2(x3)"): JAX's one GPU per task is then right.
  [[ ${SLURM_STEP_TASKS_PER_NODE:-${SLURM_TASKS_PER_NODE:-1}} =~ ^1(\(x[0-9]+\))?$ ]] || return 0
  local count ids
  if [[ -n ${CUDA_VISIBLE_DEVICES:-} ]]; then
    IFS=, read -ra ids <<<"$CUDA_VISIBLE_DEVICES"
    count=${#ids[@]}
  else
    count=$(nvidia-smi -L 2>/dev/null | grep -c '^GPU ') || count=0
  fi
  ((count > 0)) ||
    die "this SLURM task sees no GPU: request some (sbatch --gpus-per-node=N) or set JAX_LOCAL_DEVICE_IDS"
  seq -s, 0 $((count - 1))
}

cmd_run() {
  ((${#PASSTHROUGH[@]})) ||
    usage_error "run needs the arguments of gesture_jax.main after --," \
      "e.g. -- --config configs/demo.py --workdir workdirs/demo"
  local flags=()
  if [[ -n $COORDINATOR || -n $NUM_PROCESSES || -n $PROCESS_ID ]]; then
    [[ -n $COORDINATOR && -n $NUM_PROCESSES && -n $PROCESS_ID ]] ||
      usage_error "--coordinator, --num_processes and --process_id go together"
    [[ $COORDINATOR =~ ^[^:]+:[0-9]+$ ]] || usage_error "--coordinator needs HOST:PORT, got '$COORDINATOR'"
    [[ $NUM_PROCESSES =~ ^[1-9][0-9]*$ ]] || usage_error "--num_processes needs a positive number"
    if [[ ! $PROCESS_ID =~ ^(0|[1-9][0-9]*)$ ]] || ((PROCESS_ID >= NUM_PROCESSES)); then
      usage_error "--process_id needs a number in 0..$((NUM_PROCESSES - 1)), got '$PROCESS_ID'"
    fi
    flags=(--coordinator_address="$COORDINATOR" --num_processes="$NUM_PROCESSES" --process_id="$PROCESS_ID")
  fi

  local envs=() ids
  [[ -n ${JAX_PLATFORMS:-} ]] || envs+=(JAX_PLATFORMS=cuda)
  if [[ ${GESTURE_JAX_XLA_DEFAULTS:-0} == 1 ]]; then
    [[ -n ${XLA_PYTHON_CLIENT_MEM_FRACTION:-} ]] || envs+=(XLA_PYTHON_CLIENT_MEM_FRACTION=0.9)
    envs+=("XLA_FLAGS=${XLA_FLAGS:+$XLA_FLAGS }--xla_gpu_enable_latency_hiding_scheduler=true")
  fi
  ids=$(slurm_local_device_ids)
  [[ -z $ids ]] || envs+=("JAX_LOCAL_DEVICE_IDS=$ids")

  ((DRY_RUN)) || [[ -x $VENV/bin/python ]] ||
    die "no environment at $VENV: run launch/gpu_node.sh setup first"
  local cmd=("$VENV/bin/python" -m gesture_jax.main "${PASSTHROUGH[@]}" "${flags[@]}")
  ((${#envs[@]} == 0)) || cmd=(env "${envs[@]}" "${cmd[@]}")
  cd "$REPO_ROOT"
  run_cmd "${cmd[@]}"
}

main() {
  VENV=$REPO_ROOT/.venv PYTHON_BIN=${PYTHON:-python3.12} CUDA=12
  COORDINATOR="" NUM_PROCESSES="" PROCESS_ID="" COMMAND="" DRY_RUN=0 PASSTHROUGH=()

  while (($#)); do
    case $1 in
      --dry-run=*) usage_error "--dry-run takes no value" ;;
      --*=*)
        set -- "${1%%=*}" "${1#*=}" "${@:2}"
        continue
        ;;
      -h | --help)
        usage
        exit 0
        ;;
      --venv | --python | --cuda | --coordinator | --num_processes | --process_id)
        (($# >= 2)) || usage_error "$1 needs a value"
        case $1 in
          --venv) VENV=$2 ;;
          --python) PYTHON_BIN=$2 ;;
          --cuda) CUDA=$2 ;;
          --coordinator) COORDINATOR=$2 ;;
          --num_processes) NUM_PROCESSES=$2 ;;
          --process_id) PROCESS_ID=$2 ;;
        esac
        shift
        ;;
      --dry-run) DRY_RUN=1 ;;
      --)
        shift
        PASSTHROUGH=("$@")
        break
        ;;
      -*) usage_error "unknown option $1 (arguments for gesture_jax.main go after --)" ;;
      *)
        [[ -z $COMMAND ]] ||
          usage_error "unexpected argument '$1' (arguments for gesture_jax.main go after --)"
        COMMAND=$1
        ;;
    esac
    shift
  done

  [[ -n $COMMAND ]] || usage_error "no command given"
  [[ $CUDA == 12 || $CUDA == 13 ]] || usage_error "--cuda takes 12 or 13, got '$CUDA'"
  [[ $VENV == /* ]] || VENV=$PWD/$VENV # run changes to the repository folder
  case $COMMAND in
    setup)
      ((${#PASSTHROUGH[@]} == 0)) || usage_error "setup takes no arguments after --"
      cmd_setup
      ;;
    run) cmd_run ;;
    *) usage_error "unknown command '$COMMAND'" ;;
  esac
}

main "$@"
