#!/usr/bin/env bash
# The ready GPU check: on a machine with an NVIDIA GPU (numba-cuda installed), from the source tree,
# installing nothing, in under 5 minutes: the CUDA tests on the GPU, the MNIST tutorial on
# device="cuda", and fastnn against PyTorch CUDA (benchmarks/gpu.py), written to BENCHMARKS-GPU.md.
# Without a GPU it fails loudly (exit status 1) and writes nothing.
set -euo pipefail
cd "$(dirname "$0")/.."
export PYTHONPATH=.
unset NUMBA_ENABLE_CUDASIM
if [ -z "${FASTNN_DATA_DIR:-}" ]; then
    for dir in ../shared/datasets shared/datasets; do
        if [ -d "$dir/mnist" ]; then export FASTNN_DATA_DIR="$dir"; break; fi
    done
fi
PYTHON="${PYTHON:-python3}"
"$PYTHON" -c "from fastnn.backends import cuda_api; import sys; sys.exit(0 if cuda_api.real_gpu() else 1)" || {
    echo "benchmarks/gpu.sh: no CUDA GPU here (numba-cuda finds none): this check needs one." >&2
    exit 1
}
status=0  # each part runs even when one before it failed; the exit status says whether all passed
echo "== fastnn against PyTorch CUDA"
timeout 90 "$PYTHON" -m benchmarks.gpu --out BENCHMARKS-GPU.md || status=1
echo "== MNIST tutorial on device=cuda"
timeout 60 "$PYTHON" -m fastnn.examples.mnist --device cuda --epochs 2 --verbose 2 || status=1
echo "== CUDA tests on the GPU"
timeout 150 "$PYTHON" -m pytest -q -p no:cacheprovider tests/test_cuda_kernels.py tests/test_cuda_fit.py \
    tests/test_cuda_ptx.py || status=1
exit $status
