"""Stand-in for the get-pip.py that ansible-test downloads, for machines that reach PyPI but not that host.

ansible-test runs it inside each fresh sanity virtualenv with pip's install
arguments; this installs pip from the interpreter's own ensurepip and then
installs what was asked for from the configured package index.
"""

import subprocess
import sys

GET_PIP_ONLY_FLAGS = ("--no-setuptools", "--no-wheel")


def main():
    args = [arg for arg in sys.argv[1:] if arg not in GET_PIP_ONLY_FLAGS]
    subprocess.check_call([sys.executable, "-m", "ensurepip", "--upgrade", "--default-pip"])
    return subprocess.call([sys.executable, "-m", "pip", "install"] + args)


if __name__ == "__main__":
    sys.exit(main())
