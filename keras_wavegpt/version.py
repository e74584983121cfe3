"""The package's version, as its installed metadata gives it."""

from importlib import metadata

try:
    VERSION = metadata.version("keras_wavegpt")
except metadata.PackageNotFoundError:  # imported from a source tree never installed
    VERSION = "0+unknown"
