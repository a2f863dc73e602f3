#!/bin/sh
# Spark ML's native BLAS (issue 29): OpenBLAS from the system's packages, installed where this user may install them.
# Without it Spark ML trains with the JDK's Vector API, 1.7x slower on EuroSAT's 27,000 images (README, Training
# speed); a reference BLAS (Debian's libblas3, which GDAL pulls in) is skipped by aerial_nb.spark either way.
# Never fails the install: a machine without OpenBLAS still trains, and says which BLAS it used (environment.json).
if ldconfig -p 2>/dev/null | grep -q 'libopenblas\.so\.0'; then exit 0; fi
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -qq libopenblas0-pthread >/dev/null 2>&1 \
    || { apt-get update -qq && apt-get install -y -qq libopenblas0-pthread >/dev/null; } \
    || echo "note: apt-get could not install libopenblas0-pthread: Spark ML trains with the JDK's Vector API."
else
  echo "note: no OpenBLAS on this machine: Spark ML trains with the JDK's Vector API. For 1.7x faster training:" \
       "sudo apt-get install libopenblas0-pthread (Debian, Ubuntu) or your system's OpenBLAS package."
fi
exit 0
