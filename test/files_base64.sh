#!/bin/sh
# Prints every file FILE... as one line of COPY text format:
#   name <TAB> content in base64
# name is the file's name without its directory.  Used by the regression
# tests to load binary test files (alert packets) from the client side
# (psql's \copy ... FROM PROGRAM), since the server may not read the sources.
set -eu
if [ $# -eq 0 ]; then
    echo "usage: $0 FILE..." >&2
    exit 2
fi
for f in "$@"; do
    printf '%s\t%s\n' "$(basename "$f")" "$(base64 -w0 "$f")"
done
