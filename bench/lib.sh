# Helpers the bench/*.sh scripts share (sourced, not run).

# A free loopback port.
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
# Waits until a URL answers 2xx (60 s at most).
wait_http() { for _ in $(seq 1 300); do curl -sf -o /dev/null "$1" && return 0; sleep 0.2; done; echo "no answer from $1" >&2; return 1; }
# CPU clock ticks (user + system) a process has used.
cpu_ticks() { awk '{print $14+$15}' "/proc/$1/stat"; }
# Resident memory of a process, KiB.
rss_kb() { awk '/VmRSS/{print $2}' "/proc/$1/status"; }
# The machine, for result files.
machine() { echo "$(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)), $(free -g | awk '/Mem:/{print $2}') GiB RAM"; }
