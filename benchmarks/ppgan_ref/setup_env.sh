#!/usr/bin/env bash
# Create (once) the isolated virtual environment that runs PaddleGAN's ppgan 2.1.0
# FOMM on paddlepaddle 2.6.2 for the reference-speed benchmark.
#
# Usage: benchmarks/ppgan_ref/setup_env.sh [VENV_DIR]
#   VENV_DIR defaults to $PPGAN_REF_VENV or ~/.cache/ppgan-fom/ppgan-venv.
#   PYTHON (env) selects the base interpreter (default: python3; paddle 2.6.2
#   ships wheels for CPython 3.8-3.12).
#   PPGAN_REF_FORCE=1 (env) re-runs the installation even if the marker exists.
#
# Progress goes to stderr; the last stdout line is
#   PPGAN_REF_PYTHON=<VENV_DIR>/bin/python
# so a caller can pick up the interpreter to run runner.py / make_weights.py with.
#
# ppgan is installed with --no-deps: its declared requirements (librosa, numba,
# matplotlib, imageio-ffmpeg, ...) are not needed to import the FOMM modules.
# The list below is the minimal set found by importing
#   ppgan.models.generators.occlusion_aware, ppgan.modules.keypoint_detector,
#   ppgan.utils.animate
# (which executes ppgan/models/__init__.py and so imports every ppgan model)
# with the fluid stand-in from fluid_shim/ in place, plus PyYAML for --config <yaml>.
set -euo pipefail

log() { echo "[ppgan_ref/setup_env] $*" >&2; }

VENV_DIR="${1:-${PPGAN_REF_VENV:-$HOME/.cache/ppgan-fom/ppgan-venv}}"
PYTHON="${PYTHON:-python3}"
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

# Everything that determines the environment; the marker stores it so a change
# of this list triggers a re-install.
PADDLE_SPEC="paddlepaddle==2.6.2"
PPGAN_SPEC="ppgan==2.1.0"
# Constraints for paddle's own dependencies: paddle 2.6 needs numpy 1.x.
CONSTRAINTS=(
  "numpy>=1.23,<2"
  "protobuf>=3.20.2,<5"
)
# ppgan's import-time needs (installed with --no-deps, pinned for reproducibility).
PPGAN_IMPORT_DEPS=(
  "opencv-python-headless==4.11.0.86"  # cv2; 4.11 = the version the golden vectors used (README 8.2)
  "scipy==1.13.1"                      # scipy.spatial.ConvexHull (normalize_kp), scipy.ndimage (skimage)
  "scikit-image==0.24.0"               # ppgan/modules/wing.py: skimage.filters.gaussian
  "lazy_loader==0.4"                   # scikit-image
  "packaging==24.2"                    # scikit-image
  "munch==4.0.0"                       # ppgan/modules/wing.py
  "six==1.17.0"                        # ppgan stargan v2 generator
  "tqdm==4.67.1"                       # ppgan apps / utils
  "requests==2.32.3"                   # ppgan/utils/download.py
  "urllib3==2.2.3"                     # requests
  "idna==3.10"                         # requests
  "certifi==2024.8.30"                 # requests
  "charset-normalizer==3.4.0"          # requests (silences RequestsDependencyWarning)
  "PyYAML==6.0.2"                      # runner.py --config <yaml>
)
SPEC="$PADDLE_SPEC $PPGAN_SPEC ${CONSTRAINTS[*]} ${PPGAN_IMPORT_DEPS[*]} shim-v1"
MARKER="$VENV_DIR/.ppgan_ref_ready"

if [[ "${PPGAN_REF_FORCE:-0}" != "1" && -f "$MARKER" && -x "$VENV_DIR/bin/python" ]] \
   && [[ "$(cat "$MARKER")" == "$SPEC" ]]; then
  log "already set up: $VENV_DIR (marker $MARKER)"
  echo "PPGAN_REF_PYTHON=$VENV_DIR/bin/python"
  exit 0
fi

pyver="$("$PYTHON" -c 'import sys; print("%d.%d" % sys.version_info[:2])')"
case "$pyver" in
  3.8|3.9|3.10|3.11|3.12) ;;
  *) log "ERROR: $PYTHON is Python $pyver; paddlepaddle 2.6.2 needs 3.8-3.12 (set PYTHON=...)"; exit 2;;
esac

log "creating venv at $VENV_DIR with $PYTHON (Python $pyver)"
mkdir -p "$(dirname "$VENV_DIR")"
rm -f "$MARKER"
"$PYTHON" -m venv "$VENV_DIR"
PIP=("$VENV_DIR/bin/python" -m pip --disable-pip-version-check)
pip_install() {
  # Quiet pip; on failure show its output and stop.
  local out
  if ! out="$("${PIP[@]}" install -q "$@" 2>&1)"; then
    echo "$out" | grep -v 'is ignored: it is neither' >&2
    log "ERROR: pip install $* failed"
    exit 1
  fi
  echo "$out" | grep -v -e 'is ignored: it is neither' -e '^$' >&2 || true
}

cfile="$VENV_DIR/ppgan_ref_constraints.txt"
printf '%s\n' "${CONSTRAINTS[@]}" > "$cfile"

log "installing $PADDLE_SPEC (with its own dependencies, numpy<2)"
pip_install -c "$cfile" "$PADDLE_SPEC" "numpy<2"
log "installing $PPGAN_SPEC --no-deps and the import-time dependencies"
pip_install --no-deps "$PPGAN_SPEC" "${PPGAN_IMPORT_DEPS[@]}"

log "checking the imports"
( cd "$HERE" && "$VENV_DIR/bin/python" -B - <<'EOF'
import sys
import zlib  # must precede paddle (golden README 9.3)
import paddle
import fluid_shim
fluid_shim.install()
import ppgan
from ppgan.models.generators.occlusion_aware import OcclusionAwareGenerator  # noqa: F401
from ppgan.modules.keypoint_detector import KPDetector  # noqa: F401
from ppgan.utils.animate import normalize_kp  # noqa: F401
import numpy, cv2, scipy, yaml
assert numpy.__version__.startswith("1."), numpy.__version__
print("paddle %s, ppgan %s, numpy %s, cv2 %s, scipy %s" % (
    paddle.__version__, ppgan.__version__, numpy.__version__, cv2.__version__, scipy.__version__),
    file=sys.stderr)
EOF
) >&2

echo "$SPEC" > "$MARKER"
log "ready: $VENV_DIR"
echo "PPGAN_REF_PYTHON=$VENV_DIR/bin/python"
