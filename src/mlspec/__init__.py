"""mlspec: a declarative spec compiler for ML platforms."""

__version__ = "0.1.0"
