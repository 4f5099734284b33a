#!/usr/bin/env bash
# Installs the Debian packages xfer needs that are missing; idempotent and quiet when
# nothing is missing. Usage: scripts/install-deps.sh [build|test|demo|bench|fixtures]
#   build    compilers and libraries
#   test     build + what the test suite uses (clang for fuzz replay builds, real data,
#            ONNX's backend test suite)
#   demo     build + the embedded corpus's source packages (data, fonts, sklearn digits)
#   bench    demo + the Python reference stack the benchmarks compare against
#   fixtures bench: what tests/ref/*.py need to regenerate fixtures
set -euo pipefail
what=${1:-build}
build=(gcc make cmake pkg-config libopenblas-dev liblapacke-dev zlib1g-dev libpng-dev libjpeg-dev
       libfreetype-dev libcjson-dev libprotobuf-c-dev protobuf-c-compiler libonnx-dev libdnnl-dev)
data=(dataset-fashion-mnist python3-sklearn fonts-dejavu-core fonts-noto-core fonts-freefont-ttf
      fonts-liberation fonts-urw-base35)
py=(python3-numpy python3-scipy python3-sklearn python3-torch python3-torchvision python3-onnx)
case "$what" in
  build) pkgs=("${build[@]}") ;;
  test) pkgs=("${build[@]}" clang libonnx-testdata dataset-fashion-mnist python3-sklearn fonts-dejavu-core fonts-freefont-ttf) ;;
  demo) pkgs=("${build[@]}" "${data[@]}") ;;
  bench|fixtures) pkgs=("${build[@]}" "${data[@]}" "${py[@]}") ;;
  *) echo "install-deps.sh: unknown set '$what' (build|test|demo|bench|fixtures)" >&2; exit 2 ;;
esac
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
echo "install-deps: installing ${missing[*]}" >&2
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO=sudo
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
