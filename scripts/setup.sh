#!/usr/bin/env bash
# One-stop, idempotent set-up of a Debian/Ubuntu machine for facmon: Python >= 3.11 with venv, the Mosquitto
# and InfluxDB 1.x servers the tests run for real, and the project's .venv. Safe to run before every build:
# once everything is in place it only checks and returns.
set -euo pipefail

cd "$(dirname "$0")/.."
# Debian installs mosquitto in /usr/sbin, which a non-root PATH may lack.
export PATH="/usr/local/sbin:/usr/sbin:/sbin:$PATH"

say() { echo "setup: $*"; }
is_root() { [ "$(id -u)" -eq 0 ]; }

APT_UPDATED=0
apt_install() {
    # Refresh the package lists once per run, then install.
    if [ "$APT_UPDATED" -eq 0 ]; then
        apt-get update -qq
        APT_UPDATED=1
    fi
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@"
}

# --- Python >= 3.11 ------------------------------------------------------------------------------------------
python_ok() { "$1" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; }

PYTHON=""
# The distribution's own Python first: Debian builds it with PGO and LTO, and the ingester runs about a third
# faster on it than on a plain source build (bench/ingest.py).
for candidate in /usr/bin/python3 python3 python3.13 python3.12 python3.11; do
    if command -v "$candidate" >/dev/null && python_ok "$candidate"; then
        PYTHON="$candidate"
        break
    fi
done
if [ -z "$PYTHON" ]; then
    if is_root && ! command -v python3 >/dev/null; then
        say "installing Python 3 from Debian packages…"
        apt_install python3 python3-venv
        python_ok python3 && PYTHON=python3
    fi
    if [ -z "$PYTHON" ]; then
        echo "setup: Python >= 3.11 is required (found: $(python3 --version 2>&1 || echo none))." >&2
        echo "setup: install python3.11 (or newer) with its venv module and run this again." >&2
        exit 1
    fi
fi

# --- Mosquitto and InfluxDB 1.x ------------------------------------------------------------------------------
SERVER_PACKAGES=(mosquitto mosquitto-clients influxdb influxdb-client)
missing=()
for bin in mosquitto mosquitto_pub mosquitto_passwd influxd; do
    command -v "$bin" >/dev/null || missing+=("$bin")
done
if [ "${#missing[@]}" -gt 0 ]; then
    if ! is_root; then
        echo "setup: missing ${missing[*]}; install them with:" >&2
        echo "  sudo apt-get update && sudo apt-get install -y ${SERVER_PACKAGES[*]}" >&2
        exit 1
    fi
    say "installing Mosquitto and InfluxDB from Debian packages…"
    apt_install "${SERVER_PACKAGES[@]}"
    # On a machine with an init system the packages start system services on the default ports 1883/8086;
    # facmon's tests and demo start servers of their own on free ports, so those are neither used nor in the way.
    for bin in "${missing[@]}"; do
        command -v "$bin" >/dev/null || { echo "setup: $bin still missing after install" >&2; exit 1; }
    done
fi

# --- a CJK font for the charts; what the report test renders with (CI) -------------------------------------------
# The evidence report's charts (matplotlib) and its first page as Chromium draws it need a CJK font, or Chinese
# comes out as boxes: set-up installs Noto Sans CJK when it runs as root (otherwise it says how, and goes on: the
# report still works). Chromium only under CI, which must run the render test; elsewhere that test is skipped
# without it (tests.conftest.server_missing).
has_cjk_font() { command -v fc-list >/dev/null && [ -n "$(fc-list :lang=zh family)" ]; }
if [ "${CI:-}" != "true" ] && ! has_cjk_font; then
    if is_root; then
        say "installing fonts-noto-cjk from Debian packages (Chinese in the report's charts)…"
        apt_install fonts-noto-cjk
    else
        say "no CJK font: the report's charts will draw Chinese as boxes; install one with:"
        say "  sudo apt-get update && sudo apt-get install -y fonts-noto-cjk"
    fi
fi
if [ "${CI:-}" = "true" ]; then
    render=()
    command -v chromium >/dev/null || render+=(chromium)
    has_cjk_font || render+=(fonts-noto-cjk)
    if [ "${#render[@]}" -gt 0 ]; then
        if ! is_root; then
            echo "setup: CI=true needs ${render[*]}; install them with:" >&2
            echo "  sudo apt-get update && sudo apt-get install -y ${render[*]}" >&2
            exit 1
        fi
        say "installing ${render[*]} from Debian packages (CI renders the report)…"
        apt_install "${render[@]}"
    fi
fi

# --- the project's virtualenv --------------------------------------------------------------------------------
if [ ! -x .venv/bin/python ]; then
    if ! "$PYTHON" -c 'import ensurepip, venv' 2>/dev/null; then
        venv_pkg="python3-venv"
        case "$PYTHON" in python3|/usr/bin/python3) ;; *) venv_pkg="${PYTHON}-venv" ;; esac
        if ! is_root; then
            echo "setup: $PYTHON has no venv module; install it with: sudo apt-get install -y $venv_pkg" >&2
            exit 1
        fi
        say "installing $venv_pkg…"
        apt_install "$venv_pkg"
    fi
    say "creating .venv with $("$PYTHON" --version)…"
    "$PYTHON" -m venv .venv
fi

STAMP=.venv/.facmon-installed
if [ ! -f "$STAMP" ] || [ pyproject.toml -nt "$STAMP" ]; then
    say "installing facmon and its dev tools into .venv…"
    .venv/bin/pip install -q -e ".[dev]"
    touch "$STAMP"
fi

say "ready ($(.venv/bin/python --version), $(mosquitto -h 2>/dev/null | head -1 | sed 's/ is an.*//'), InfluxDB $(influxd version 2>/dev/null | awk '{print $2}'))"
