#!/usr/bin/env bash
# Gradescope runs this once, as root, when it builds the autograder's image
# (Ubuntu with python3) from the uploaded zip, unpacked in /autograder/source.
# It installs the course into its own virtualenv, creates the unprivileged user
# that grading runs as, and fetches MNIST so grading needs no network.
set -euo pipefail

ROOT="${AUTOGRADER_ROOT:-/autograder}"
SOURCE="$ROOT/source"
VENV="$ROOT/venv"

export DEBIAN_FRONTEND=noninteractive
apt-get update
apt-get install -y --no-install-recommends python3 python3-venv python3-pip

python3 -m venv "$VENV"
"$VENV/bin/python" -m pip install --upgrade pip
# requirements.txt is pyproject.toml's dependencies, written by build_zip.py:
# pin versions there to grade with exactly the versions you tested.
"$VENV/bin/python" -m pip install -r "$SOURCE/requirements.txt"
"$VENV/bin/python" -m pip install --no-deps -e "$SOURCE"

# Grading (and the student's code inside it) runs as this user, never as root.
if ! id -u mnist-grading >/dev/null 2>&1; then
    useradd --system --no-create-home --shell /usr/sbin/nologin mnist-grading
fi

# Official MNIST through Keras, its sha256 verified, into $ROOT/data/mnist.npz,
# which run_autograder hands to the grader. Without it (no network here) the
# grader downloads MNIST itself at every submission.
if [ -z "${MNIST_COURSE_DATA:-}" ]; then
    mkdir -p "$ROOT/data"
    "$VENV/bin/python" - "$ROOT/data" <<'EOF' || echo "setup.sh: could not fetch MNIST now; grading will download it" >&2
import shutil, sys
import keras
from mnist_course.data import KERAS_MNIST_SHA256, KERAS_MNIST_URL, load_mnist

cached = keras.utils.get_file("mnist.npz", origin=KERAS_MNIST_URL, file_hash=KERAS_MNIST_SHA256)
target = f"{sys.argv[1]}/mnist.npz"
shutil.copyfile(cached, target)
print(load_mnist(target).provenance.describe())
EOF
    chmod -R a+rX "$ROOT/data"
fi

# The grading user reads the course, its virtualenv and the data; it writes none of them.
chmod o+x "$ROOT"
chmod -R a+rX "$SOURCE" "$VENV"
chmod 755 "$SOURCE/run_autograder"
