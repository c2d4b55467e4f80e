#!/bin/sh
# Exits with status $1 after reading standard input and writing a line, and
# then $2 more bytes, to standard error.
cat > /dev/null
echo "mail relay said no" >&2
if [ -n "$2" ]; then
	head -c "$2" /dev/zero | tr '\0' x >&2
fi
exit "$1"
