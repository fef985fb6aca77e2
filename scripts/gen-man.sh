#!/usr/bin/env bash
# gen-man.sh SYNACK_BIN OUTDIR VERSION: the man pages of the tool, made from
# its own --help texts so that they never disagree with it: synack(1) with
# the list of commands, and synack-COMMAND(1) for each command that
# `synack --help` lists.
set -euo pipefail
bin=$1 out=$2 version=$3
mkdir -p "$out"
# roff-escape a help text and keep its layout (.nf: no filling).
body() {
    echo ".nf"
    sed -e 's/\\/\\e/g' -e 's/^\./\\\&./' -e "s/^'/\\\\\&'/" -e 's/-/\\-/g'
    echo ".fi"
}
date=$(date -u -d "@${SOURCE_DATE_EPOCH:-0}" +%Y-%m-%d 2>/dev/null || echo 1970-01-01)
cmds=$("$bin" --help | awk '/^commands:/ {on = 1; next} on && /^  [a-z]/ {print $1} on && /^$/ {on = 0}')
{
    echo ".TH SYNACK 1 \"$date\" \"synack $version\" \"User Commands\""
    echo ".SH NAME"
    echo "synack \\- a userspace TCP/IPv4 stack: demo, packet scripts, servers and clients on TUN/TAP"
    echo ".SH SYNOPSIS"
    echo ".B synack"
    echo "COMMAND [OPTIONS]"
    echo ".SH DESCRIPTION"
    "$bin" --help | body
    echo ".SH SEE ALSO"
    for c in $cmds; do echo ".BR synack\\-$c (1),"; done
    echo ".BR pkg\\-config (1)"
} > "$out/synack.1"
for c in $cmds; do
    {
        echo ".TH SYNACK\\-${c^^} 1 \"$date\" \"synack $version\" \"User Commands\""
        echo ".SH NAME"
        echo "synack\\-$c \\- $("$bin" --help | awk -v c="$c" '$1 == c {$1 = ""; sub(/^ /, ""); print}')"
        echo ".SH DESCRIPTION"
        "$bin" "$c" --help | body
        echo ".SH SEE ALSO"
        echo ".BR synack (1)"
    } > "$out/synack-$c.1"
done
