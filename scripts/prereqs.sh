# The commands a script runs, checked before it starts (sourced, not run).
#
#   . scripts/prereqs.sh
#   prereqs_missing ip:iproute2 ping:iputils-ping python3:python3
#
# Each argument is COMMAND:DEBIAN-PACKAGE. `prereqs_missing` prints the
# packages whose command is not on PATH (space-separated, each once) and
# returns 1 when there are any. `prereqs_install` installs them with apt-get
# when running as root on a machine that has it, and returns 0 when nothing
# is missing afterwards.

prereqs_missing() {
    local spec cmd pkg missing=()
    for spec in "$@"; do
        cmd="${spec%%:*}"
        pkg="${spec#*:}"
        if ! command -v "$cmd" >/dev/null 2>&1; then
            case " ${missing[*]} " in *" $pkg "*) ;; *) missing+=("$pkg") ;; esac
        fi
    done
    [ "${#missing[@]}" -eq 0 ] && return 0
    echo "${missing[*]}"
    return 1
}

# Installs what `prereqs_missing` reports for the same arguments, where it
# can (root and apt-get). Prints what it does on stderr.
prereqs_install() {
    local missing
    missing=$(prereqs_missing "$@") && return 0
    if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
        return 1
    fi
    echo "installing: $missing" >&2
    # shellcheck disable=SC2086 # one word per package
    apt-get update -q >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -q $missing >&2 || return 1
    prereqs_missing "$@" >/dev/null
}
