#!/bin/sh
# Every form of performance data the guidelines allow, over several lines:
# quoted labels with a space and an escaped quote, units, empty and missing
# fields, ranges, and data after the "|" of a later line of long text.
echo "DISK OK - free space: / 3326 MB (56%); | /=2643MB;5948;5958;0;5968 'tmp dir'=12%;80;90"
echo "/ 15272 MB (77%);"
echo "/boot 68 MB (69%); | 'it''s'=5s;@5:10;~:20;; latency=250ms;10:200;;0"
echo "bytes=1024B;;;0; kb=3KB sent=42c empty=;;;; undetermined=U;1;2"
echo "/home=69357MB;;;0;87329"
