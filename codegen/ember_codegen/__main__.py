"""Runs ember-codegen as `python3 -m ember_codegen`."""

import sys

from ember_codegen.cli import main

sys.exit(main(sys.argv[1:]))
