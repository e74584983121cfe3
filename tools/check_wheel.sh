#!/usr/bin/env bash
# Build the sdist and the wheel, install the wheel into a fresh virtual
# environment outside the source tree, and run README's quickstart there:
# what a user of another project gets from `pip install keras_wavegpt`.
# Then again beside an older supported Keras, which the install must keep.
#
#   tools/check_wheel.sh            # with constraints.txt, as CI does
#   CONSTRAINTS= tools/check_wheel.sh   # let pip pick within setup.cfg's ranges
#
# BACKEND (default jax) picks the install extra and KERAS_BACKEND.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
py=${PYTHON:-.venv/bin/python}
backend=${BACKEND:-jax}
constraints=${CONSTRAINTS-$root/constraints.txt}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

"$py" -m pip install -q build
"$py" -m build -q --sdist --wheel --outdir "$work/dist" . > "$work/build.log" 2>&1 \
  || { cat "$work/build.log"; exit 1; }
wheel=$(ls "$work"/dist/keras_wavegpt-*.whl)
ls "$work"/dist/keras_wavegpt-*.tar.gz > /dev/null
echo "built $(basename "$wheel") and its sdist"

python3.11 -m venv "$work/venv"
"$work/venv/bin/python" -m pip install -q --upgrade pip
"$work/venv/bin/python" -m pip install -q ${constraints:+-c "$constraints"} "$wheel[$backend]"

# Outside the source tree, so that only the installed wheel can be imported.
mkdir "$work/user"
"$py" -c 'import re, sys
print("\n".join(re.findall(r"```python\n(.*?)```", open(sys.argv[1]).read(), re.S)))' \
  README.md > "$work/user/quickstart.py"
cd "$work/user"
quickstart() {
  rm -rf my_wavegpt
  KERAS_BACKEND=$backend OMP_NUM_THREADS=1 "$work/venv/bin/python" - <<'EOF'
import importlib.metadata as metadata
import os

import keras
import keras_wavegpt

assert "site-packages" in keras_wavegpt.__file__, keras_wavegpt.__file__
assert keras_wavegpt.__version__ == metadata.version("keras_wavegpt")
licenses = [f for f in metadata.files("keras_wavegpt") if f.name == "LICENSE"]
assert licenses, "the wheel carries no LICENSE"
exec(compile(open("quickstart.py").read(), "README.md", "exec"), {})
assert os.path.isdir("my_wavegpt")
print(f"keras_wavegpt {keras_wavegpt.__version__} from the wheel ran README's quickstart "
      f"on keras {keras.__version__}")
EOF
}
quickstart

# Beside another supported Keras (OTHER_KERAS, default the oldest allowed
# release): installing the wheel keeps the user's Keras.
other=${OTHER_KERAS:-3.15.0}
"$work/venv/bin/python" -m pip install -q "keras==$other"
"$work/venv/bin/python" -m pip install -q "$wheel[$backend]"
"$work/venv/bin/python" -c "import keras, sys; assert keras.__version__ == sys.argv[1], \
  f'installing the wheel replaced keras {sys.argv[1]} with {keras.__version__}'" "$other"
quickstart
