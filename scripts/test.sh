#!/usr/bin/env bash
# drover's whole test suite, as the README's second command and as CI run it:
# installs what the tests need (Debian packages, Python test tools), brings up
# the lab of Debian hosts, runs every Rust test and the lab's own checks, and
# takes the lab down again even when tests fail.
set -euo pipefail

cd "$(dirname "$(readlink -f "$0")")/.."

# --- what the tests need ------------------------------------------------------
need_pkgs=()
command -v sshd >/dev/null 2>&1 || [ -x /usr/sbin/sshd ] || need_pkgs+=(openssh-server)
command -v ssh >/dev/null 2>&1 || need_pkgs+=(openssh-client)
command -v sudo >/dev/null 2>&1 || need_pkgs+=(sudo)
# unarchive's and git's tests drive the host's own tar, unzip and git.
command -v git >/dev/null 2>&1 || need_pkgs+=(git)
command -v zip >/dev/null 2>&1 || need_pkgs+=(zip)
command -v unzip >/dev/null 2>&1 || need_pkgs+=(unzip)
command -v xz >/dev/null 2>&1 || need_pkgs+=(xz-utils)
if ((${#need_pkgs[@]} > 0)); then
	if [ "$(id -u)" = 0 ]; then
		apt-get update -q
		DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${need_pkgs[@]}"
	else
		echo "test.sh: missing packages: ${need_pkgs[*]} (run as root or install them)" >&2
		exit 1
	fi
fi
if [ "$(id -u)" = 0 ]; then
	lab/install-deps.sh
fi
# Differential tests compare against PyYAML and Jinja2 (test tools only).
python3 -c 'import yaml, jinja2' 2>/dev/null ||
	python3 -m pip install --quiet --disable-pip-version-check pyyaml jinja2

# --- the lab --------------------------------------------------------------------
cleanup() { lab/lab down >/dev/null 2>&1 || true; }
trap cleanup EXIT
# compat targets that change a system run on lab hosts: node05 (file), node06 (copy),
# node07 (cron), node08 (systemd), node09 (lineinfile), node10 (service)
lab/lab up 10

# --- the tests --------------------------------------------------------------------
cargo build --workspace --all-targets
cargo test --workspace
lab/test.sh
# ansible-core's own integration targets that drover passes today must keep passing.
compat/run --tool drover --targets "$(grep -v '^#' compat/passing.txt | paste -sd, -)"
# The benchmark runner in its smoke mode (N = 2, one repetition, peers included) so it cannot
# rot; real measurements are taken on demand (bench/README.md).
bench/run --smoke --drover "$PWD/target/debug/drover"

