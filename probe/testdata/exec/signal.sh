#!/bin/sh
# Dies by a signal instead of exiting.
echo "about to die"
kill -TERM $$
sleep 5
