#!/bin/sh
# Prints its working directory and the variables a check sets or must not see.
echo "dir=$(pwd) greeting=$GREETING lang=$LANG home=${HOME:-unset}"
