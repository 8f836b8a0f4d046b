#!/bin/sh
# Prints every *.dat light-curve file of DIR as one line of COPY text format:
#   objid <TAB> content
# objid is the last run of digits in the file's name (FAKE00042.dat -> 42);
# the content's backslashes, tabs, carriage returns and newlines are escaped.
# Used by the regression tests to load the shipped data from the client side
# (psql's \copy ... FROM PROGRAM), since the server may not read the sources.
set -eu
if [ $# -ne 1 ]; then
    echo "usage: $0 DIR" >&2
    exit 2
fi
# The glob sorts by name; LC_ALL=C makes that order the same everywhere.
LC_ALL=C
export LC_ALL
# Escaping splits and joins rather than gsub(): awks differ on backslashes in
# gsub replacements.
awk '
function replace(s, re, by,    parts, n, i, r) {
    n = split(s, parts, re)
    r = parts[1]
    for (i = 2; i <= n; i++)
        r = r by parts[i]
    return r
}
function flush() {
    if (name == "")
        return
    printf "%s\t%s\n", objid, content
}
FNR == 1 {
    flush()
    name = FILENAME
    sub(/.*\//, "", name)
    rest = name
    objid = ""
    while (match(rest, /[0-9]+/)) {
        objid = substr(rest, RSTART, RLENGTH)
        rest = substr(rest, RSTART + RLENGTH)
    }
    sub(/^0+/, "", objid)
    if (objid == "")
        objid = "0"
    content = ""
}
{
    line = replace($0, "\\\\", "\\\\")
    line = replace(line, "\t", "\\t")
    line = replace(line, "\r", "\\r")
    content = content line "\\n"
}
END { flush() }
' "$1"/*.dat
