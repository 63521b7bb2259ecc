#!/usr/bin/env bash
# expect_fail.sh PATTERN CMD...: passes when CMD exits non-zero AND its output matches PATTERN
# (the error names the option and the fix), and CMD left no *.partial or final output behind.
# With EXPECT_UNCHANGED="FILE ..." in the environment it also checks that those files (an
# existing model or checkpoint) are byte-for-byte unchanged by the failed run, and with
# EXPECT_ABSENT="FILE ..." that the run left none of those (its output, OUTPUT.partial).
pattern=$1; shift
declare -A sum
for f in ${EXPECT_UNCHANGED:-}; do
  [ -f "$f" ] || { echo "expect_fail: $f does not exist before the run"; exit 1; }
  sum[$f]=$(md5sum < "$f")
done
out=$("$@" 2>&1); rc=$?
echo "$out" | tail -n 15
if [ $rc -eq 0 ]; then echo "expect_fail: command succeeded but should have failed"; exit 1; fi
if ! echo "$out" | grep -qE -- "$pattern"; then echo "expect_fail: output does not match /$pattern/"; exit 1; fi
for f in ${EXPECT_UNCHANGED:-}; do
  if [ "$(md5sum < "$f")" != "${sum[$f]}" ]; then echo "expect_fail: $f was modified by the failed run"; exit 1; fi
  echo "expect_fail: $f unchanged"
done
for f in ${EXPECT_ABSENT:-}; do
  if [ -e "$f" ]; then echo "expect_fail: the failed run left $f behind"; exit 1; fi
done
echo "expect_fail: exit status $rc and message matches /$pattern/"
