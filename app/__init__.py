"""ProcessLens: assess how ML-enabled software teams work and recommend what to improve."""

__version__ = "0.1.0"
