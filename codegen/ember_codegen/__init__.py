"""ember-codegen: turns an ember schema (TOML) into C++ messages, codecs, handler interfaces
and client stubs.

The front end (`frontend`) reads and validates a schema into a model; the back end (`backend`)
renders the model through the Jinja2 templates in ../templates; `cli` is the command line.
"""

#: The generator's version: ember's version (include/ember/version.hpp, top meson.build).
__version__ = "0.1.0"

#: The contract between generated code and include/ember/codec/ (EMBER_CODEGEN_ABI).
CODEGEN_ABI = 3
